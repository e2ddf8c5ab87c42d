"""Email parsing speed: ``channels.email.parse.parse`` against Python's email package alone.

The anchor is what a gateway without this module would do: ``BytesParser(policy=policy.default)`` and
``get_body()`` on every message of ``../shared/corpus/email/``. Both run over the whole corpus, many rounds,
interleaved in the same process, and the median round of each is compared. ``parse`` does more work (it
decodes every part, converts HTML, splits replies, classifies machine mail), so a small ratio is the goal,
not parity.

    python -m bench.email_parse [ROUNDS]
"""

from __future__ import annotations

import contextlib
import statistics
import sys
import time
from collections.abc import Callable
from email import policy
from email.parser import BytesParser
from pathlib import Path

from channels.email.parse import parse

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "email"
GOAL = 3.0


def stdlib_body(raw: bytes) -> None:
    message = BytesParser(policy=policy.default).parsebytes(raw)
    message.get_body(("plain", "html"))


def stdlib_text(raw: bytes) -> None:
    message = BytesParser(policy=policy.default).parsebytes(raw)
    body = message.get_body(("plain", "html"))
    if body is not None:
        with contextlib.suppress(LookupError, ValueError, AssertionError):  # unknown charsets, broken payloads
            body.get_content()


def ours(raw: bytes) -> None:
    parse(raw)


def one_round(work: Callable[[bytes], None], messages: list[bytes]) -> float:
    start = time.perf_counter()
    for raw in messages:
        work(raw)
    return time.perf_counter() - start


def main(rounds: int) -> int:
    if not CORPUS.is_dir():
        print(f"no corpus at {CORPUS}: nothing to measure")
        return 1
    messages = [p.read_bytes() for p in sorted(CORPUS.rglob("*.eml"))]
    contenders: dict[str, Callable[[bytes], None]] = {
        "stdlib: parse + get_body (anchor)": stdlib_body,
        "stdlib: parse + get_body + get_content": stdlib_text,
        "channels.email.parse": ours,
    }
    for work in contenders.values():  # warm up: imports, regex compilation, codec lookups
        one_round(work, messages)
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, work in contenders.items():
            times[name].append(one_round(work, messages))

    anchor = statistics.median(times["stdlib: parse + get_body (anchor)"])
    size = sum(len(m) for m in messages)
    print(f"{len(messages)} messages, {size / 1024:.0f} KiB, {rounds} rounds (median round)")
    print(f"{'':42} {'ms/round':>9} {'us/message':>11} {'vs anchor':>10}")
    for name, samples in times.items():
        median = statistics.median(samples)
        print(f"{name:42} {median * 1e3:9.1f} {median / len(messages) * 1e6:11.0f} {median / anchor:10.2f}")
    ratio = statistics.median(times["channels.email.parse"]) / anchor
    print(f"email parse vs stdlib: ratio {ratio:.2f} (goal <= {GOAL:g})")
    return 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 30))
