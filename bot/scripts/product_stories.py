"""Builds actions/product_stories.json, what actions/product_model.py learns from, and judges the decision.

The stories are those of the held-out Chinese sets in bench/intake_eval measured before the model was made
(TRAINED_ON); the sets written after them (HELD_OUT) judge it and stay out of it, as do the evaluation's own
customers (customers_zh.json, customers_en.json).

    bot/.venv/bin/python bot/scripts/product_stories.py           # write actions/product_stories.json
    bot/.venv/bin/python bot/scripts/product_stories.py --check   # cross-validate, one set left out at a time

``--check`` prints, over the training stories, how many the rules alone decide and get wrong, and the same
for the rules checked by a model learnt without the story's own set; then both over the held-out sets' stories.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

BOT = Path(__file__).resolve().parents[1]
SETS = BOT.parent / "bench" / "intake_eval"
sys.path.insert(0, str(BOT))

from actions.extract import product_in_story  # noqa: E402
from actions.product_model import STORIES, fit, story_product  # noqa: E402

TRAINED_ON = (
    "fresh", "second", "final", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth", "eleventh",
    "twelfth", "thirteenth", "fourteenth", "fifteenth", "sixteenth", "seventeenth", "eighteenth", "nineteenth",
    "twentieth", "twentyfirst", "twentysecond",
)
HELD_OUT = ("twentythird", "twentyfourth")


def stories(names: tuple[str, ...]) -> list[dict[str, str]]:
    """Each customer's story and product, with the set it comes from."""
    found = []
    for name in names:
        for customer in json.loads((SETS / f"customers_zh_{name}.json").read_text(encoding="utf-8")):
            found.append({"set": name, "text": customer["facts"]["story"], "product": customer["facts"]["product"]})
    return found


def tally(decisions: list[str | None], truth: list[str]) -> str:
    decided = [(d, t) for d, t in zip(decisions, truth, strict=True) if d is not None]
    return f"decide {len(decided)} of {len(truth)}, wrong {sum(d != t for d, t in decided)}"


def check(training: list[dict[str, str]]) -> None:
    truth = [s["product"] for s in training]
    by_words = [product_in_story(s["text"]) for s in training]
    print("rules alone:         ", tally([f[0] if f else None for f in by_words], truth))
    decisions: list[str | None] = []
    for name in TRAINED_ON:
        model = fit([s for s in training if s["set"] != name])
        for s in training:
            if s["set"] == name:
                found = story_product(s["text"], model)
                decisions.append(found[0] if found else None)
    print("rules and the model: ", tally(decisions, truth))
    judging = stories(HELD_OUT)
    truth = [s["product"] for s in judging]
    by_words = [product_in_story(s["text"]) for s in judging]
    print(f"held out ({', '.join(HELD_OUT)}), learnt from all the others:")
    print("rules alone:         ", tally([f[0] if f else None for f in by_words], truth))
    decided = [story_product(s["text"]) for s in judging]
    print("rules and the model: ", tally([f[0] if f else None for f in decided], truth))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="cross-validate instead of writing the file")
    args = parser.parse_args()
    training = stories(TRAINED_ON)
    if args.check:
        check(training)
        return
    rows = [{"text": s["text"], "product": s["product"]} for s in training]
    content = {"trained_on": list(TRAINED_ON), "stories": rows}
    STORIES.write_text(json.dumps(content, ensure_ascii=False, indent=0) + "\n", encoding="utf-8")
    print(f"{len(rows)} stories of {len(TRAINED_ON)} sets written to {STORIES.relative_to(BOT)}")


if __name__ == "__main__":
    main()
