"""Which language a customer writes in, from the text itself: for the router, and for a channel that names the
message's language itself (WeChat, which remembers a customer's last one for messages that do not tell)."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable

from opencc import OpenCC  # type: ignore[import-untyped]

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN = re.compile(r"[A-Za-z]{2,}")


def detect(text: str) -> str | None:
    """'zh' if the text has Chinese characters, 'en' if it has Latin words, None if it cannot tell."""
    if _CJK.search(text):
        return "zh"
    if _LATIN.search(text):
        return "en"
    return None


@functools.cache
def _converters() -> tuple[OpenCC, OpenCC]:
    return OpenCC("t2s"), OpenCC("s2t")


def script(texts: Iterable[str]) -> str | None:
    """'Hant' if the Chinese in ``texts`` is written in Traditional characters, 'Hans' if in Simplified, None if
    there is none (or nothing tells them apart, as in characters both scripts share)."""
    to_simplified, to_traditional = _converters()
    traditional = simplified = 0
    for text in texts:
        if not _CJK.search(text):
            continue
        traditional += to_simplified.convert(text) != text
        simplified += to_traditional.convert(text) != text
    if not traditional and not simplified:
        return None
    return "Hant" if traditional > simplified else "Hans"


def traditional(text: str) -> str:
    """The text in Traditional characters."""
    return str(_converters()[1].convert(text))
