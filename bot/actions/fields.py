"""Checks and normalizes record fields: phones (phonenumbers), emails (email-validator), times (dateparser).

Finding a value in a message is ``extract.py``'s job; this module decides whether the value is usable
and puts it in the form a complaint handler needs (E.164 phones, ISO 8601 times).
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import dateparser
import phonenumbers
from dateparser.date import DateDataParser
from email_validator import EmailNotValidError, validate_email

from .extract import (
    CJK,
    EN_CLOCK_LEAD_WORDS,
    EN_HOUR,
    EN_HOUR_WORDS,
    EN_MINUTES,
    EN_MONTH_AS_A_WHOLE,
    EN_WEEKDAY_SAID,
    Find,
    canonical,
    digits,
    find_times,
    halfwidth,
    valid_with_country_code,
)

DEFAULT_PHONE_REGION = "CN"  # a mainland number without a country code is +86


def normalize_phone(text: str, script: str | None = None) -> str | None:
    """The number in E.164 ("+8613800138000"), or None if it is not a usable phone number.

    Without a country code the number must be a valid mainland number, or, from a customer who writes
    Traditional characters (``script`` "Hant"), a Hong Kong number (8 digits) or a Taiwan mobile (09…), the
    shapes local numbers have there. With a country code ("+44 ...") any number of a possible length for that
    country is kept: numbering plans change faster than any library.
    """
    raw = halfwidth(text).strip()
    compact = re.sub(r"[\s\-().]", "", raw)
    if compact.startswith("00") or _country_code_as_a_group(raw):
        compact = "+" + compact.removeprefix("00")
    if not re.fullmatch(r"\+?[0-9]{7,15}", compact):
        return None
    try:
        number = phonenumbers.parse(compact, _region_of(compact, script))
    except phonenumbers.NumberParseException:
        return None
    international = compact.startswith("+") and not compact.startswith("+86")
    if phonenumbers.is_valid_number(number) or (international and phonenumbers.is_possible_number(number)):
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    # The country code typed without its "+" ("85265902281"): valid that way only (the shape of a mainland mobile
    # stays a mainland number, however mistyped).
    if (not compact.startswith("+") and not re.fullmatch(r"1[3-9][0-9]{9}", compact)
            and valid_with_country_code(compact)):
        return normalize_phone("+" + compact)
    return None


def _country_code_as_a_group(raw: str) -> bool:
    """"852 6590 2281", "1-602-719-4483", "(852) 9087 6613": the first group of digits is a country code and the
    number is not written as a North American one (415 555 0134)."""
    groups = re.findall(r"[0-9]+", raw)
    if raw.startswith("+") or len(groups) < 2 or [len(g) for g in groups] == [3, 3, 4]:
        return False
    first = groups[0]
    return len(first) <= 3 and not first.startswith("0") and (
        phonenumbers.region_code_for_country_code(int(first)) != phonenumbers.UNKNOWN_REGION)


def _region_of(compact: str, script: str | None = None) -> str:
    """Where a number typed without a country code is from.

    Mainland numbers are typed as 11-digit mobiles (1…) or with the trunk 0 (021…); ten digits that start with 2-9
    are the North American shape (415-555-0168): +1 when that is a valid North American number.
    """
    if re.fullmatch(r"[2-9][0-9]{9}", compact) and phonenumbers.is_valid_number(phonenumbers.parse(compact, "US")):
        return "US"
    if script == "Hant":
        for region, shape in (("HK", r"[2-9][0-9]{7}"), ("TW", r"09[0-9]{8}")):
            if re.fullmatch(shape, compact) and phonenumbers.is_valid_number(phonenumbers.parse(compact, region)):
                return region
    return DEFAULT_PHONE_REGION


def normalize_email(text: str) -> str | None:
    try:
        return str(validate_email(halfwidth(text).strip(), check_deliverability=False).normalized)
    except EmailNotValidError:
        return None


def mask_account(value: str) -> str:
    """'880012345' -> '*****2345': enough for the customer to recognize, not enough to misuse."""
    value = str(value)
    return "*" * max(len(value) - 4, 2) + value[-4:]


def mask_phone(value: str) -> str:
    value = str(value)
    return value[:-8] + "****" + value[-4:] if len(value) > 8 else "****" + value[-4:]


def mask_email(value: str) -> str:
    name, _, domain = str(value).partition("@")
    return f"{name[:1]}***@{domain}"


# ---------------------------------------------------------------------------------------------------
# Times

@dataclass(frozen=True, slots=True)
class Resolved:
    """A point in time and how precisely the customer gave it."""

    at: datetime
    precision: str  # "minute", "day", "week", "month" or "year"
    approximate: bool = False  # a best date for words that name no day ("半个月前")

    def iso(self) -> str:
        if self.precision == "minute":
            return self.at.strftime("%Y-%m-%dT%H:%M")
        if self.precision == "week":
            year, week, _ = self.at.isocalendar()
            return f"{year}-W{week:02d}"
        if self.precision == "month":
            return self.at.strftime("%Y-%m")
        if self.precision == "year":
            return self.at.strftime("%Y")
        return self.at.strftime("%Y-%m-%d")

    def days(self) -> tuple[date, date]:
        """The days it may mean: from the first to the day after the last."""
        first = self.at.date()
        if self.precision == "week":
            return _monday(first), _monday(first) + timedelta(weeks=1)
        if self.precision == "month":
            return first.replace(day=1), (first.replace(day=28) + timedelta(days=4)).replace(day=1)
        if self.precision == "year":
            return first.replace(month=1, day=1), first.replace(year=first.year + 1, month=1, day=1)
        return first, first + timedelta(days=1)

    def may_be_the_day_of(self, other: Resolved) -> bool:
        """Could both mean the same day ("上个月" and "11月20号", "昨天" and "昨天上午十点")?"""
        (start, end), (other_start, other_end) = self.days(), other.days()
        return start < other_end and other_start < end


_ZH_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8,
              "九": 9, "十": 10, "几": 3, "半": 0.5}
_ZH_WEEKDAYS = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6, "末": 5,
                "1": 0, "2": 1, "3": 2, "4": 3, "5": 4, "6": 5, "7": 6}
_EN_WEEKDAYS = {name.lower(): i for i, name in enumerate(calendar.day_name)}


def zh_number(text: str) -> float | None:
    """'3', '十二', '二十五', '两' -> numbers; None if it is not one."""
    if text.isdigit():
        return int(text)
    if not text or any(ch not in _ZH_DIGITS and ch != "廿" for ch in text):
        return None
    if text in ("半", "几"):
        return _ZH_DIGITS[text]
    if len(text) > 1 and text[0] in "零〇":
        return zh_number(text[1:])  # the minutes of "十点零五"
    if text[0] == "廿":
        rest = zh_number(text[1:]) if text[1:] else 0
        return None if rest is None else 20 + rest  # "廿" is twenty ("三點廿分", "廿五號")
    if "十" in text:
        tens, _, ones = text.partition("十")
        return (int(_ZH_DIGITS[tens]) if tens else 1) * 10 + (int(_ZH_DIGITS[ones]) if ones else 0)
    if len(text) == 4:  # a year written digit by digit: 二〇二四
        return int("".join(str(_ZH_DIGITS[ch]) for ch in text))
    return _ZH_DIGITS[text] if len(text) == 1 else None


_NUM = r"[0-9]{1,2}|廿[一二三四五六七八九]?|[一二三四五六七八九十两]{1,3}"
_ZH_CLOCK = re.compile(
    rf"(?P<part>早上|早晨|朝早|上午|中午|晏昼|下午|下昼|傍晚|晚上|夜晚|夜里|半夜|凌晨)?(?P<h>{_NUM})(?:点钟|点|时)"
    rf"(?:(?P<half>半)|(?P<quarter>[一三])刻|(?P<m>[0-9]{{1,2}}|[零〇廿一二三四五六七八九十]{{1,3}})分?)?"
    rf"|(?P<hh>[0-9]{{1,2}}):(?P<mm>[0-9]{{2}})"
)
_ZH_DAY_PART = re.compile("早上|早晨|朝早|上午|中午|晏昼|下午|下昼|傍晚|晚上|夜晚|夜里|半夜|凌晨")
_EN_HOURS = {word: i for i, word in enumerate(EN_HOUR_WORDS, start=1)}
_EN_MINUTE_WORDS = {"five": 5, "ten": 10, "twenty": 20, "twenty-five": 25, "twenty five": 25}
_EN_CLOCK = re.compile(
    r"(?P<h>[0-9]{1,2})(?:[:.](?P<m>[0-9]{2}))? ?(?P<ampm>am|pm|a\.m\.|p\.m\.)"
    r"|(?<![0-9.:])(?P<ph>[0-9]{1,2})(?:[:.](?P<pm>[0-9]{2}))? (?:o'clock )?in the (?P<part>morning|afternoon|evening)"
    r"|(?P<hh>[0-9]{1,2}):(?P<mm>[0-9]{2})"
    r"|\b(?P<noon>noon|midday)\b|\b(?P<midnight>midnight)\b"
    # "half 4", "quarter past three", "quarter to 5 in the afternoon", "4 o'clock", as said aloud.
    rf"|\b(?:(?P<half>half)(?: past)?|(?P<by>quarter|{EN_MINUTES}) (?P<quarter>past|to)|(?=(?:{EN_HOUR}) o'clock))"
    rf" ?(?P<wh>{EN_HOUR})\b(?: o'clock)?(?: ?(?P<wampm>am|pm)\b| in the (?P<wpart>morning|afternoon|evening))?"
    # "evening, around 7": an hour alone, only after the part of the day it is in.
    r"|\b(?:at|around|about) (?P<lh>[0-9]{1,2})(?:\.(?P<lm>[0-9]{2}))?"
    r"(?![0-9]|[:.,][0-9]| ?(?:am|pm|a\.m|p\.m)\b| (?:o'clock|in the))",
    re.IGNORECASE,
)


def _clock_zh(text: str) -> tuple[int, int] | None:
    m = _ZH_CLOCK.search(text)
    if not m:
        return None
    if m.group("hh"):
        hour, minute = int(m.group("hh")), int(m.group("mm"))  # "下午3:20": the part of the day still counts
    else:
        hour = int(zh_number(m.group("h")) or 0)
        minute = int(zh_number(m.group("m")) or 0) if m.group("m") else 0
    if m.group("half") or m.group("quarter"):
        minute = 30 if m.group("half") else 15 if m.group("quarter") == "一" else 45
    # "上周四下午，两点四十五": the part of the day said before the clock is its part.
    earlier = _ZH_DAY_PART.findall(text[: m.start()])
    part = m.group("part") or (earlier[-1] if earlier else None)
    # 下昼 and 晏昼 are how Cantonese says the afternoon (read as Simplified: 下晝 -> 下昼).
    if part in ("下午", "下昼", "傍晚", "晚上", "夜晚", "夜里") and hour < 12:
        hour += 12
    if part in ("中午", "晏昼") and hour < 6:
        hour += 12
    return (hour, minute) if hour < 24 and minute < 60 else None


_EN_LATE_PART = re.compile(r"(?i)\b(?:afternoon|evening|night|tonight)\b")
_EN_ANY_PART = re.compile(r"(?i)\b(?:morning|lunchtime|afternoon|evening|night|tonight)\b")


def _clock_en(text: str) -> tuple[int, int] | None:
    for m in _EN_CLOCK.finditer(text):
        clock = _en_clock_of(m, text)
        if clock:
            return clock
    return None


def _en_clock_of(m: re.Match[str], text: str) -> tuple[int, int] | None:
    late = bool(_EN_LATE_PART.search(text[: m.start()]))
    if m.group("noon"):
        return 12, 0
    if m.group("midnight"):
        return 0, 0
    if m.group("lh"):  # "evening, around 7" is 19:00; "around 7" with no part of the day is not a clock
        if not _EN_ANY_PART.search(text[: m.start()]):
            return None
        hour, minute = int(m.group("lh")), int(m.group("lm") or 0)
        hour += 12 if hour < 12 and late else 0
    elif m.group("wh"):
        hour, minute = _said_clock(m, late)
    elif m.group("ph"):  # "10 in the morning", "3 in the afternoon"
        hour, minute = int(m.group("ph")), int(m.group("pm") or 0)
        hour += 12 if hour < 12 and m.group("part").lower() != "morning" else 0
    elif m.group("hh"):
        hour, minute = int(m.group("hh")), int(m.group("mm"))
        # "in the evening at 7:30" is 19:30, as "晚上7点半" is; "at 2:30" with no part of the day said is the
        # afternoon's, as "half 2" is (_said_clock).
        morning = re.search(r"(?i)\bmorning\b", text[: m.start()])
        if hour < 12 and (late or (1 <= hour <= 6 and not morning)):
            hour += 12
    else:
        hour, minute = int(m.group("h")), int(m.group("m") or 0)
        pm = m.group("ampm").lower().startswith("p")
        hour = hour % 12 + (12 if pm else 0)
    return (hour, minute) if hour < 24 and minute < 60 else None


def _said_clock(m: re.Match[str], late: bool) -> tuple[int, int]:
    """A clock said aloud: "half 4" is 16:30 (an hour up to 6 with no part of the day said is the
    afternoon's: nobody is at a branch or on a call at half past four in the morning), "quarter to 5" 16:45."""
    said = m.group("wh").lower()
    hour = _EN_HOURS.get(said) or int(said)
    by = (m.group("by") or "").lower().removesuffix(" minutes")
    minutes = 15 if by == "quarter" else _EN_MINUTE_WORDS.get(by) or int(by or 0)
    minute = 30 if m.group("half") else minutes if (m.group("quarter") or "").lower() == "past" else 0
    if (m.group("quarter") or "").lower() == "to":
        hour, minute = hour - 1 or 12, 60 - minutes
    part, ampm = (m.group("wpart") or "").lower(), (m.group("wampm") or "").lower()
    if ampm:
        return hour % 12 + (12 if ampm == "pm" else 0), minute
    if part == "morning":
        return hour, minute
    afternoon = bool(part) or late or hour <= 6
    return hour + (12 if afternoon and hour < 12 else 0), minute


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _at(day: date, clock: tuple[int, int] | None) -> Resolved:
    if clock:
        return Resolved(datetime(day.year, day.month, day.day, *clock), "minute")
    return Resolved(datetime(day.year, day.month, day.day), "day")


def _past_month_day(today: date, month: int, day: int | None, year: int | None) -> date | None:
    year = year or today.year
    try:
        when = date(year, month, day or 1)
    except ValueError:
        return None
    if when > today and not (day is None and when.replace(day=1) <= today):
        try:
            when = when.replace(year=year - 1)
        except ValueError:
            return None
    return when


_ZH_RELATIVE_DAYS = {"大前天": -3, "大前日": -3, "前天": -2, "前日": -2, "琴日": -1, "前晚": -2, "昨天": -1, "昨日": -1,
                     "昨儿": -1, "昨晚": -1, "昨夜": -1,
                     "昨早": -1, "今天": 0, "今日": 0, "今儿": 0, "当天": 0, "今早": 0, "今朝": 0, "今晨": 0, "今晚": 0,
                     "刚才": 0, "刚刚": 0, "前两天": -2}
_ZH_AGO = re.compile(
    rf"(?P<n>{_NUM}|几|半|好几|十几)(?P<half>个半)?个?多?(?P<unit>天|日|周|星期|礼拜|月|小时|钟头|年)(?:以|之)?前")
_ZH_WEEKDAY = re.compile(
    r"(?P<rel>最近的?(?:这个|这)?|上上|上个|上|这个|这|本|下)?(?:周|星期|礼拜)(?P<d>[一二三四五六日天末1-7])"
)
_ZH_MONTH_DAY = re.compile(
    rf"(?:(?P<y>[0-9]{{4}}|[零〇一二三四五六七八九]{{4}}|今|去|前)年)?(?P<mo>{_NUM})月份?(?:(?P<d>{_NUM})[日号]|(?P<part>初|底|中旬|上旬|下旬|中|末))?"
)
# "17号", "3日"; "三日" written in words is a count of days ("等咗三日"), and "二号窗口" a window.
_ZH_DAY_ONLY = re.compile(rf"(?:(?P<d>[0-9]{{1,2}})[日号]|(?P<dd>{_NUM})号)(?![线楼口码位窗柜台室房车门座])")
# Vague expressions: the words are kept, and the best date is the week they point to.
_VAGUE_DAYS = re.compile(
    r"前几天|这几天|前些天|前些日子|(?i:the other day|a few days ago|a couple of days ago|several days ago)")
_VAGUE_WEEKS = re.compile(r"前几周|前几个星期|(?i:a few weeks ago|a couple of weeks ago|several weeks ago)")
_EN_DAY_ONLY = re.compile(
    r"(?:the )?(?P<d>[0-9]{1,2})(?:st|nd|rd|th)\b(?!,? (?:of )?(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec))",
    re.IGNORECASE,
)
_ZH_LAST_MONTH = re.compile(rf"(?P<rel>上上个?|上个?|这个|本)月(?:(?P<d>{_NUM})[日号]|(?P<part>初|底|中旬|中|末))?")


def _resolve_vague(text: str, now: datetime) -> Resolved | None:
    if _VAGUE_DAYS.match(text):
        return Resolved(datetime.combine(now.date() - timedelta(days=3), datetime.min.time()), "week")
    if _VAGUE_WEEKS.match(text):
        return Resolved(datetime.combine(now.date() - timedelta(weeks=2), datetime.min.time()), "week")
    return None


def _resolve_day_only(text: str, now: datetime) -> Resolved | None:
    """'17号', 'the 17th': that day of this month, or of last month if it is still to come."""
    m = _ZH_DAY_ONLY.match(text) or _EN_DAY_ONLY.match(text)
    if not m:
        return None
    today = now.date()
    day = int(zh_number(m.groupdict().get("dd") or m.group("d")) or 0)
    first = today.replace(day=1)
    for month_start in (first, (first - timedelta(days=1)).replace(day=1)):
        try:
            when = month_start.replace(day=day)
        except ValueError:
            continue
        if when <= today:
            rest = text[m.end():]
            return _at(when, _clock_zh(rest) or _clock_en(rest))
    return None


_ZH_UNITS = {"天": "day", "日": "day", "周": "week", "星期": "week", "礼拜": "week", "月": "month", "小时": "hour",
             "钟头": "hour", "年": "year"}


def _ago(n: float, unit: str, now: datetime, clock: tuple[int, int] | None) -> Resolved:
    """So many days, weeks, months, hours or years before now ("三天前", "2 days ago", "半年前", "half a year ago")."""
    today = now.date()
    if unit in ("month", "year") and n != int(n):
        # "半个月前", "一个半月前", "半年前": the best date is that many days back (a month is 30 days).
        back = today - timedelta(days=round(n * (30 if unit == "month" else 365)))
        if back >= _monday(today) - timedelta(weeks=4):
            return Resolved(datetime.combine(back, datetime.min.time()), "day", approximate=True)
        return Resolved(datetime(back.year, back.month, 1), "month", approximate=True)
    if unit == "hour":
        return Resolved((now - timedelta(hours=n)).replace(second=0, microsecond=0), "minute")
    if unit == "day":
        return _at(today - timedelta(days=n), clock)
    if unit == "week":
        if n == 1:  # "a week ago", "一周前": that day, near enough
            return Resolved(datetime.combine(today - timedelta(weeks=1), datetime.min.time()), "day", approximate=True)
        return Resolved(datetime.combine(today - timedelta(weeks=n), datetime.min.time()), "week")
    if unit == "month":
        months = int(n) if n >= 1 else 0
        first = (today.replace(day=1) - timedelta(days=1)).replace(day=1) if months else today
        for _ in range(max(months - 1, 0)):
            first = (first - timedelta(days=1)).replace(day=1)
        return Resolved(datetime(first.year, first.month, 1), "month" if months else "week")
    return Resolved(datetime(today.year - int(n), 1, 1), "year")


def _resolve_zh(text: str, now: datetime) -> Resolved | None:
    today = now.date()
    clock = _clock_zh(text)
    for word, offset in _ZH_RELATIVE_DAYS.items():
        if text.startswith(word):
            if word in ("刚才", "刚刚"):
                return Resolved(now.replace(second=0, microsecond=0), "minute")
            return _at(today + timedelta(days=offset), clock)
    m = _ZH_AGO.match(text)
    if m:
        n = zh_number(m.group("n")) if m.group("n") not in ("好几", "十几") else None
        if n is None:
            return None
        return _ago(n + (0.5 if m.group("half") else 0), _ZH_UNITS[m.group("unit")], now, clock)
    m = _ZH_WEEKDAY.match(text)
    if m:
        weekday, rel = _ZH_WEEKDAYS[m.group("d")], m.group("rel")
        if rel == "下":
            return None
        weeks_back = {"上上": 2, "上个": 1, "上": 1}.get(rel or "", 0)
        day = _monday(today) - timedelta(weeks=weeks_back) + timedelta(days=weekday)
        if (not rel or rel.startswith("最近")) and day > today:
            day -= timedelta(weeks=1)  # "周六", "最近这个周六": the Saturday just gone
        return _at(day, clock)
    if re.match(r"上上周|上个?周末|上周|上个?星期|上个?礼拜", text):
        back = 2 if text.startswith("上上") else 1
        if "末" in text[:4]:
            return _at(_monday(today) - timedelta(weeks=1) + timedelta(days=5), clock)
        return Resolved(datetime.combine(_monday(today) - timedelta(weeks=back), datetime.min.time()), "week")
    if re.match(r"本周|这周|这个?星期", text):
        return Resolved(datetime.combine(_monday(today), datetime.min.time()), "week")
    m = _ZH_LAST_MONTH.match(text)
    if m:
        first = today.replace(day=1)
        for _ in range(m.group("rel").count("上")):  # 上个月, 上上个月
            first = (first - timedelta(days=1)).replace(day=1)
        if m.group("d"):
            day_number = int(zh_number(m.group("d")) or 0)
            try:
                return _at(first.replace(day=day_number), clock)
            except ValueError:
                return None
        return Resolved(datetime(first.year, first.month, 1), "month")
    m = re.match(r"(?P<y>去年|今年)(?P<part>底|年底|初|年初)?", text)
    if m and not re.match(r"(?:去年|今年)[0-9一二三四五六七八九十]+月", text):
        year = today.year - (1 if m.group("y") == "去年" else 0)
        return Resolved(datetime(year, 1, 1), "year")
    m = _ZH_MONTH_DAY.match(text)
    if m:
        year_text = m.group("y")
        year = {"今": today.year, "去": today.year - 1, "前": today.year - 2}.get(year_text or "")
        if year_text and year is None:
            year = int(zh_number(year_text) or 0) or None
        month = int(zh_number(m.group("mo")) or 0)
        if not 1 <= month <= 12:
            return None
        if m.group("d"):
            when = _past_month_day(today, month, int(zh_number(m.group("d")) or 0), year)
            return _at(when, clock) if when else None
        when = _past_month_day(today, month, None, year)
        return Resolved(datetime(when.year, when.month, 1), "month") if when else None
    if clock and _ZH_CLOCK.match(text):  # a time of day alone: the latest one that has passed
        at = datetime.combine(today, datetime.min.time()).replace(hour=clock[0], minute=clock[1])
        return Resolved(at - timedelta(days=1) if at > now else at, "minute")
    return None


_EN_WEEKDAY = re.compile(
    r"^(?P<rel>last|this|past|previous)? ?(?P<d>monday|tuesday|wednesday|thursday|friday|saturday|sunday)",
    re.IGNORECASE,
)


# "last fri", "this wed.": a weekday cut short, as typed, after the word that says which week.
_EN_WEEKDAY_SHORT = re.compile(r"^((?:last|this|past|previous) )(mon|tue|wed|thu|fri|sat|sun)(?:s|rs?)?\.?(?![a-z])")
_EN_MONTHS = {name.lower(): i for names in (calendar.month_name, calendar.month_abbr)
              for i, name in enumerate(names) if name} | {"sept": 9}
# A month alone ("in October", "sometime in september", "early Nov"): that month, the latest not after today.
_EN_MONTH_ALONE = re.compile(
    rf"(?:{EN_MONTH_AS_A_WHOLE} )?(?:early |late |mid-?)?(?P<month>[a-z]+)\.?(?: (?P<year>[0-9]{{4}}))?")


_EN_COUNTS = _EN_HOURS | {"a": 1, "an": 1, "a couple of": 2, "couple of": 2, "half a": 0.5, "half an": 0.5}
# "2 days ago", "about 3 months back", "half a year ago"; "a few days ago" is vague (_VAGUE_DAYS).
_EN_AGO = re.compile(
    rf"^(?P<n>[0-9]{{1,3}}|{'|'.join(sorted(_EN_COUNTS, key=len, reverse=True))}) (?P<unit>day|week|month|hour|year)s?"
    r" (?:ago|back|before now)\b")


_PART_BEGINS = {"this afternoon": 12, "this evening": 17, "tonight": 17}


# "Friday 6th November 2026", "Fri, Nov 6": the weekday the date fell on; the date says which day.
_EN_MONTH_NAME = "|".join(_EN_MONTHS)
_EN_WEEKDAY_BEFORE_A_DATE = re.compile(
    rf"^(?:{EN_WEEKDAY_SAID})\.?,? "
    rf"(?=(?:the )?[0-9]{{1,2}}(?:st|nd|rd|th)?(?: of)? (?:{_EN_MONTH_NAME})\b|(?:{_EN_MONTH_NAME})\.? [0-9])",
    re.IGNORECASE)


def _resolve_en(text: str, now: datetime) -> Resolved | None:
    today = now.date()
    lowered = _EN_WEEKDAY_SHORT.sub(
        lambda m: m.group(1) + next(d for d in _EN_WEEKDAYS if d.startswith(m.group(2))), text.lower())
    month = _EN_MONTH_ALONE.fullmatch(lowered)
    if month and month.group("month") in _EN_MONTHS:
        number = _EN_MONTHS[month.group("month")]
        year = int(month.group("year") or (today.year if number <= today.month else today.year - 1))
        return Resolved(datetime(year, number, 1), "month") if (year, number) <= (today.year, today.month) else None
    m = _EN_AGO.match(lowered)
    if m:
        n = _EN_COUNTS.get(m.group("n")) or float(m.group("n"))
        return _ago(n, m.group("unit"), now, _clock_en(lowered[m.end():]))
    m = _EN_WEEKDAY.match(lowered)
    if m:
        weekday = _EN_WEEKDAYS[m.group("d")]
        back = (today.weekday() - weekday) % 7
        if m.group("rel") == "this":
            day = _monday(today) + timedelta(days=weekday)
            if day > today:
                return None
        else:
            day = today - timedelta(days=back or (7 if m.group("rel") else 0))
        clock = _clock_en(lowered)
        if day == today and clock and datetime.combine(today, datetime.min.time()).replace(
                hour=clock[0], minute=clock[1]) > now.replace(tzinfo=None):
            day -= timedelta(weeks=1)  # "Tuesday morning about 10.15", said on a Tuesday at 8: last week's
        return _at(day, clock)
    for phrase, offset in (("the day before yesterday", -2), ("day before yesterday", -2), ("yesterday", -1),
                           ("last night", -1), ("this morning", 0), ("this afternoon", 0), ("this evening", 0),
                           ("earlier today", 0), ("today", 0), ("tonight", 0)):
        if lowered.startswith(phrase):
            if now.hour < _PART_BEGINS.get(phrase, 0):
                return None  # "tonight" said in the morning is still ahead: a deadline or a threat, not when
            return _at(today + timedelta(days=offset), _clock_en(lowered[len(phrase):]))
    if lowered.startswith("just now"):
        return Resolved(now.replace(second=0, microsecond=0), "minute")
    if lowered in ("last week", "last weekend", "earlier this week", "this week"):
        back = 0 if "this" in lowered else 1
        monday = _monday(today) - timedelta(weeks=back)
        if lowered == "last weekend":
            return _at(monday + timedelta(days=5), None)
        return Resolved(datetime.combine(monday, datetime.min.time()), "week")
    if lowered in ("last month", "this month", "earlier this month"):
        first = today.replace(day=1)
        if lowered == "last month":
            first = (first - timedelta(days=1)).replace(day=1)
        return Resolved(datetime(first.year, first.month, 1), "month")
    if lowered in ("last year", "this year"):
        return Resolved(datetime(today.year - (lowered == "last year"), 1, 1), "year")
    return None


_ISO_DATE = re.compile(r"(?P<y>[0-9]{4})[-/.](?P<m>[0-9]{1,2})[-/.](?P<d>[0-9]{1,2})")
_SLASHED_DATE = re.compile(r"(?P<a>[0-9]{1,2})/(?P<b>[0-9]{1,2})(?:/(?P<y>[0-9]{4}|[0-9]{2}))?(?![0-9/])")


def _resolve_slashed(text: str, now: datetime) -> Resolved | None:
    """'25/11/2024' and '11/25/2024' are both 25 November: a date is read the only way it can be; when both
    readings are dates ('5/3/2024'), day first. Without a year ('14/11'), the latest such day not after today."""
    m = _SLASHED_DATE.match(text)
    if not m:
        return None
    a, b = int(m.group("a")), int(m.group("b"))
    day, month = (b, a) if b > 12 >= a else (a, b)
    if m.group("y") is None:
        when = _past_month_day(now.date(), month, day, None)
    else:
        year = int(m.group("y"))
        try:
            when = date(year + (2000 if year < 100 else 0), month, day)
        except ValueError:
            when = None
    if when is None:
        return None
    return _at(when, _clock_en(text[m.end():]) or _clock_zh(text[m.end():]))


def _resolve_iso(text: str) -> Resolved | None:
    """'2024-03-05', '2024/3/5': year first is never ambiguous."""
    m = _ISO_DATE.match(text)
    if not m:
        return None
    try:
        day = date(int(m.group("y")), int(m.group("m")), int(m.group("d")))
    except ValueError:
        return None
    return _at(day, _clock_zh(text[m.end():]) or _clock_en(text[m.end():]))


_PARSER: DateDataParser | None = None


def _dateparser(text: str, now: datetime) -> Resolved | None:
    """dateparser for the rest: "5 March 2024", "2024-03-05", "3 days ago", "2024年3月5日"."""
    global _PARSER
    if _PARSER is None:
        _PARSER = DateDataParser(
            languages=["en", "zh"],
            settings={"PREFER_DATES_FROM": "past", "RETURN_AS_TIMEZONE_AWARE": False, "DATE_ORDER": "DMY"},
        )
    _PARSER._settings.RELATIVE_BASE = now  # type: ignore[attr-defined]
    cleaned = re.sub(r"(?<=[0-9])(?:st|nd|rd|th)\b", "", text, flags=re.IGNORECASE)
    cleaned = re.sub(r"^(?:on|in|at|around|about) (?:the )?", "", cleaned, flags=re.IGNORECASE)
    # "Nov 20, around 3:50pm": the words that soften a clock are not the date's.
    cleaned = re.sub(rf",? (?:(?:{EN_CLOCK_LEAD_WORDS}) )+(?=[0-9])", " ", cleaned, flags=re.IGNORECASE)
    data = _PARSER.get_date_data(cleaned)
    if data is None or data.date_obj is None:
        return None
    at = data.date_obj.replace(tzinfo=None)
    precision = {"time": "minute", "day": "day", "week": "week", "month": "month", "year": "year"}.get(
        data.period or "day", "day"
    )
    if precision == "day" and (at.hour or at.minute) and re.search(r"[0-9]{1,2}[:.][0-9]{2}|am|pm|点", cleaned):
        precision = "minute"
    clock = _clock_en(cleaned) if precision == "minute" and not re.search(f"[{CJK}]", cleaned) else None
    if clock:
        at = at.replace(hour=clock[0], minute=clock[1])  # read as the rest of English clocks are ("at 2:30")
    return Resolved(at, precision)


# A weekday without its week after a month ("10月份，具体哪天忘了，是个星期六") says what kind of day it was in that
# month, not last week's.
_WEEKDAY_ALONE = re.compile(
    r"(?:周|星期|礼拜)[一二三四五六日天]|(?i:monday|tuesday|wednesday|thursday|friday|saturday|sunday)")


def _clock_alone(said: str) -> bool:
    """A time of day without its day ("晚上八点十五", "4pm")."""
    return bool(_ZH_CLOCK.fullmatch(canonical(said).removesuffix("左右")) or _EN_CLOCK.fullmatch(said))


def _when_words(said: str, finds: list[Find]) -> str:
    """The words that say when: the first time found, with a second that completes it, right after it ("2024年3月5日
    下午3点") or, a time of day alone, later in the answer ("昨天又来了三条，晚上八点十五还在发")."""
    first = finds[0]
    if len(finds) == 1:
        return said[first.start: first.end]
    # The weekday of the day said names the same day ("Nov 28, the Saturday, … around 10:15"): the clock after it
    # is that day's.
    later = [f for f in finds[1:] if not _WEEKDAY_ALONE.fullmatch(canonical(f.value))] or finds[1:]
    second = later[0]
    if second.start - first.end <= 2:
        return said[first.start: second.end]
    if _clock_alone(second.value):
        # Apart, so the day's last word is not read into the clock ("周四" + "十点": not "周四十点"), with the part of
        # the day said between them ("周二那天下午，三点四十").
        between = _ZH_DAY_PART.findall(said[first.end: second.start])
        return f"{said[first.start: first.end]} {between[-1] if between else ''}{said[second.start: second.end]}"
    return said[first.start: first.end]


_EN_PART_AT_END = re.compile(r"(?i),?\s*(?:in the |at )?(?:morning|afternoon|evening|night|lunchtime)$")
_CLOCK_LEAD_AT_END = re.compile(rf"[\s,]*(?:(?:{EN_CLOCK_LEAD_WORDS})\s*)*$", re.IGNORECASE)


def _day_then_clock(expression: str, now: datetime) -> Resolved | None:
    """A day, then a clock no date parser reads ("the 27th of november, around quarter past 4", "Nov 3 at
    4 o'clock", "9th of October half 4") or only the part of the day ("Nov 30 in the evening"): the day read
    alone, at that clock."""
    for m in _EN_CLOCK.finditer(expression):
        clock = _en_clock_of(m, expression)
        day_words = _CLOCK_LEAD_AT_END.sub("", expression[: m.start()])
        day = resolve_time(day_words, now) if clock and day_words else None
        if day is not None and day.precision == "day":
            return _at(day.at.date(), clock)
    part = _EN_PART_AT_END.search(expression)
    day = resolve_time(expression[: part.start()], now) if part and part.start() else None
    return day if day is not None and day.precision == "day" else None


def resolve_time(text: str, now: datetime | None = None) -> Resolved | None:
    """When something happened, from the customer's words; None if unclear or in the future."""
    now = (now or datetime.now()).replace(microsecond=0)
    said = canonical(text).strip()
    finds = find_times(said)
    expression = _EN_WEEKDAY_BEFORE_A_DATE.sub("", _when_words(said, finds) if finds else said)
    if not expression or len(expression) > 60:
        return None
    resolved = (_resolve_iso(expression) or _resolve_slashed(expression, now) or _resolve_vague(expression, now)
                or _resolve_day_only(expression, now)
                or _resolve_zh(expression, now) or _resolve_en(expression, now))
    if resolved is None and finds:
        resolved = _dateparser(expression, now)
    if resolved is None and not finds and len(expression) <= 30 and re.search(r"[0-9]", expression):
        resolved = _dateparser(expression, now)
    if resolved is None:
        resolved = _day_then_clock(expression, now)
    if (resolved and resolved.precision in ("week", "month", "year") and len(finds) > 1
            and not _clock_alone(finds[1].value) and not _WEEKDAY_ALONE.fullmatch(canonical(finds[1].value))):
        # "从上个月就开始了，最近一次是上周二", "10月尾開始改，第一次係10月28號": the day said beats the month.
        day = resolve_time(said[finds[1].start:], now)
        resolved = day if day and day.precision in ("day", "minute") else resolved
    if resolved is None:
        return None
    if resolved.precision == "minute" and resolved.at > now + timedelta(minutes=5):
        return None
    if resolved.at.date() > now.date():
        return None
    return resolved


def with_day_of(recorded: str | None, day: str) -> str:
    """A corrected day ("it was the 17th") keeps the time of day recorded before (09:35 on the 18th -> the 17th)."""
    clock = re.fullmatch(r"\d{4}-\d{2}-\d{2}(T\d{2}:\d{2})", recorded or "")
    return day + clock.group(1) if clock and re.fullmatch(r"\d{4}-\d{2}-\d{2}", day) else day


def warm_up() -> None:
    """dateparser loads its language data on first use: do it before the first customer waits for it."""
    dateparser.parse("yesterday", languages=["en"])
    resolve_time("3 days ago")
    digits("0")
