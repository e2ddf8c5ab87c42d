"""What a handler must never say to a complaining customer (never argue, never blame the customer, never say
"impossible"): the phrases, and the check every answer passes before it goes out.

A phrase is found whatever the script (Traditional characters are read as Simplified), the case, the width of
the characters, or the spaces and punctuation put inside it ("不 可 能", "im-possible", "NOT OUR FAULT"). The
list avoids phrases that a kind sentence contains: "this is not your fault" is fine, "it is your fault" is not.
"""

from __future__ import annotations

import functools
import re
import unicodedata

from opencc import OpenCC  # type: ignore[import-untyped]

FORBIDDEN = (
    "不可能", "不会有这样的事", "不会有这种事", "这事情的责任不在证券公司", "责任不在证券公司", "责任不在我们",
    "责任不在我司", "责任不在公司", "我们营业部没有错", "我们没有错", "不是我们的错", "不是我们的责任",
    "是您自己的问题", "是你自己的问题", "您自己的责任", "你自己的责任", "无法受理",
    "impossible", "that can't have happened", "that cannot have happened", "that could not have happened",
    "that couldn't have happened", "it is not our fault", "it's not our fault", "not our fault",
    "not our responsibility", "it is your fault", "it's your fault", "your own fault",
)
_NOT_LETTERS = re.compile(r"[\W_]+")


@functools.cache
def _to_simplified() -> OpenCC:
    return OpenCC("t2s")


def _folded(text: str) -> str:
    """Letters and characters only, lower case, half width, Simplified."""
    text = unicodedata.normalize("NFKC", text).replace("’", "'").lower()
    return _NOT_LETTERS.sub("", str(_to_simplified().convert(text)))


@functools.cache
def _phrases() -> tuple[tuple[str, str], ...]:
    return tuple((_folded(phrase), phrase) for phrase in FORBIDDEN)


def forbidden_in(text: str) -> str | None:
    """The first forbidden phrase the text contains, as the list writes it; None if there is none."""
    folded = _folded(text)
    return next((phrase for key, phrase in _phrases() if key in folded), None)
