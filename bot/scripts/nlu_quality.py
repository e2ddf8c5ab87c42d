"""NLU quality on the held-out test split: intent macro-F1 and entity F1 per language.

Run from bot/ with the bot's environment:

    .venv/bin/python scripts/nlu_quality.py                      # score models/complaint.tar.gz
    .venv/bin/python scripts/nlu_quality.py --check              # exit 1 below the floors
    .venv/bin/python scripts/nlu_quality.py --compare            # light pipeline vs DIET: train time,
                                                                 # accuracy, parse latency (a few minutes)

The held-out examples (tests/nlu_heldout_zh.yml, tests/nlu_heldout_en.yml) are never trained on; the
data checks below fail if one of them shows up in data/. Entity F1 counts an entity as found when its
type, start and end match the annotation exactly. The account-of-events decision (does the message tell
what happened? components/account_classifier.py) is scored on the blocks marked ``account: true``: F1 of
"tells what happened" against every other held-out example.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import re
import statistics
import sys
import tempfile
import time
import unicodedata
from collections import Counter
from pathlib import Path
from typing import Any

BOT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BOT_DIR))
os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

LANGUAGES = ("zh", "en")
HELDOUT = {lang: BOT_DIR / "tests" / f"nlu_heldout_{lang}.yml" for lang in LANGUAGES}
TRAINING = {lang: BOT_DIR / "data" / "nlu" / f"{lang}.yml" for lang in LANGUAGES}
FLOORS = {"intent_macro_f1": 0.90, "entity_f1": 0.85, "account_f1": 0.85}
MIN_TRAINING_EXAMPLES = 40
MIN_HELDOUT_SHARE = 0.20
DIET_EPOCHS = 40

LIGHT_CONFIG = BOT_DIR / "config.yml"
DIET_CONFIG = """
recipe: default.v1
language: zh
pipeline:
  - name: components.tokenizer.HalfwidthJiebaTokenizer
  - name: CountVectorsFeaturizer
    analyzer: word
  - name: CountVectorsFeaturizer
    analyzer: char_wb
    min_ngram: 1
    max_ngram: 4
  - name: DIETClassifier
    epochs: {epochs}
    entity_recognition: false
    constrain_similarities: true
    random_seed: 42
  - name: components.account_classifier.AccountOfEventsClassifier
  - name: components.record_entities.RecordEntityExtractor
  - name: FallbackClassifier
    threshold: 0.3
    ambiguity_threshold: 0.03
  - name: components.risk_intent.ThreatIsAComplaint
  - name: components.person_intent.AskingForAPersonSaysSo
policies: []
"""


def quiet() -> None:
    logging.disable(logging.WARNING)
    import warnings

    warnings.filterwarnings("ignore")
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.WARNING)


def load_examples(path: Path) -> list[Any]:
    from rasa.shared.nlu.training_data.loading import load_data

    return [m for m in load_data(str(path)).intent_examples]


def tells_what_happened(message: Any) -> bool:
    """The held-out label of the account-of-events decision: the example's block says ``account: true``."""
    metadata = message.get("metadata") or {}
    return bool(((metadata.get("intent") or {}) if isinstance(metadata, dict) else {}).get("account"))


def canonical(text: str) -> str:
    return re.sub(r"[\W_]+", "", unicodedata.normalize("NFKC", text).lower())


# ---------------------------------------------------------------------------------------------------
# The data itself

