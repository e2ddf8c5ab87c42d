"""Charsets: bytes decoded into text the way mail clients do, whatever the message declares.

GB2312 and GBK are read as GB18030 (their superset), Big5 as Big5-HKSCS, Shift_JIS as cp932, ks_c_5601-1987 as
cp949, US-ASCII and Latin-1 as Windows-1252; an unknown charset falls back to a chain of guesses; nothing raises.
"""

from __future__ import annotations

import codecs
import functools
from collections.abc import Sequence

# ------------------------------------------------------------------------------------------ charsets

_CHARSET_ALIASES = {
    "gb2312": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030", "cp936": "gb18030", "ms936": "gb18030",
    "euc-cn": "gb18030", "x-euc-cn": "gb18030", "csgb2312": "gb18030", "gb_2312-80": "gb18030",
    "chinese": "gb18030", "gb2312-80": "gb18030", "936": "gb18030",
    "big5": "big5hkscs", "x-big5": "big5hkscs", "cn-big5": "big5hkscs", "csbig5": "big5hkscs", "cp950": "cp950",
    "shift_jis": "cp932", "shift-jis": "cp932", "sjis": "cp932", "x-sjis": "cp932", "ms_kanji": "cp932",
    "csshiftjis": "cp932", "windows-31j": "cp932",
    "iso-2022-jp": "iso2022_jp_2", "csiso2022jp": "iso2022_jp_2", "iso-2022-jp-1": "iso2022_jp_2",
    "ks_c_5601-1987": "cp949", "ks_c_5601": "cp949", "ks_c_5601-1989": "cp949", "ksc5601": "cp949",
    "ksc_5601": "cp949", "euc-kr": "cp949", "korean": "cp949", "csksc56011987": "cp949", "windows-949": "cp949",
    "us-ascii": "cp1252", "ascii": "cp1252", "ansi_x3.4-1968": "cp1252", "iso-8859-1": "cp1252",
    "iso8859-1": "cp1252", "latin1": "cp1252", "latin-1": "cp1252", "l1": "cp1252", "cp819": "cp1252",
    "tis-620": "cp874", "windows-874": "cp874", "x-mac-roman": "mac_roman", "macintosh": "mac_roman",
}
# Python codecs that are not text charsets a mail could honestly declare; decoding with them is refused.
_REFUSED_CODECS = {"idna", "punycode", "unicode_escape", "raw_unicode_escape", "undefined", "mbcs", "oem"}
_MULTIBYTE = ("gb18030", "big5hkscs", "cp950", "cp932", "euc_jp", "euc_jis_2004", "cp949", "iso2022", "utf",
              "hz", "shift_jis", "johab")
_SEVEN_BIT = ("iso2022", "hz", "utf-7")
# Close relatives to try before the generic guesses: mislabelled Japanese mail is far more often another
# Japanese charset than GB18030, and ISO-2022-JP senders use extensions iso2022_jp_2 lacks.
_RELATIVES = {
    "iso2022_jp_2": ("iso2022_jp_ext", "iso2022_jp_2004", "cp932", "euc_jp"), "euc_jp": ("cp932",),
    "cp932": ("euc_jp",), "big5hkscs": ("cp950",),
}
_FALLBACK_CHAIN = ("utf-8", "gb18030", "cp1252", "latin-1")


@functools.lru_cache(maxsize=512)
def _codec(name: str | None) -> str | None:
    """The Python codec to read a declared charset with, or None when it is unknown."""
    if not name:
        return None
    label = name.strip().strip("\"'").split("*", 1)[0].lower()
    label = _CHARSET_ALIASES.get(label, label)
    try:
        codec = codecs.lookup(label).name
    except (LookupError, ValueError):
        return None
    if codec in _REFUSED_CODECS or codec.startswith(("base64", "hex", "zlib", "bz2", "quopri", "uu", "rot")):
        return None
    return _CHARSET_ALIASES.get(codec, codec)


def _is_multibyte(codec: str) -> bool:
    return codec.startswith(_MULTIBYTE)


def _try_decode(data: bytes, codec: str) -> str | None:
    try:
        return data.decode(codec)
    except (UnicodeError, LookupError):
        return None


def _decode_bytes(data: bytes, declared: str | None, hints: Sequence[str] = ()) -> str:
    """Decode text the way mail clients do: the declared charset if it fits, else a chain of guesses.

    UTF-8 is tried before a declared single-byte charset because a Latin-1 text that happens to be valid
    UTF-8 is vanishingly rare, while mislabelled UTF-8 is common; a declared multi-byte charset is trusted
    first, as GB2312 text can by chance be valid UTF-8 for a few bytes.
    """
    codec = _codec(declared)
    if data.isascii():
        # 7-bit charsets (ISO-2022-*, HZ, UTF-7) still need their codec; so does undeclared ISO-2022-JP.
        if codec is None or not codec.startswith(_SEVEN_BIT):
            if b"\x1b$" not in data:
                return data.decode("ascii")
            codec = "iso2022_jp_2"
        for candidate in (codec, *_RELATIVES.get(codec, ())):
            text = _try_decode(data, candidate)
            if text is not None:
                return text
        return data.decode(codec, "replace")
    candidates: list[str] = []
    if codec and _is_multibyte(codec):
        candidates.append(codec)
        candidates.extend(_RELATIVES.get(codec, ()))
    candidates.append("utf-8")
    if codec:
        candidates.append(codec)
    candidates.extend(h for h in hints if _is_multibyte(h))
    candidates.extend(h for h in hints if not _is_multibyte(h))
    candidates.extend(_FALLBACK_CHAIN)
    seen: set[str] = set()
    for candidate in candidates:
        if candidate in seen:
            continue
        seen.add(candidate)
        text = _try_decode(data, candidate)
        if text is not None:
            return text
    return data.decode("utf-8", "replace")  # unreachable: latin-1 decodes any bytes
