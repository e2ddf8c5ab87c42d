"""Pure checks on what customers type: language, names, phone numbers, descriptions.

Kept free of rasa_sdk so they can be tested without a tracker.
"""

from __future__ import annotations

import re
import unicodedata

LANGUAGES = ("zh", "en")
DEFAULT_LANGUAGE = "en"
MAX_NAME_LENGTH = 60

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN_WORD = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)?")
# Fewer Latin words ("ok", "Tom Li", "abc") are common in Chinese chats and prove nothing.
MIN_ENGLISH_WORDS = 3
# What has no language of its own: addresses, links, numbers, dates, case numbers, emoji and symbols.
_NO_LANGUAGE = re.compile(
    r"[\w.%+\-]+@[\w\-]+(?:\.[\w\-]+)+"  # email addresses (also 张伟@例子.中国)
    r"|(?:https?://|www\.)\S+"
    r"|\bC-[0-9]{6}-[0-9A-Z]{4}\b"
    r"|\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.? [0-9]{1,2}(?:st|nd|rd|th)?\b"
    r"|\b[0-9]{1,2}(?:st|nd|rd|th)?(?: of)? (?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\b"
    r"|\b[0-9]+(?:[:./\-][0-9]+)*\s*(?:am|pm)?\b",
    re.IGNORECASE,
)
# A sentence in English has at least one of these; a name, a product code or "ok thx lol" has none.
_ENGLISH_WORDS = frozenset(re.findall(r"\S+", (
    "i i'm im i've i'd me my mine you your you're we our us he she it it's its they them their the a an this that "
    "these those is am are was were be been being have has had do does did don't didn't can't cannot won't not no "
    "yes to of in on at for from with about and but or if so because when what why how who where which there here "
    "please want would could should will can need just still never again all any some"
)))
_PHONE_SEPARATORS = re.compile(r"[\s\-]")
_PHONE_SHAPE = re.compile(r"\+?\d{7,15}")
_MAINLAND_MOBILE = re.compile(r"1[3-9]\d{9}")
# A number typed together with the name ("李四 13912345678") belongs to the phone slot.
_PHONE_IN_TEXT = re.compile(r"\+?\d[\d\s\-]{5,}\d")
_NAME_INTRO = re.compile(
    r"^(?:我叫|我的名字是|我的名字叫|我是|本人|姓名[:：]?|"
    r"my name is|my name's|i am|i'm|this is|name[:：]?)\s*",
    re.IGNORECASE,
)
_EDGE_PUNCTUATION = " \t,，.。!！;；:：、"


def normalize(text: str) -> str:
    """Full-width digits and letters (common with Chinese input methods) become ASCII."""
    return " ".join(unicodedata.normalize("NFKC", text).split())


def language_code(value: object) -> str | None:
    """'zh', 'zh-CN', 'en-GB' and the like map to 'zh' or 'en'; anything else to None."""
    if not isinstance(value, str):
        return None
    code = value.strip().lower()[:2]
    return code if code in LANGUAGES else None


def detect_language(text: str) -> str | None:
    """'zh' if the text has Chinese characters, 'en' if it is an English sentence, else None.

    Button payloads ('/complain'), email addresses, numbers, dates, 'ok', emoji and names in Latin letters say
    nothing about the customer's language: the conversation keeps the language it has.
    """
    if not text or text.startswith("/"):
        return None
    text = _NO_LANGUAGE.sub(" ", unicodedata.normalize("NFKC", text))
    if _CJK.search(text):
        return "zh"
    words = [w.lower() for w in _LATIN_WORD.findall(text)]
    if len(words) >= MIN_ENGLISH_WORDS and any(w in _ENGLISH_WORDS for w in words):
        return "en"
    return None


def is_valid_phone(text: str) -> bool:
    """Digits with an optional leading '+', spaces and dashes; 7 to 15 digits.

    Eleven digits starting with 1 are a mainland mobile and must start 13-19.
    """
    compact = _PHONE_SEPARATORS.sub("", normalize(text))
    if not _PHONE_SHAPE.fullmatch(compact):
        return False
    if len(compact) == 11 and compact.startswith("1"):
        return bool(_MAINLAND_MOBILE.fullmatch(compact))
    return True


def clean_name(text: str) -> str:
    """Strips an introduction ('我叫', 'my name is'), phone numbers and edge punctuation."""
    name = _PHONE_IN_TEXT.sub(" ", normalize(text))
    name = _NAME_INTRO.sub("", name.strip(_EDGE_PUNCTUATION))
    return " ".join(name.strip(_EDGE_PUNCTUATION).split())


def is_valid_name(name: str) -> bool:
    """1 to 60 characters with at least one letter, so digits or punctuation alone are refused."""
    return 0 < len(name) <= MAX_NAME_LENGTH and any(ch.isalpha() for ch in name)