def data_checks() -> dict[str, Any]:
    """Examples per intent and language, the held-out share, and that no held-out example is trained on."""
    report: dict[str, Any] = {"training_counts": {}, "heldout_counts": {}, "overlap": [], "problems": []}
    training_texts: set[str] = set()
    total_train = total_heldout = 0
    for lang in LANGUAGES:
        train = load_examples(TRAINING[lang])
        heldout = load_examples(HELDOUT[lang])
        total_train += len(train)
        total_heldout += len(heldout)
        report["training_counts"][lang] = dict(Counter(m.get("intent") for m in train))
        report["heldout_counts"][lang] = dict(Counter(m.get("intent") for m in heldout))
        training_texts |= {canonical(m.get("text")) for m in train}
    for lang in LANGUAGES:
        for m in load_examples(HELDOUT[lang]):
            if canonical(m.get("text")) in training_texts:
                report["overlap"].append(m.get("text"))
    intents = set().union(*(c.keys() for c in report["training_counts"].values()))
    for lang in LANGUAGES:
        for intent in sorted(intents):
            count = report["training_counts"][lang].get(intent, 0)
            if count < MIN_TRAINING_EXAMPLES:
                report["problems"].append(f"{lang}/{intent}: {count} training examples (< {MIN_TRAINING_EXAMPLES})")
            if not report["heldout_counts"][lang].get(intent):
                report["problems"].append(f"{lang}/{intent}: no held-out examples")
    report["heldout_share"] = total_heldout / (total_train + total_heldout)
    if report["heldout_share"] < MIN_HELDOUT_SHARE:
        report["problems"].append(f"held-out share {report['heldout_share']:.2f} < {MIN_HELDOUT_SHARE}")
    if report["overlap"]:
        report["problems"].append(f"{len(report['overlap'])} held-out examples are also in data/")
    return report


# ---------------------------------------------------------------------------------------------------
# Scoring a model

def macro_f1(truth: list[str], predicted: list[str]) -> tuple[float, dict[str, float]]:
    per_intent = {}
    for label in sorted(set(truth)):
        tp = sum(1 for t, p in zip(truth, predicted, strict=True) if t == label and p == label)
        fp = sum(1 for t, p in zip(truth, predicted, strict=True) if t != label and p == label)
        fn = sum(1 for t, p in zip(truth, predicted, strict=True) if t == label and p != label)
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        per_intent[label] = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return statistics.mean(per_intent.values()), per_intent


def binary_scores(truth: list[bool], predicted: list[bool]) -> dict[str, float]:
    tp = sum(1 for t, p in zip(truth, predicted, strict=True) if t and p)
    fp = sum(1 for t, p in zip(truth, predicted, strict=True) if p and not t)
    fn = sum(1 for t, p in zip(truth, predicted, strict=True) if t and not p)
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    accuracy = sum(t == p for t, p in zip(truth, predicted, strict=True)) / len(truth) if truth else 1.0
    return {"precision": precision, "recall": recall, "f1": f1, "accuracy": accuracy, "support": tp + fn}


def entity_scores(expected: list[set[tuple[str, int, int]]], found: list[set[tuple[str, int, int]]]) -> dict[str, Any]:
    tp = sum(len(e & f) for e, f in zip(expected, found, strict=True))
    fp = sum(len(f - e) for e, f in zip(expected, found, strict=True))
    fn = sum(len(e - f) for e, f in zip(expected, found, strict=True))
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    by_type: dict[str, list[int]] = {}
    for e, f in zip(expected, found, strict=True):
        for kind in {x[0] for x in e | f}:
            counts = by_type.setdefault(kind, [0, 0, 0])
            counts[0] += len({x for x in e & f if x[0] == kind})
            counts[1] += len({x for x in f - e if x[0] == kind})
            counts[2] += len({x for x in e - f if x[0] == kind})
    return {"precision": precision, "recall": recall, "f1": f1, "support": tp + fn, "by_type": by_type}


