"""Writes the Traditional Chinese variant of every Chinese response in domain.yml (OpenCC, s2tw).

Each response has three variants: Simplified Chinese (``language: zh``, ``script: Hans``), Traditional Chinese
(``language: zh``, ``script: Hant``) and English (no condition). Edit the Simplified and English texts by hand,
then run from bot/ with the bot's environment:

    .venv/bin/python scripts/traditional_responses.py          # rewrite the Hant variants
    .venv/bin/python scripts/traditional_responses.py --check  # exit 1 if one is missing or out of date

tests/test_actions.py checks that every Hant variant is the conversion of its Simplified one.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

BOT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BOT_DIR))

from actions.chinese import to_traditional  # noqa: E402

DOMAIN = BOT_DIR / "domain.yml"
_ZH = ["    - condition:", "        - type: slot", "          name: language", "          value: zh"]
_SCRIPT = ["        - type: slot", "          name: script", "          value: {script}"]


def _variants(lines: list[str]) -> list[tuple[int, int]]:
    """(first, end) line numbers of each response variant: a "    - " line and the deeper lines under it."""
    spans, i = [], 0
    while i < len(lines):
        if lines[i].startswith("    - "):
            j = i + 1
            while j < len(lines) and lines[j].startswith("      "):
                j += 1
            spans.append((i, j))
            i = j
        else:
            i += 1
    return spans


def with_traditional(domain: str) -> str:
    """domain.yml with each Simplified Chinese variant followed by its Traditional one (old ones replaced)."""
    lines = domain.split("\n")
    hans = _ZH + [line.format(script="Hans") for line in _SCRIPT]
    hant = _ZH + [line.format(script="Hant") for line in _SCRIPT]
    out: list[str] = []
    position = 0
    for first, end in _variants(lines):
        out += lines[position:first]
        variant = lines[first:end]
        position = end
        if variant[: len(hant)] == hant:
            continue  # written again below, from the Simplified one
        if variant[: len(_ZH)] == _ZH:
            body = variant[len(hans):] if variant[: len(hans)] == hans else variant[len(_ZH):]
            out += hans + body + hant + [to_traditional(line) for line in body]
        else:
            out += variant
    out += lines[position:]
    return "\n".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="exit 1 if domain.yml is not up to date")
    args = parser.parse_args()
    current = DOMAIN.read_text(encoding="utf-8")
    wanted = with_traditional(current)
    if args.check:
        if wanted != current:
            print("domain.yml: Traditional responses are missing or out of date; run scripts/traditional_responses.py")
            return 1
        return 0
    DOMAIN.write_text(wanted, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
