"""Which service a story is about: the words that name one (extract.py), checked by a model learnt from stories.

The rules in extract.py read the words that name a service ("两融", "打新", "销户"). Customers nobody here had
read name services in words the rules were not shown, and what a story is about is not always the service it
names first: over 880 Chinese stories written by people who had read neither the rules nor each other's
stories (bench/intake_eval, the sets TRAINED_ON in scripts/product_stories.py), the rules decided 672 and 61 of
those were wrong, and corrections made on one set did not carry to the next (README.md, "Intake evaluation").

A logistic regression on character n-grams of those stories (product_stories.json), cross-validated a set at a
time, names the right service for 95% of them. Neither is trusted alone:

- the rules and the model agree: that is the service;
- the rules name one and the model, fairly sure (MODEL_VETO, MODEL_VETO_OTHER), names another: the form asks
  the customer;
- the rules name none and the model is sure (MODEL_ALONE): the model's service, never "other" (a service we do
  not offer is kept in the customer's words, which only the rules find).

Cross-validated (scripts/product_stories.py --check), that decides 711 of the 880 stories (the rules alone 672)
with 9 wrong (the rules alone 61).
English stories have no such training set and are decided by the rules alone.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline

from .extract import CJK, canonical, product_in_story

STORIES = Path(__file__).resolve().parent / "product_stories.json"
MODEL_VETO = 0.2  # below this the model is unsure (a headline, a few words) and the rules decide alone
# "other" is what the model says of a text it cannot place ("投诉派息问题": few words it learnt), so it stops a
# service named in words only when surer.
MODEL_VETO_OTHER = 0.4
MODEL_ALONE = 0.7  # where the rules name nothing, the model decides only this sure

Decision = tuple[str, str | None]  # the product key, and the customer's words for a product we do not offer


def fit(stories: list[dict[str, str]]) -> Pipeline:
    """A model learnt from stories ({"text", "product"}): tf-idf of character 1- to 3-grams, as read by the
    finders (Simplified), and a one-against-the-rest logistic regression (well under a second for 880)."""
    model = make_pipeline(
        TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True),
        LogisticRegression(C=10, solver="liblinear", random_state=0),
    )
    return model.fit([canonical(s["text"]) for s in stories], [s["product"] for s in stories])


@cache
def story_model() -> Pipeline:
    """The model of product_stories.json, learnt once per process."""
    return fit(json.loads(STORIES.read_text(encoding="utf-8"))["stories"])


def model_opinion(text: str, model: Pipeline) -> tuple[str, float]:
    """The service the model finds likeliest for a text, and how sure it is (0 to 1)."""
    probabilities = model.predict_proba([canonical(text)])[0]
    best = int(probabilities.argmax())
    return str(model.classes_[best]), float(probabilities[best])


def story_product(text: str, model: Pipeline | None = None) -> Decision | None:
    """The product a story is about, or None when the form should ask (see the module's docstring)."""
    by_words = product_in_story(text)
    if not re.search(f"[{CJK}]", text):
        return by_words
    likeliest, sureness = model_opinion(text, model or story_model())
    if by_words is None:
        return (likeliest, None) if sureness >= MODEL_ALONE and likeliest != "other" else None
    if by_words[0] != likeliest and sureness >= (MODEL_VETO_OTHER if likeliest == "other" else MODEL_VETO):
        return None
    return by_words


def story_product_key(text: str) -> str | None:
    """The product key of story_product, or None."""
    found = story_product(text)
    return found[0] if found else None
