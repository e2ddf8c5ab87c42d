"""Which language a customer writes in, from the text itself."""

from __future__ import annotations

import re

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN = re.compile(r"[A-Za-z]{2,}")


def detect(text: str) -> str | None:
    """'zh' if the text has Chinese characters, 'en' if it has Latin words, None if it cannot tell."""
    if _CJK.search(text):
        return "zh"
    if _LATIN.search(text):
        return "en"
    return None