async def score_model(model: Path, show_errors: bool = False) -> dict[str, Any]:
    from rasa.core.agent import Agent

    agent = Agent.load(str(model))
    results: dict[str, Any] = {}
    latencies: list[float] = []
    await agent.parse_message("warm up")
    for lang in LANGUAGES:
        truth, predicted, expected_entities, found_entities, errors = [], [], [], [], []
        told, heard = [], []
        for message in load_examples(HELDOUT[lang]):
            text = message.get("text")
            started = time.perf_counter()
            parsed = await agent.parse_message(text)
            latencies.append(time.perf_counter() - started)
            truth.append(message.get("intent"))
            predicted.append(parsed["intent"]["name"])
            expected = {(e["entity"], e["start"], e["end"]) for e in message.get("entities") or []}
            found = {(e["entity"], e["start"], e["end"]) for e in parsed.get("entities") or []}
            expected_entities.append(expected)
            found_entities.append(found)
            told.append(tells_what_happened(message))
            heard.append(bool((parsed.get("account") or {}).get("has_account")))
            if truth[-1] != predicted[-1] or expected != found or told[-1] != heard[-1]:
                errors.append({"text": text, "intent": truth[-1], "predicted": predicted[-1],
                               "confidence": round(parsed["intent"].get("confidence") or 0.0, 3),
                               "missing": sorted(expected - found), "extra": sorted(found - expected),
                               "account": told[-1], "account_predicted": heard[-1],
                               "account_confidence": round((parsed.get("account") or {}).get("confidence") or 0, 3)})
        intent_f1, per_intent = macro_f1(truth, predicted)
        results[lang] = {
            "examples": len(truth),
            "intent_accuracy": sum(t == p for t, p in zip(truth, predicted, strict=True)) / len(truth),
            "intent_macro_f1": intent_f1,
            "per_intent_f1": per_intent,
            "entity": entity_scores(expected_entities, found_entities),
            "account": binary_scores(told, heard),
            "errors": errors,
        }
    results["parse_latency_ms"] = {"median": 1000 * statistics.median(latencies),
                                   "p95": 1000 * sorted(latencies)[int(0.95 * len(latencies)) - 1]}
    return results


def print_scores(name: str, scores: dict[str, Any], show_errors: bool) -> None:
    print(f"\n== {name}")
    print(f"{'language':<10}{'examples':>9}{'intent acc':>12}{'intent macro-F1':>17}{'entity P':>10}"
          f"{'entity R':>10}{'entity F1':>11}{'entities':>10}{'account F1 (P / R)':>22}{'accounts':>10}")
    for lang in LANGUAGES:
        s = scores[lang]
        e, a = s["entity"], s["account"]
        print(f"{lang:<10}{s['examples']:>9}{s['intent_accuracy']:>12.3f}{s['intent_macro_f1']:>17.3f}"
              f"{e['precision']:>10.3f}{e['recall']:>10.3f}{e['f1']:>11.3f}{e['support']:>10}"
              f"{a['f1']:>9.3f} ({a['precision']:.3f} / {a['recall']:.3f}){a['support']:>10}")
    for lang in LANGUAGES:
        per = ", ".join(f"{k} {v:.2f}" for k, v in scores[lang]["per_intent_f1"].items())
        print(f"  {lang} intent F1: {per}")
        per_type = ", ".join(f"{k} {tp}/{tp + fn} found, {fp} extra"
                             for k, (tp, fp, fn) in sorted(scores[lang]["entity"]["by_type"].items()))
        print(f"  {lang} entities: {per_type}")
    print(f"  parse latency: median {scores['parse_latency_ms']['median']:.1f} ms, "
          f"p95 {scores['parse_latency_ms']['p95']:.1f} ms")
    if show_errors:
        for lang in LANGUAGES:
            for error in scores[lang]["errors"]:
                print(f"  [{lang}] {error}")


def below_floors(scores: dict[str, Any]) -> list[str]:
    problems = []
    for lang in LANGUAGES:
        if scores[lang]["intent_macro_f1"] < FLOORS["intent_macro_f1"]:
            f1 = scores[lang]["intent_macro_f1"]
            problems.append(f"{lang}: intent macro-F1 {f1:.3f} < {FLOORS['intent_macro_f1']}")
        if scores[lang]["entity"]["f1"] < FLOORS["entity_f1"]:
            problems.append(f"{lang}: entity F1 {scores[lang]['entity']['f1']:.3f} < {FLOORS['entity_f1']}")
        if scores[lang]["account"]["f1"] < FLOORS["account_f1"]:
            f1 = scores[lang]["account"]["f1"]
            problems.append(f"{lang}: account-of-events F1 {f1:.3f} < {FLOORS['account_f1']}")
    return problems


