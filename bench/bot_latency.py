"""Bot turn latency across one long conversation: turn 60 against turn 1.

Rasa's work per turn grows with the conversation's tracker (every event is replayed, featurized and sent to
the action server), which is why the gateway starts a new Rasa conversation for each complaint intake.
This benchmark holds 60 turns in a single conversation, each a complete complaint in one message (the
heaviest turn: every field is read and checked, the form starts and ends, the record is sent), so turn 1
and turn 60 do the same work and differ only in the history behind them.

    .venv/bin/python -m bench.bot_latency                        # starts Rasa and the action server
    .venv/bin/python -m bench.bot_latency --rasa-url http://127.0.0.1:5005   # reuses running ones

The last line is the ratio of turn 60's median latency to turn 1's (goal <= 1.5).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import urllib.request
import uuid

from gateway import supervisor
from gateway.embedded_redis import free_port

TURNS = 60
GOAL = 1.5
# Rotated so that turns 1-5 and 56-60 say the same five things.
MESSAGES = [
    ("zh", "我要投诉，我叫王芳，电话13912345678，资金账号880012345，"
           "昨天下午3点在上海浦东营业部，客户经理推荐的理财产品亏了三成，希望你们给个说法"),
    ("en", "Hi, I am Tom Baker, my number is +44 7700 900987 and my account number is 55667788. Last Friday my margin "
           "account was liquidated without any margin call. I want compensation for my loss."),
    ("zh", "我叫李雷，手机13700001111，上周三APP转账失败了三次，钱一直没到账，希望尽快把钱退回来"),
    ("en", "My name is Amy Ho, email amy.ho@example.com. Yesterday the trading app charged me a commission twice for "
           "one trade. Please refund the extra commission."),
    ("zh", "我叫陈静，电话18688889999，上个月15号的分红到现在都没有到账，希望尽快发放"),
]


def turn(url: str, sender: str, text: str, language: str) -> float:
    """Seconds for one REST webhook turn; fails if the bot did not complete the record."""
    body = json.dumps({"sender": sender, "message": text,
                       "metadata": {"language": language, "channel": "webchat",
                                    "contact": {"name": None, "phone": None, "email": None}}}).encode()
    request = urllib.request.Request(url + "/webhooks/rest/webhook", body, {"Content-Type": "application/json"})
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=60) as response:
        answer = json.load(response)
    elapsed = time.perf_counter() - started
    if not any((m.get("custom") or {}).get("event") == "case_ready" for m in answer):
        raise SystemExit(f"the bot did not complete the record for {text[:30]!r}: {answer}")
    return elapsed


def conversation(url: str, turns: int) -> list[float]:
    sender = f"bench-{uuid.uuid4().hex}"
    return [turn(url, sender, *reversed(MESSAGES[i % len(MESSAGES)])) for i in range(turns)]


def measure(url: str, runs: int, turns: int) -> list[float]:
    """Per turn, the median latency over `runs` conversations (after a warm-up conversation)."""
    conversation(url, len(MESSAGES))
    latencies = [conversation(url, turns) for _ in range(runs)]
    return [statistics.median(run[i] for run in latencies) for i in range(turns)]


def report(per_turn: list[float]) -> float:
    turns = len(per_turn)
    first, last = per_turn[:5], per_turn[-5:]
    print(f"{'turn':>6}{'median ms':>12}")
    for i in [*range(5), *range(turns - 5, turns)]:
        print(f"{i + 1:>6}{1000 * per_turn[i]:>12.1f}")
    print(f"median of turns 1-5: {1000 * statistics.median(first):.1f} ms; "
          f"turns {turns - 4}-{turns}: {1000 * statistics.median(last):.1f} ms; "
          f"ratio {statistics.median(last) / statistics.median(first):.2f}")
    ratio = per_turn[-1] / per_turn[0]
    print(f"bot turn {turns} vs turn 1: ratio {ratio:.2f} (goal <= {GOAL})")
    return ratio


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rasa-url", help="a running Rasa server (with its action server) to measure instead")
    parser.add_argument("--runs", type=int, default=5, help="conversations to take the median over (default 5)")
    args = parser.parse_args()
    if args.rasa_url:
        per_turn = measure(args.rasa_url.rstrip("/"), args.runs, TURNS)
        report(per_turn)
        return 0
    supervisor.ensure_model()
    processes = supervisor.Processes()
    rasa_port, actions_port = free_port(), free_port()
    log_dir = supervisor.ROOT / "var" / "bench"
    try:
        supervisor.start_bot(rasa_port, actions_port, log_dir, processes)
        endpoints = (log_dir / f"endpoints-{rasa_port}.yml").read_text()
        if "tracker_store" not in endpoints:
            print("note: this Rasa server keeps every event of a conversation (Rasa's default tracker store); the "
                  "bot's endpoints.yml keeps only the current intake (components/tracker_store.py)", flush=True)
        print(f"{args.runs} conversations of {TURNS} turns, each turn a complete complaint in one message", flush=True)
        per_turn = measure(f"http://127.0.0.1:{rasa_port}", args.runs, TURNS)
    finally:
        processes.stop()
    report(per_turn)
    return 0


if __name__ == "__main__":
    sys.exit(main())
