"""Which service a story is about: the words that name one (extract.py), checked by a model learnt from stories.

The rules in extract.py read the words that name a service ("两融", "打新", "销户", "margin call"). Customers
nobody here had read name services in words the rules were not shown, and what a story is about is not always
the service it names first: over 880 Chinese stories written by people who had read neither the rules nor
each other's stories (bench/intake_eval, the sets TRAINED_ON in scripts/product_stories.py), the rules decided
672 and 61 of those were wrong, and corrections made on one set did not carry to the next (README.md,
"Intake evaluation"). English went the same way.

A logistic regression on n-grams of those stories (product_stories_<language>.json), cross-validated a set at
a time, names the right service for 95% of the Chinese and 97% of the English ones. Neither is trusted alone:

- the rules and the model agree: that is the service;
- the rules name one and the model, fairly sure (Sureness.veto, .veto_other), names another: the form asks
  the customer;
- the rules name none and the model is sure (Sureness.alone): the model's service, never "other" (a service we
  do not offer is kept in the customer's words, which only the rules find).

Cross-validated (scripts/product_stories.py --check), that decides 711 of the 880 Chinese stories (the rules
alone 672) with 9 wrong (the rules alone 61), and 222 of 320 English stories of securities customers with 5
wrong (the rules alone 210 with 61 wrong).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline

from .extract import CJK, canonical, product_in_story

LANGUAGES = ("zh", "en")
HERE = Path(__file__).resolve().parent


@dataclass(frozen=True, slots=True)
class Sureness:
    """How sure the model must be to act."""

    veto: float  # below this the model is unsure (a headline, a few words) and the rules decide alone
    # "other" is what the model says of a text it cannot place ("投诉派息问题": few words it learnt), so it
    # stops a service named in words only when surer.
    veto_other: float
    # A service we do not offer, named ("my credit card", "the mortgage"), is what the stories never taught the
    # model: it stops the rules' "other" only when surer.
    veto_named_other: float
    alone: float  # where the rules name nothing, the model decides only this sure


# Chosen by cross-validation a set at a time over the training sets (scripts/product_stories.py --check).
SURENESS = {
    "zh": Sureness(veto=0.2, veto_other=0.4, veto_named_other=0.2, alone=0.7),
    "en": Sureness(veto=0.2, veto_other=0.4, veto_named_other=0.3, alone=0.4),
}

Decision = tuple[str, str | None]  # the product key, and the customer's words for a product we do not offer


def stories_file(language: str) -> Path:
    """The stories the model of a language learns from."""
    return HERE / f"product_stories_{language}.json"


def language_of(text: str) -> str:
    return "zh" if re.search(f"[{CJK}]", text) else "en"


def _reading(language: str) -> TfidfVectorizer:
    """Chinese as character 1- to 3-grams, as read by the finders (Simplified); English as words and word pairs."""
    if language == "zh":
        return TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True)
    return TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True, lowercase=True)


def fit(stories: list[dict[str, str]], language: str) -> Pipeline:
    """A model learnt from stories ({"text", "product"}): tf-idf of n-grams and a one-against-the-rest
    logistic regression (well under a second for 880)."""
    model = make_pipeline(_reading(language), LogisticRegression(C=10, solver="liblinear", random_state=0))
    return model.fit([canonical(s["text"]) for s in stories], [s["product"] for s in stories])


@cache
def story_model(language: str) -> Pipeline:
    """The model of a language's stories file, learnt once per process."""
    return fit(json.loads(stories_file(language).read_text(encoding="utf-8"))["stories"], language)


def model_opinion(text: str, model: Pipeline) -> tuple[str, float]:
    """The service the model finds likeliest for a text, and how sure it is (0 to 1)."""
    probabilities = model.predict_proba([canonical(text)])[0]
    best = int(probabilities.argmax())
    return str(model.classes_[best]), float(probabilities[best])


def story_product(text: str, model: Pipeline | None = None) -> Decision | None:
    """The product a story is about, or None when the form should ask (see the module's docstring)."""
    by_words = product_in_story(text)
    language = language_of(text)
    sure = SURENESS[language]
    likeliest, sureness = model_opinion(text, model or story_model(language))
    if by_words is None:
        return (likeliest, None) if sureness >= sure.alone and likeliest != "other" else None
    needed = sure.veto_other if likeliest == "other" else sure.veto_named_other if by_words[0] == "other" else sure.veto
    return None if by_words[0] != likeliest and sureness >= needed else by_words


def story_product_key(text: str) -> str | None:
    """The product key of story_product, or None."""
    found = story_product(text)
    return found[0] if found else None
