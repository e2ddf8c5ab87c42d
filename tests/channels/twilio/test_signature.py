"""Every Twilio signature vector in the shared corpus gets the verdict it expects."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from multidict import MultiDict

from channels.twilio.common import is_signed

VECTORS = Path(__file__).resolve().parents[4] / "shared" / "corpus" / "sms" / "twilio_signature_vectors.json"


def vectors() -> list[dict[str, Any]]:
    if not VECTORS.exists():
        return []
    loaded: list[dict[str, Any]] = json.loads(VECTORS.read_text())["vectors"]
    return loaded


@pytest.mark.skipif(not VECTORS.exists(), reason=f"corpus not found at {VECTORS}")
@pytest.mark.parametrize("vector", vectors(), ids=lambda v: v["id"])
def test_signature_vector(vector: dict[str, Any]) -> None:
    params: Any = vector["raw_body"] if "raw_body" in vector else MultiDict(vector.get("params") or [])
    verdict = is_signed(vector["auth_token"], vector["url"], params, vector.get("x_twilio_signature"))
    assert verdict is vector["expected_valid"], vector.get("note")


def test_the_corpus_has_every_kind_of_vector() -> None:
    if not VECTORS.exists():
        pytest.skip(f"corpus not found at {VECTORS}")
    verdicts = [v["expected_valid"] for v in vectors()]
    assert len(verdicts) >= 18 and verdicts.count(False) >= 3
