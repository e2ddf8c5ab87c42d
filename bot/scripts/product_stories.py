"""Builds actions/product_stories_<language>.json, what actions/product_model.py learns from, and judges the
decision.

The stories are those of the held-out sets in bench/intake_eval measured before the model learnt from them
(TRAINED_ON); the sets written after them (HELD_OUT) judge it and stay out of it, as do the evaluation's own
customers (customers_zh.json, customers_en.json).

    bot/.venv/bin/python bot/scripts/product_stories.py [--language zh|en]           # write the stories file
    bot/.venv/bin/python bot/scripts/product_stories.py [--language zh|en] --check   # cross-validate

``--check`` prints, over the training stories, how many the rules alone decide and get wrong, and the same
for the rules checked by a model learnt without the story's own set (one set left out at a time); then both
over the held-out sets' stories.
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
from actions.product_model import LANGUAGES, fit, stories_file, story_product  # noqa: E402

TRAINED_ON = {
    "zh": (
        "fresh", "second", "final", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth", "eleventh",
        "twelfth", "thirteenth", "fourteenth", "fifteenth", "sixteenth", "seventeenth", "eighteenth",
        "nineteenth", "twentieth", "twentyfirst", "twentysecond",
    ),
    "en": (
        "english_first", "english_second", "english_third", "english_fourth", "english_fifth", "english_sixth",
        "english_seventh", "english_eighth",
    ),
}
HELD_OUT = {"zh": ("twentythird", "twentyfourth"), "en": ("english_ninth", "english_tenth")}


def stories(language: str, names: tuple[str, ...]) -> list[dict[str, str]]:
    """Each customer's story and product, with the set it comes from."""
    found = []
    for name in names:
        for customer in json.loads((SETS / f"customers_{language}_{name}.json").read_text(encoding="utf-8")):
            found.append({"set": name, "text": customer["facts"]["story"], "product": customer["facts"]["product"]})
    return found


def tally(decisions: list[str | None], truth: list[str]) -> str:
    decided = [(d, t) for d, t in zip(decisions, truth, strict=True) if d is not None]
    return f"decide {len(decided)} of {len(truth)}, wrong {sum(d != t for d, t in decided)}"


def check(language: str, training: list[dict[str, str]]) -> None:
    truth = [s["product"] for s in training]
    by_words = [product_in_story(s["text"]) for s in training]
    print("rules alone:         ", tally([f[0] if f else None for f in by_words], truth))
    decisions: list[str | None] = []
    for name in TRAINED_ON[language]:
        model = fit([s for s in training if s["set"] != name], language)
        for s in training:
            if s["set"] == name:
                found = story_product(s["text"], model)
                decisions.append(found[0] if found else None)
    print("rules and the model: ", tally(decisions, truth))
    judging = stories(language, HELD_OUT[language])
    truth = [s["product"] for s in judging]
    by_words = [product_in_story(s["text"]) for s in judging]
    print(f"held out ({', '.join(HELD_OUT[language])}), learnt from all the others:")
    print("rules alone:         ", tally([f[0] if f else None for f in by_words], truth))
    model = fit(training, language)
    decided = [story_product(s["text"], model) for s in judging]
    print("rules and the model: ", tally([f[0] if f else None for f in decided], truth))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--language", choices=LANGUAGES, default="zh")
    parser.add_argument("--check", action="store_true", help="cross-validate instead of writing the file")
    args = parser.parse_args()
    training = stories(args.language, TRAINED_ON[args.language])
    if args.check:
        check(args.language, training)
        return
    rows = [{"text": s["text"], "product": s["product"]} for s in training]
    content = {"trained_on": list(TRAINED_ON[args.language]), "stories": rows}
    path = stories_file(args.language)
    path.write_text(json.dumps(content, ensure_ascii=False, indent=0) + "\n", encoding="utf-8")
    print(f"{len(rows)} stories of {len(TRAINED_ON[args.language])} sets written to {path.relative_to(BOT)}")


if __name__ == "__main__":
    main()