# ---------------------------------------------------------------------------------------------------
# Light pipeline against DIET

def train_nlu(config: Path, out: Path, name: str) -> tuple[Path, float]:
    from rasa.model_training import train_nlu as rasa_train_nlu

    started = time.perf_counter()
    model = rasa_train_nlu(str(config), str(BOT_DIR / "data"), str(out), fixed_model_name=name)
    if not model:
        raise SystemExit(f"training {name} failed")
    return Path(model), time.perf_counter() - started


async def compare(show_errors: bool) -> dict[str, Any]:
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        diet_config = Path(tmp) / "config-diet.yml"
        diet_config.write_text(DIET_CONFIG.format(epochs=DIET_EPOCHS))
        for name, config in (("light (LogisticRegression)", LIGHT_CONFIG),
                             (f"DIET ({DIET_EPOCHS} epochs)", diet_config)):
            model, seconds = train_nlu(config, Path(tmp) / "models", re.sub(r"\W+", "-", name))
            scores = await score_model(model)
            print_scores(name, scores, show_errors)
            rows[name] = {"train_seconds": seconds, "scores": scores}
    print("\n== comparison (same held-out data, same entity extractor)")
    print(f"{'pipeline':<30}{'train s':>9}{'zh intent F1':>14}{'en intent F1':>14}{'parse ms (median)':>19}")
    for name, row in rows.items():
        s = row["scores"]
        print(f"{name:<30}{row['train_seconds']:>9.1f}{s['zh']['intent_macro_f1']:>14.3f}"
              f"{s['en']['intent_macro_f1']:>14.3f}{s['parse_latency_ms']['median']:>19.1f}")
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=BOT_DIR / "models" / "complaint.tar.gz")
    parser.add_argument("--compare", action="store_true", help="train and compare the light pipeline and DIET")
    parser.add_argument("--check", action="store_true", help="exit 1 if below the floors or the data checks fail")
    parser.add_argument("--errors", action="store_true", help="list every misclassified held-out example")
    parser.add_argument("--json", type=Path, help="also write the results as JSON")
    args = parser.parse_args()
    quiet()
    os.chdir(BOT_DIR)

    checks = data_checks()
    print("== data")
    for lang in LANGUAGES:
        counts = checks["training_counts"][lang]
        print(f"  {lang} training examples per intent: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    print(f"  held-out share: {checks['heldout_share']:.1%}; "
          f"held-out examples found in data/: {len(checks['overlap'])}")
    for problem in checks["problems"]:
        print(f"  PROBLEM: {problem}")

    output: dict[str, Any] = {"data": checks, "floors": FLOORS}
    if args.compare:
        output["comparison"] = asyncio.run(compare(args.errors))
    else:
        scores = asyncio.run(score_model(args.model))
        print_scores(f"model {args.model.name}", scores, args.errors)
        output["scores"] = scores
        problems = below_floors(scores)
        floors = ("intent macro-F1 >= {intent_macro_f1}, entity F1 >= {entity_f1}, account-of-events F1 >= {account_f1}"
                  " per language").format(**FLOORS)
        print(f"\n== floors: {floors}")
        print("  " + ("; ".join(problems) if problems else "all met"))
        output["below_floors"] = problems
    if args.json:
        args.json.write_text(json.dumps(output, ensure_ascii=False, indent=1, default=str))
    failed = bool(checks["problems"]) or bool(output.get("below_floors"))
    return 1 if args.check and failed else 0


if __name__ == "__main__":
    sys.exit(main())
