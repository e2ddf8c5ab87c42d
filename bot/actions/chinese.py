"""Simplified and Traditional Chinese (OpenCC): one script to read, the customer's script to answer in.

Customers in Hong Kong, Macau and Taiwan write Traditional characters (帳戶被凍結, 證監會). Everything that reads
text (the NLU pipeline, the record finders, the risk words) reads it as Simplified, so one set of training
examples and word lists serves both; the customer is answered in the script they write (domain.yml has a
Traditional variant of every Chinese response, see scripts/traditional_responses.py).

``to_simplified`` keeps the length of the text, so the offsets of what is found in the converted text are
offsets in what the customer typed.
"""

from __future__ import annotations

import functools
import re

import opencc

HANS, HANT = "Hans", "Hant"
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


@functools.cache
def _converter(config: str) -> opencc.OpenCC:
    return opencc.OpenCC(config)


def to_simplified(text: str) -> str:
    """Traditional characters as Simplified, the same length as the input (character by character if a
    phrase conversion would change the length)."""
    if not _CJK.search(text):
        return text
    converted = _converter("t2s").convert(text)
    if len(converted) == len(text):
        return converted
    single = (_converter("t2s").convert(ch) for ch in text)
    return "".join(new if len(new) == 1 else old for old, new in zip(text, single, strict=True))


def to_traditional(text: str) -> str:
    return _converter("s2tw").convert(text) if _CJK.search(text) else text


def script_of(text: str) -> str | None:
    """'Hant' for Traditional characters, 'Hans' for Simplified, None when the text does not tell
    (no Chinese, or only characters both scripts share)."""
    if not _CJK.search(text):
        return None
    as_simplified = sum(a != b for a, b in zip(text, to_simplified(text), strict=True))
    traditional = to_traditional(text)
    as_traditional = sum(a != b for a, b in zip(text, traditional, strict=False)) if len(traditional) == len(
        text) else len(text)
    if as_simplified > as_traditional:
        return HANT
    if as_traditional > as_simplified:
        return HANS
    return None
