"""NLU quality on held-out data, per language: intent macro-F1 >= 0.90, entity F1 >= 0.85 and account-of-events
F1 >= 0.85.

The held-out examples (bot/tests/nlu_heldout_*.yml) are never trained on; bot/scripts/nlu_quality.py scores
the trained model on them and checks the training data (40+ examples per intent and language, a held-out
share of at least 20%, no held-out example in data/).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from gateway import supervisor

PYTHON = supervisor.BOT_DIR / ".venv" / "bin" / "python"
ENV = {**os.environ, "RASA_TELEMETRY_ENABLED": "false"}


@pytest.fixture(scope="module")
def quality(tmp_path_factory: pytest.TempPathFactory) -> dict:
    model = supervisor.ensure_model(progress=lambda _: None)
    out: Path = tmp_path_factory.mktemp("nlu") / "quality.json"
    result = subprocess.run([str(PYTHON), "scripts/nlu_quality.py", "--model", str(model), "--json", str(out)],
                            cwd=supervisor.BOT_DIR, env=ENV, text=True, capture_output=True, timeout=600, check=False)
    print(result.stdout)  # the table, shown with -s or on failure
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report: dict = json.loads(out.read_text())
    report["table"] = result.stdout
    return report


def test_training_data_has_enough_examples_and_a_clean_held_out_split(quality: dict) -> None:
    data = quality["data"]
    assert not data["problems"], data["problems"]
    assert data["heldout_share"] >= 0.20
    assert not data["overlap"]
    for language in ("zh", "en"):
        assert min(data["training_counts"][language].values()) >= 40, data["training_counts"][language]
        assert set(data["heldout_counts"][language]) == set(data["training_counts"][language])


@pytest.mark.parametrize("language", ["zh", "en"])
def test_intents_and_entities_meet_the_floors_on_held_out_data(quality: dict, language: str) -> None:
    scores = quality["scores"][language]
    assert scores["intent_macro_f1"] >= 0.90, quality["table"]
    assert scores["entity"]["f1"] >= 0.85, quality["table"]
    assert scores["entity"]["support"] >= 40, "too few held-out entities to say anything"


@pytest.mark.parametrize("language", ["zh", "en"])
def test_the_account_of_events_decision_meets_its_floor_on_held_out_data(quality: dict, language: str) -> None:
    """Does a message tell what happened? Judged on held-out stories, headlines, outbursts and threats."""
    account = quality["scores"][language]["account"]
    assert account["f1"] >= 0.85, quality["table"]
    assert account["support"] >= 40, "too few held-out accounts of events to say anything"
