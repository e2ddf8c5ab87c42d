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


# An account of events shorter than this is a headline ("交易软件又卡死了！", "my sell order was never filled"): kept,
# and the customer is asked once for more.
THIN_STORY_CHARACTERS = 18  # Chinese characters
THIN_STORY_WORDS = 12  # words in Latin letters
# Surnames in both scripts: actions/extract.py's list with their Traditional forms, written out because this
# module is loaded alone, without the package (tests/bot/test_bot_project.py).
_SURNAME_START = re.compile(
    r"^(?:欧阳|司马|上官|诸葛|东方|皇甫|慕容|令狐|[王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶"
    r"程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤欧温柯詹易常"
    r"傅康洪包左齐樊鲁葛牛童庞祝裴冉岳翟殷俞聂佟蒲褚阮凌霍闵穆邢骆滕卓蔺祁戚晏巫柴邝伍庄吉"
    r"陳張劉楊黃趙吳孫馬許鄭謝韓馮鄧蕭葉蘇魏呂鍾譚陸範賈韋鄒熊邱薛閆雷龍陶賀顧龔萬錢嚴湯歐詹齊魯龐聶閔駱藺鄺莊])"
)


def is_thin_story(text: str, scale: int = 1) -> bool:
    """A one-line account: fewer than 18 Chinese characters, or fewer than 12 words, on one line (``scale``
    times as many for a line that is mostly a threat or an outburst)."""
    if "\n" in text.strip():
        return False
    han = len(_CJK.findall(text))
    words = len(_LATIN_WORD.findall(text))
    return han + words < scale * THIN_STORY_CHARACTERS if han else words < scale * THIN_STORY_WORDS


def looks_like_a_name(text: str) -> bool:
    """A name on its own ("王芳", "Olga Petrova", "amy ho"): a surname and one to three characters, or one to four
    words in Latin letters none of which is a common English word."""
    name = clean_name(text)
    if _CJK.search(name):
        return bool(re.fullmatch(r"[\u3400-\u4dbf\u4e00-\u9fff·]{2,4}", name)) and bool(_SURNAME_START.match(name))
    words = name.split()
    return (0 < len(words) <= 4 and all(re.fullmatch(r"[A-Za-z][A-Za-z'\-]*\.?", w) for w in words)
            and not any(w.lower().strip(".") in _ENGLISH_WORDS or w.lower() in _NOT_NAME_WORDS for w in words))


# Words of short messages that are not names ("ok thanks", "no idea", "hello there").
_NOT_NAME_WORDS = frozenset((
    "ok", "okay", "thanks", "thank", "hi", "hello", "hey", "bye", "yes", "yeah", "yep", "no", "nope", "sure", "fine",
    "idea", "anonymous", "nothing", "none", "sorry", "please", "what", "why", "who", "where", "when", "how", "help",
    "human", "agent", "person", "operator",
))

