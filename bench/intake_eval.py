"""Simulated customers complain through the web chat; each case the intake opens is scored against their facts.

A measurement of the bot's intake, not a test of the gateway: 100 English customers built from CFPB complaint
narratives (bench/intake_eval/customers_en.json, made by make_customers_en.py there) and 60 Chinese customers of a
securities firm written by hand (customers_zh.json, ten of them in Traditional characters). None of it comes
from the bot's training data, and none of it may go there: a bot tuned on these conversations would pass them
without getting better at anything else.

Each customer talks like a person: opens with a greeting, a headline, anger, a threat or a question, and gives
a fact only when the bot's last message asks for it (read by keywords in both languages; a question it cannot
read gets the next fact not yet given, or "ok"). Contact: a phone, an email, or none ("I don't have one");
some type their email address on its own in the middle of the conversation. At most MAX_TURNS messages; the
conversation ends with the gateway's case frame (a complete record or a handover to a person).

Everything is real: Redis, the action server, Rasa with the trained model, a gateway (``complaint-gateway
serve``) reached on its web chat WebSocket; each case is read back through the agent API. Each customer
connects from an address of its own on the loopback network (127.0.x.y), as customers do, so the web chat's
per-address caps see one customer each.

Scores, per customer and measure (None: cannot be judged for this customer; without a case every measure of
the record fails):
- story: the case's description holds at least 30% of the story's content words (English) or Chinese
  character pairs;
- contact: the phone's digits or the email match, or a customer who gave none is recorded as declining;
- product: the product code;
- date: the incident date (and time, when the customer gave one);
- place, people: the key words, when the customer said them, in the story or answering where or who (a
  surname said as 姓吕 is kept by 吕经理 or 小吕);
- language: every bot message answering a message without language (an email address, digits, "ok", a date)
  is in the conversation's language;
- forbidden: no bot message uses a phrase complaint rules forbid (FORBIDDEN: 不可能, "not our fault", ...).

Relative dates ("yesterday", 上周五) are resolved against the day the conversation starts in Asia/Shanghai.
The goal is 95% on every measure and language; a missed goal is printed, not an error (exit 0 unless the
system could not start). Transcripts, cases and scores go to var/bench/intake_eval.jsonl.

    .venv/bin/python -m bench.intake_eval [--lang en|zh] [--limit N] [--only ID,...] [--concurrency 4]
                                          [--set NAME]

``--set`` runs a held-out set instead (``customers_<language>_<name>.json``), 40 customers each, written by
someone who had read neither the bot's rules nor the other sets: ``fresh``, ``second``, ``final``, ``fourth`` and
from ``fifth`` on one set a round, each written while the one before it was read, measured before it was read,
then read to correct the rules on principles; from ``fifteenth`` on two at a time, one read and the other kept
unread to judge the corrections (bot/README.md, "Intake evaluation", says which set was measured at which
commit). The sets up to ``twentysecond`` are what the bot's product model learns from
(bot/actions/product_stories_zh.json lists them); the later ones judge it and stay out of it. ``english_first``
to ``english_tenth`` are English customers of a securities firm (Hong Kong, Singapore, the US, the UK), written
the same way; the first eight teach the English product model (product_stories_en.json), the last two judge it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import random
import re
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp

from bench._common import LOG_DIR, add_account, bot, embedded_redis, gateway, say, table
from gateway import supervisor
from tests.support.chat_client import ChatClient

DATA = Path(__file__).resolve().parent / "intake_eval"
RESULTS = LOG_DIR / "intake_eval.jsonl"
GOAL = 0.95
MAX_TURNS = 14
SEED = 20250611
SHANGHAI = ZoneInfo("Asia/Shanghai")
DESK = "bench-intake-eval"
MEASURES = ("story", "contact", "product", "date", "place", "people", "language", "forbidden")
LANGUAGES = ("en", "zh")
STORY_SHARE = 0.30
FIRST_REPLY_WAIT = 90.0  # seconds for the bot's first message of a turn (a slow turn, not a lost one)
QUIET = 1.0  # seconds of silence after which a turn's messages are all in
CASE_WAIT = 30.0  # seconds for the case frame once the bot said the record is complete

# What the complaint rules forbid saying to a customer (arguing, denying, blaming), with the shorter forms.
FORBIDDEN = ("不可能", "不会有这样的事", "不會有這樣的事", "无法受理", "無法受理", "责任不在", "責任不在", "我们没有错",
             "我們沒有錯", "我们营业部没有错", "impossible", "not our fault", "that can't have happened",
             "that cannot have happened")

Customer = dict[str, Any]
Frame = dict[str, Any]


# ---------------------------------------------------------------------------------------- what the bot asks

# Each kind of question and the words that give it away, in both languages and scripts.
CUES: dict[str, tuple[str, ...]] = {
    "case": ("case number", "案件编号", "案件編號"),
    "confirm": ("is that right", "is this right", "is that correct", "is this correct", "did i get that right",
                "can you confirm", "对吗", "對嗎", "是否正确", "是否正確", "对不对", "對不對", "确认一下", "確認一下"),
    "anything_else": ("anything else", "还有什么", "還有什麼", "还有其他", "還有其他"),
    "name": ("your name", "call you", "称呼", "稱呼", "姓名", "名字"),
    # not a bare 电话 or "phone": "在哪里（营业部、APP还是电话）" and "by phone" ask where, not for a number
    "contact": ("phone number", "your phone", "number", "mobile", "reach you", "contact you", "contact details",
                "电话号码", "電話號碼", "手机号", "手機號", "联系电话", "聯繫電話", "您的电话", "您的電話", "留个电话",
                "留個電話", "号码", "號碼", "联系您？", "聯繫您？", "聯絡您？", "联系方式", "聯繫方式", "聯絡方式"),
    "email": ("email", "e-mail", "邮箱", "郵箱", "电子邮件", "電子郵件"),
    "account": ("account number", "资金账号", "資金帳號", "资金账户", "資金帳戶"),
    "story": ("what happened", "describe", "tell me more", "more detail", "what went wrong", "how can i help",
              "how may i help", "what can i do for you", "经过", "經過", "发生了什么", "發生了什麼", "描述", "细节",
              "細節", "什么问题", "什麼問題", "可以帮您", "可以幫您"),
    "product": ("which service", "which product", "what service", "哪项业务", "哪項業務", "什么业务", "什麼業務"),
    "when": ("when", "what date", "the date", "a date", "rough date", "what time", "which day", "什么时候", "什麼時候",
             "时间", "時間", "日期", "哪天"),
    "where": ("where", "which branch", "哪里", "哪裡", "地点", "地點", "哪个营业部", "哪個營業部"),
    "who": ("who was", "who were", "who did", "who handled", "who served", "who dealt", "which member of staff",
            "staff member", "staff involved", "if so, who",
            "是谁", "是誰", "哪位", "哪些人", "人员", "人員", "经办人", "經辦人"),
    "amount": ("how much", "amount", "多少钱", "多少錢", "金额", "金額"),
    "offer": ("would you like to make a complaint", "需要登记投诉吗", "需要登記投訴嗎"),
    "desired": ("like us to do", "what do you want", "how would you like", "希望我们", "希望我們", "如何处理",
                "如何處理", "诉求", "訴求", "您希望"),
}
# The bot saying the record is complete, or that a person takes over: the case frame follows.
DONE_CUES = ("has been recorded", "take over", "marked this as urgent", "已经登记", "已經登記", "接手")


# A sentence that asks something: a question, or a request ("please", 请).
ASKING = re.compile(r"[?？]\s*$|\bplease\b|\btell me\b|\bmay i\b|请|請|告诉我|告訴我")


def asked(text: str, buttons: Sequence[Frame]) -> list[str]:
    """The kinds of question in a bot message, in the order it asks them: read in the sentences that ask
    (a question, a request), or in the whole message when none does."""
    sentences = re.findall(r"[^.?!。？！]+[.?!。？！]*", text)
    asking = [s for s in sentences if ASKING.search(s.strip().lower())]
    lowered = " ".join(asking or [text]).lower()
    if any(cue in lowered for cue in CUES["case"]):
        return ["case"]
    found: dict[str, int] = {}
    for kind, cues in CUES.items():
        # "account number" asks for the account, not for a phone number
        where = lowered if kind == "account" else _blanked(lowered, CUES["account"])
        positions = [where.find(cue) for cue in cues if cue in where]
        if positions:
            found[kind] = min(positions)
    if any(_complain_button(b) for b in buttons):
        return ["offer"]
    if buttons and "product" not in found:
        found["product"] = len(lowered)
    if "contact" in found and "email" in found:
        del found["email"]  # "which phone number (or email address)": any contact will do
    return sorted(found, key=lambda kind: found[kind])


def _complain_button(button: Frame) -> bool:
    """A button that starts a complaint ("Make a complaint", 登记投诉), as the bot's greeting offers."""
    title = str(button.get("title") or "").lower()
    return any(word in title for word in ("make a complaint", "登记投诉", "登記投訴"))


def _blanked(text: str, cues: Sequence[str]) -> str:
    """The text with the cues replaced by spaces (positions kept)."""
    for cue in cues:
        text = text.replace(cue, " " * len(cue))
    return text


# ------------------------------------------------------------------------------------------ the customer

# What customers say besides their facts: (Simplified, Traditional) for Chinese, one text for English.
CANNED: dict[str, dict[str, tuple[str, ...]]] = {
    "no_contact": {"en": ("I don't have one", "I'd rather not give my number", "none"),
                   "zh": ("没有", "不想留", "不方便留"), "zh-Hant": ("沒有", "不想留", "不方便留")},
    "no_contact_again": {"en": ("I said no, I don't want to leave any contact details",),
                         "zh": ("我说了不想留联系方式",), "zh-Hant": ("我說了不想留聯繫方式",)},
    "no_account": {"en": ("I don't have it with me",), "zh": ("不记得了",), "zh-Hant": ("不記得了",)},
    "no_case": {"en": ("I don't have one, this is a new complaint",), "zh": ("没有，这是新的投诉",),
                "zh-Hant": ("沒有，這是新的投訴",)},
    "yes": {"en": ("yes", "Yes, that's right", "correct"), "zh": ("对", "是的", "对的", "ok"),
            "zh-Hant": ("對", "是的", "對的", "ok")},
    "nothing_else": {"en": ("No, that's all",), "zh": ("没有了",), "zh-Hant": ("沒有了",)},
    "no_place": {"en": ("Nowhere in particular",), "zh": ("没有具体地点",), "zh-Hant": ("沒有具體地點",)},
    "no_people": {"en": ("No one in particular",), "zh": ("没有具体的人",), "zh-Hant": ("沒有具體的人",)},
    "ok": {"en": ("ok",), "zh": ("好的", "ok", "嗯"), "zh-Hant": ("好的", "ok", "嗯")},
    "no_amount": {"en": ("I'm not sure of the exact amount",), "zh": ("具体金额记不清了",),
                  "zh-Hant": ("具體金額記不清了",)},
    "want_to_complain": {"en": ("yes", "Yes, I want to complain", "yes please"), "zh": ("是的", "对，我要投诉", "要"),
                         "zh-Hant": ("是的", "對，我要投訴", "要")},
}
NAME_FORMS: dict[str, tuple[str, ...]] = {"en": ("{}", "My name is {}", "{}"), "zh": ("{}", "我叫{}", "{}")}
PHONE_FORMS: dict[str, tuple[str, ...]] = {"en": ("My number is {}", "you can call me on {}"),
                                           "zh": ("我的电话是{}", "手机{}"), "zh-Hant": ("我的電話是{}", "手機{}")}
EMAIL_FORMS: dict[str, tuple[str, ...]] = {"en": ("You can email me at {}", "my email is {}"),
                                           "zh": ("邮箱是{}", "发我邮箱 {}"), "zh-Hant": ("郵箱是{}", "發我郵箱 {}")}
WHEN_FORMS: dict[str, tuple[str, ...]] = {"en": ("{}", "It happened {}", "{}"), "zh": ("{}",)}
# The words on the bot's product buttons that name each product.
BUTTON_WORDS: dict[str, tuple[str, ...]] = {
    "brokerage_account": ("brokerage", "证券账户", "證券帳戶"),
    "online_trading": ("online", "网上", "網上"),
    "margin_trading": ("margin", "融资融券", "融資融券"),
    "funds_wealth": ("fund", "wealth", "基金", "理财", "理財"),
    "ipo_subscription": ("ipo", "新股"),
    "bank_securities_transfer": ("transfer", "withdrawal", "银证转账", "銀證轉賬", "出入金"),
    "fees_commissions": ("fee", "commission", "手续费", "手續費", "佣金"),
    "dividends_corporate_actions": ("dividend", "corporate action", "分红", "分紅", "公司行动"),
    "branch_service": ("branch", "营业部", "營業部"),
    "other": ("other", "其他"),
}
FACT_ORDER = ("story", "name", "contact", "when", "desired")


@dataclass
class Simulated:
    """One customer in conversation: what they have said so far, and what they say next."""

    customer: Customer
    rng: random.Random
    revealed: set[str] = field(default_factory=set)
    refusals: int = 0
    email_turn: int = 0  # when the customer types their email address unprompted (0: never)

    def __post_init__(self) -> None:
        if self.customer["contact"]["email_midway"]:
            self.email_turn = 1 + self.rng.randrange(2)  # before the bot asks: right after its first or second turn

    @property
    def facts(self) -> dict[str, Any]:
        return dict(self.customer["facts"])

    @property
    def voice(self) -> str:
        """The canned-phrase table to use: en, zh, or zh-Hant for customers who write Traditional."""
        return "zh-Hant" if self.customer["script"] == "Hant" else self.customer["language"]

    def canned(self, key: str) -> str:
        return self.rng.choice(CANNED[key][self.voice])

    def form(self, forms: dict[str, tuple[str, ...]], value: str) -> str:
        return self.rng.choice(forms.get(self.voice) or forms[self.customer["language"]]).format(value)

    def opening(self) -> str:
        return str(self.customer["opening"]["text"])

    def midway_email(self, turn: int) -> str | None:
        """The email address typed on its own, unprompted, at the customer's chosen turn (or None)."""
        if turn != self.email_turn or "contact" in self.revealed:
            return None
        self.revealed.add("contact")
        return str(self.customer["contact"]["email"])

    def answer(self, text: str, buttons: Sequence[Frame]) -> str:
        """The reply to the bot's last message: the facts it asks for (all of them if the customer is
        thorough, else the first not yet given), or the next fact not yet given, or "ok"."""
        kinds = asked(text, buttons)
        if not kinds:
            kinds = [next((k for k in FACT_ORDER if k not in self.revealed), "ok")]
        fresh = [k for k in kinds if k not in self.revealed] or kinds[:1]
        if len(fresh) > 1:  # in a long answer, only what the customer knows
            fresh = [k for k in fresh if self.knows(k)] or fresh[:1]
        if not self.customer["thorough"]:
            fresh = fresh[:1]
        if "product" in fresh and buttons:
            fresh = ["product"]  # a button press is a message of its own
        parts = [self.say(kind, buttons) for kind in fresh]
        joiner = " " if self.customer["language"] == "en" else "，"
        return joiner.join(_sentence(p, self.customer["language"]) for p in parts) if len(parts) > 1 else parts[0]

    def knows(self, kind: str) -> bool:
        """Whether the customer has something to say to this kind of question (a place, people, an amount)."""
        facts = {"where": "place", "who": "people"}
        return kind != "amount" and (kind not in facts or bool(self.facts[facts[kind]]))

    def say(self, kind: str, buttons: Sequence[Frame]) -> str:
        """What the customer says to one kind of question."""
        facts = self.facts
        self.revealed.add(kind)
        if kind == "story":
            return str(facts["story"])
        if kind == "name":
            return self.form(NAME_FORMS, self.customer["name"])
        if kind in ("contact", "email"):
            self.revealed.add("contact")
            return self.contact()
        if kind == "product":
            return self.product(buttons)
        if kind == "when":
            return self.form(WHEN_FORMS, facts["time"]["text"])
        if kind == "desired":
            return str(facts["desired"])
        if kind == "where":
            return str(facts["place"]["text"]) if facts["place"] else self.canned("no_place")
        if kind == "who":
            return str(facts["people"]["text"]) if facts["people"] else self.canned("no_people")
        if kind == "offer":
            return self.take_offer(buttons)
        simple = {"case": "no_case", "confirm": "yes", "anything_else": "nothing_else", "account": "no_account",
                  "amount": "no_amount"}
        return self.canned(simple.get(kind, "ok"))

    def contact(self) -> str:
        contact = self.customer["contact"]
        if contact["kind"] == "none":
            self.refusals += 1
            return self.canned("no_contact" if self.refusals == 1 else "no_contact_again")
        value = str(contact["phone"] if contact["kind"] == "phone" else contact["email"])
        if contact["bare"]:
            return value
        return self.form(PHONE_FORMS if contact["kind"] == "phone" else EMAIL_FORMS, value)

    def take_offer(self, buttons: Sequence[Frame]) -> str:
        """Yes to "would you like to make a complaint?": press its button, or say so."""
        pressed = next((b for b in buttons if _complain_button(b)), None)
        if pressed is not None and self.rng.random() < 0.5:
            return str(pressed.get("payload") or pressed.get("title"))
        return self.canned("want_to_complain")

    def product(self, buttons: Sequence[Frame]) -> str:
        """Press the button of the product, or type how the customer names it."""
        words = BUTTON_WORDS[self.facts["product"]]
        for button in buttons:
            label = f"{button.get('title', '')} {button.get('payload', '')}".lower()
            if any(word in label for word in words):
                return str(button.get("payload") or button.get("title"))
        return str(self.facts["product_words"])


def _sentence(text: str, language: str) -> str:
    """One part of a combined answer, ending as a sentence does in the language."""
    text = text.strip()
    if language == "en":
        return text if text[-1:] in ".!?" else text + "."
    return text.rstrip("。！？!?，,")


# ------------------------------------------------------------------------------------------ the web chat


class Chat(ChatClient):
    """A web chat session as a browser holds it: hello, messages, and every frame the server sends."""

    REFUSE_ERRORS = True

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        super().__init__(ws)
        self.transcript: list[dict[str, Any]] = []
        self.case_id: str | None = None

    @classmethod
    async def open(cls, http: aiohttp.ClientSession, url: str, language: str) -> Chat:
        return await cls.connect(http, url, language=language)

    async def _receive(self, quiet: float) -> Frame | None:
        """The next frame, or None after ``quiet`` seconds of silence or when the socket ends."""
        try:
            return await self.next_frame(quiet)
        except ConnectionError:
            return None

    async def turn(self, text: str) -> list[Frame]:
        """Send a message; the bot's (and system's) messages that answer it, once the bot has gone quiet."""
        self.transcript.append({"from": "customer", "text": text})
        await self.post(text, uuid.uuid4().hex)
        replies: list[Frame] = []
        wait = FIRST_REPLY_WAIT
        while True:
            frame = await self._receive(wait)
            if frame is None:
                if self.case_id or not any(_done(r["text"]) for r in replies):
                    return replies
                wait = CASE_WAIT  # the record is complete: the case frame is on its way
                if (frame := await self._receive(wait)) is None:
                    return replies
            if frame["type"] == "case":
                self.case_id = str(frame["case_id"])
                wait = QUIET
            elif frame["type"] == "message" and frame.get("from") in ("bot", "system", "agent"):
                replies.append(frame)
                self.transcript.append({"from": frame["from"], "text": frame["text"],
                                        "buttons": frame.get("buttons") or []})
                wait = QUIET


def _done(text: str) -> bool:
    lowered = text.lower()
    return any(cue in lowered for cue in DONE_CUES)


async def converse(simulated: Simulated, http: aiohttp.ClientSession, ws_url: str) -> Chat:
    """The whole conversation: the opening, then an answer to each bot turn, until a case or MAX_TURNS."""
    chat = await Chat.open(http, ws_url, simulated.customer["language"])
    try:
        replies = await chat.turn(simulated.opening())
        for turn in range(1, MAX_TURNS):
            if chat.case_id:
                break
            message = simulated.midway_email(turn)
            if message is None:
                last: Frame = replies[-1] if replies else {"text": "", "buttons": []}
                message = simulated.answer(str(last["text"]), last.get("buttons") or [])
            replies = await chat.turn(message)
    finally:
        await chat.close()
    return chat


# ---------------------------------------------------------------------------------------------- scoring

CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_STOP = """
a about after again all also am an and any are as at be been before being but by can could did do does done for
from had has have he her him his how i if in into is it its just me more my no not now of on once only or other
our out over own said same she so some such than that the their them then there these they this those through
to too up very was we were what when where which while who why will with would you your i'm i've don't didn't
"""
STOP_WORDS = frozenset(_STOP.split())


def content_words(text: str) -> set[str]:
    """Lowercase words of two letters or more, without the stop list and CFPB's redactions (XXXX)."""
    words = re.findall(r"[a-z]+(?:'[a-z]+)?", text.lower())
    return {w for w in words if len(w) > 1 and w not in STOP_WORDS and not re.fullmatch(r"x+", w)}


def character_pairs(text: str) -> set[str]:
    """Pairs of neighbouring Chinese characters (within a run of Chinese characters)."""
    return {run[i:i + 2] for run in re.findall(r"[\u3400-\u9fff\uf900-\ufaff]+", text) for i in range(len(run) - 1)}


def story_units(text: str, language: str) -> set[str]:
    return character_pairs(text) if language == "zh" else content_words(text)


def expected_date(rule: str, today: date) -> str:
    """What the customer's words mean on ``today``: an ISO date, or a month (YYYY-MM).

    Rules: ``2025-03-05`` (as is), ``month:2025-03``, ``md:03-05`` (the latest 5 March not after today),
    ``days_ago:N``, ``last_weekday:W`` ("last Friday": the latest Friday before today, Monday = 0),
    ``last_week:W`` (上周五: that day of the Monday-to-Sunday week before this one), ``months_ago:N``.
    """
    kind, _, value = rule.partition(":")
    if not value:
        return rule
    if kind == "month":
        return value
    if kind == "md":
        month, day = (int(part) for part in value.split("-"))
        this_year = date(today.year, month, day)
        return (this_year if this_year <= today else date(today.year - 1, month, day)).isoformat()
    n = int(value)
    if kind == "days_ago":
        return (today - timedelta(days=n)).isoformat()
    if kind == "last_weekday":
        return (today - timedelta(days=(today.weekday() - n) % 7 or 7)).isoformat()
    if kind == "last_week":
        return (today - timedelta(days=today.weekday() + 7 - n)).isoformat()
    if kind == "months_ago":
        months = today.year * 12 + today.month - 1 - n
        return f"{months // 12}-{months % 12 + 1:02d}"
    raise ValueError(f"unknown date rule {rule!r}")


@dataclass
class Outcome:
    """What one conversation left behind: the customer, the transcript, the case (if any), the day it began."""

    customer: Customer
    revealed: set[str]
    transcript: list[dict[str, Any]]
    case: dict[str, Any] | None
    today: date  # in Asia/Shanghai, when the conversation began
    machine_today: date  # on this machine's clock, which the bot reads
    error: str | None = None

    def complaint(self) -> dict[str, Any]:
        return dict((self.case or {}).get("complaint") or {})

    def customer_record(self) -> dict[str, Any]:
        return dict((self.case or {}).get("customer") or {})


def score_story(o: Outcome) -> bool:
    """At least 30% of the story's content words (English) or character pairs (Chinese) are in the case's
    description."""
    language = o.customer["language"]
    story = story_units(o.customer["facts"]["story"], language)
    held = story_units(str(o.complaint().get("description") or ""), language)
    return o.case is not None and len(story & held) >= STORY_SHARE * len(story)


def _digits(value: Any) -> str:
    return re.sub(r"\D", "", str(value or ""))


def score_contact(o: Outcome) -> bool:
    """The phone's digits (as the customer typed them, or the number in E.164) or the email match; a customer
    who gave none is recorded as declining: ``contact_declined`` true or, where the record has no such field,
    neither a phone nor an email (a refusal such as "没有" kept as the phone is a failure)."""
    if o.case is None:
        return False
    contact, record = o.customer["contact"], o.customer_record()
    if contact["kind"] == "phone":
        return _digits(record.get("phone")) in {_digits(contact["phone"]), _digits(contact["phone_e164"])}
    if contact["kind"] == "email":
        return str(record.get("email") or "").lower() == str(contact["email"]).lower()
    declined = record.get("contact_declined")
    if declined is not None:
        return declined is True
    return not record.get("phone") and not record.get("email")


def score_product(o: Outcome) -> bool:
    """The case's product code is the customer's."""
    return o.case is not None and o.complaint().get("product") == o.customer["facts"]["product"]


def score_date(o: Outcome) -> bool:
    """The incident date is the one the customer meant (and the time too, when they said one: the clock is in
    the words they answer "when?" with, so a customer never asked never said it); a month said
    as a month ("上个月") must be recorded as that month."""
    if o.case is None:
        return False
    said = o.customer["facts"]["time"]
    expected = expected_date(said["expected"], o.today)
    recorded = str(o.complaint().get("incident_time") or "")
    if len(expected) == 7:
        return recorded == expected
    if recorded[:10] != expected:
        return False
    return said["time"] is None or "when" not in o.revealed or recorded[11:16] == said["time"]


def _kept(o: Outcome, fact: str, field_name: str) -> bool | None:
    given = o.customer["facts"][fact]
    answered = {"place": "where", "people": "who"}[fact] in o.revealed
    story = o.customer["facts"]["story"].lower()
    if not given or not (answered or "story" in o.revealed):
        return None  # the customer never said it
    if not answered and not any(key.lower() in story for key in given["keys"]):
        return None  # said in an answer the customer never gave ("who?" never asked), not in the story
    recorded = str(o.complaint().get(field_name) or "").lower()
    return o.case is not None and all(key.lower() in recorded or _surname_kept(key, recorded) for key in given["keys"])


def _surname_kept(key: str, recorded: str) -> bool:
    """A surname said as "姓吕" is kept by a record that names the person by it ("吕经理", "小吕")."""
    said = re.fullmatch(r"姓(\w{1,2})", key)
    if said is None:
        return False
    surname = said.group(1)
    titled = rf"{surname}(?:经理|經理|先生|小姐|女士|主管|总|總|老师|老師|生|姐|哥)|[姓小老阿]{surname}"
    return bool(re.search(titled, recorded))


def score_place(o: Outcome) -> bool | None:
    """When the customer named a place, the case's place holds its key words."""
    return _kept(o, "place", "place")


def score_people(o: Outcome) -> bool | None:
    """When the customer named people involved, the case's people_involved holds their key words."""
    return _kept(o, "people", "people_involved")


def languageless(text: str) -> bool:
    """A message that says nothing of its language: an email address, digits, a date in figures, "ok"."""
    if CJK.search(text):
        return False
    words = re.findall(r"[A-Za-z]+", EMAIL.sub(" ", text))
    return all(word.lower() in ("ok", "okay", "k") for word in words)


def language_of(text: str) -> str:
    return "zh" if CJK.search(text) else "en"


def score_language(o: Outcome) -> bool | None:
    """Every bot message answering a customer message without language is in the conversation's language
    (not judged when the customer sent no such message, or the bot did not answer it)."""
    judged, after_languageless = False, False
    for line in o.transcript:
        if line["from"] == "customer":
            after_languageless = languageless(line["text"])
        elif after_languageless:
            judged = True
            if language_of(line["text"]) != o.customer["language"]:
                return False
    return True if judged else None


def score_forbidden(o: Outcome) -> bool:
    """No bot message says a forbidden phrase, except where it repeats the customer's own words (a phrase
    with its neighbouring words found in what the customer wrote)."""
    said = " ".join(line["text"] for line in o.transcript if line["from"] == "customer").lower()
    for line in o.transcript:
        if line["from"] == "customer":
            continue
        text = line["text"].lower()
        for phrase in FORBIDDEN:
            for found in re.finditer(re.escape(phrase), text):
                before = text[max(0, found.start() - 8):found.end()]
                after = text[found.start():found.end() + 8]
                if before not in said and after not in said:
                    return False
    return True


SCORERS: dict[str, Callable[[Outcome], bool | None]] = {
    "story": score_story, "contact": score_contact, "product": score_product, "date": score_date,
    "place": score_place, "people": score_people, "language": score_language, "forbidden": score_forbidden,
}


def scores(o: Outcome) -> dict[str, bool | None]:
    return {measure: SCORERS[measure](o) for measure in MEASURES}


# ---------------------------------------------------------------------------------------------- the run


def held_out_sets() -> list[str]:
    """The held-out sets in DATA: customers_<language>_<set>.json."""
    return sorted({path.stem.split("_", 2)[2] for path in DATA.glob("customers_*_*.json")})


def load(languages: Sequence[str], limit: int | None, only: set[str], held_out: str | None = None) -> list[Customer]:
    customers: list[Customer] = []
    for language in languages:
        path = DATA / f"customers_{language}{f'_{held_out}' if held_out else ''}.json"
        if held_out and not path.exists():
            continue
        group = json.loads(path.read_text(encoding="utf-8"))
        if only:
            group = [c for c in group if c["id"] in only]
        customers.extend(group[:limit] if limit else group)
    return customers


class Desk:
    """A supervisor reading cases through the agent API."""

    def __init__(self, http: aiohttp.ClientSession, base_url: str, token: str) -> None:
        self.http, self.base_url, self.headers = http, base_url, {"Authorization": f"Bearer {token}"}

    @classmethod
    async def log_in(cls, http: aiohttp.ClientSession, base_url: str, password: str) -> Desk:
        async with http.post(f"{base_url}/api/login", json={"name": DESK, "password": password}) as response:
            response.raise_for_status()
            return cls(http, base_url, (await response.json())["token"])

    async def case(self, case_id: str) -> dict[str, Any]:
        async with self.http.get(f"{self.base_url}/api/cases/{case_id}", headers=self.headers) as response:
            response.raise_for_status()
            case: dict[str, Any] = await response.json()
            return case


def customer_address(n: int) -> str:
    """A loopback address of the customer's own: 127.0.1.2, 127.0.1.3, ..."""
    return f"127.0.{1 + n // 250}.{2 + n % 250}"


async def one_customer(n: int, customer: Customer, ws_url: str, desk: Desk) -> Outcome:
    simulated = Simulated(customer, random.Random(f"{SEED}:{customer['id']}"))
    today, machine_today = datetime.now(SHANGHAI).date(), date.today()
    connector = aiohttp.TCPConnector(local_addr=(customer_address(n), 0))
    chat: Chat | None = None
    try:
        async with aiohttp.ClientSession(connector=connector) as http:
            chat = await converse(simulated, http, ws_url)
        case = await desk.case(chat.case_id) if chat.case_id else None
        return Outcome(customer, simulated.revealed, chat.transcript, case, today, machine_today)
    except (aiohttp.ClientError, OSError, RuntimeError, TimeoutError) as exc:
        transcript = chat.transcript if chat else []
        return Outcome(customer, simulated.revealed, transcript, None, today, machine_today,
                       error=f"{type(exc).__name__}: {exc}")


async def run_all(customers: Sequence[Customer], ws_url: str, base_url: str, password: str,
                  concurrency: int) -> list[Outcome]:
    gate = asyncio.Semaphore(concurrency)
    done = 0

    async def guarded(n: int, customer: Customer) -> Outcome:
        nonlocal done
        async with gate:
            outcome = await one_customer(n, customer, ws_url, desk)
        done += 1
        ended = "no case" if outcome.case is None else outcome.case.get("handoff_reason", "case")
        say(f"[{done}/{len(customers)}] {customer['id']}: {ended}" + (f" ({outcome.error})" if outcome.error else ""))
        return outcome

    async with aiohttp.ClientSession() as http:
        desk = await Desk.log_in(http, base_url, password)
        return list(await asyncio.gather(*(guarded(n, c) for n, c in enumerate(customers))))


@contextlib.contextmanager
def running_system() -> Iterator[tuple[str, str, str]]:
    """Redis, the bot and a gateway with its own record; the web chat URL, the gateway URL, a desk password."""
    with tempfile.TemporaryDirectory(prefix="bench-intake-eval-") as folder:
        database_url = f"sqlite+aiosqlite:///{folder}/record.db"
        with (embedded_redis() as redis_url, bot() as rasa,
              gateway("intake-eval", redis_url, rasa["intake"], DATABASE_URL=database_url) as gw):
            yield gw.ws_url, gw.url, add_account(redis_url, DESK, database_url=database_url)


# --------------------------------------------------------------------------------------------- reporting


def save(outcomes: Sequence[Outcome], results: Sequence[dict[str, bool | None]], held_out: str | None) -> Path:
    path = RESULTS.with_stem(f"{RESULTS.stem}_{held_out}") if held_out else RESULTS
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        for outcome, result in zip(outcomes, results, strict=True):
            f.write(json.dumps({"id": outcome.customer["id"], "scores": result, "error": outcome.error,
                                "today": outcome.today.isoformat(), "revealed": sorted(outcome.revealed),
                                "transcript": outcome.transcript, "case": outcome.case}, ensure_ascii=False) + "\n")
    return path


def report(outcomes: Sequence[Outcome], results: Sequence[dict[str, bool | None]], saved: Path) -> None:
    languages = [lang for lang in LANGUAGES if any(o.customer["language"] == lang for o in outcomes)]
    print()
    endings: list[list[Any]] = []
    for language in languages:
        mine = [o for o in outcomes if o.customer["language"] == language]
        reasons = [o.case.get("handoff_reason", "?") if o.case else "no case" for o in mine]
        turns = [sum(line["from"] == "customer" for line in o.transcript) for o in mine]
        endings.append([language, len(mine), *(reasons.count(r) for r in ("complete", "high_risk",
                        "customer_request", "fallback")), reasons.count("no case"), sum(turns) / len(turns)])
    table(["language", "customers", "complete", "high risk", "asked for person", "fallback", "no case",
           "turns (mean)"], endings)
    print()
    rows, lines = [], []
    for measure in MEASURES:
        for language in languages:
            judged = [r[measure] for o, r in zip(outcomes, results, strict=True)
                      if o.customer["language"] == language and r[measure] is not None]
            if not judged:
                rows.append([measure, language, 0, 0, "-", "not judged"])
                continue
            share = sum(bool(v) for v in judged) / len(judged)
            verdict = "met" if share >= GOAL else "MISSED"
            rows.append([measure, language, sum(bool(v) for v in judged), len(judged), f"{share:.2f}", verdict])
            lines.append(f"intake_{measure}_{language}: ratio {share:.2f} (goal {GOAL:g})"
                         + (" MISSED" if verdict == "MISSED" else ""))
    table(["measure", "language", "passed", "judged", "share", f"goal {GOAL:g}"], rows)
    print()
    clock_note(outcomes, languages)
    say(f"conversations, cases and scores: {saved}")
    for line in lines:
        say(line)


def clock_note(outcomes: Sequence[Outcome], languages: Sequence[str]) -> None:
    """When this machine's date was not Shanghai's, the date measure judged by the machine's calendar too: the
    bot resolves "yesterday" on the machine's clock, and the difference is the clock's, not the words'."""
    apart = [o for o in outcomes if o.machine_today != o.today]
    if not apart:
        return
    shares = []
    for language in languages:
        mine = [o for o in outcomes if o.customer["language"] == language]
        passed = sum(score_date(dataclasses.replace(o, today=o.machine_today)) for o in mine)
        shares.append(f"{language} {passed}/{len(mine)}")
    say(f"note: {len(apart)} conversations ran while this machine's date was not Asia/Shanghai's; the date measure "
        f"judged by the machine's calendar instead: {', '.join(shares)}")
    print()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lang", choices=LANGUAGES, help="one language only (default both)")
    parser.add_argument("--limit", type=int, help="the first N customers of each language")
    parser.add_argument("--only", default="", help="customer ids, comma-separated (e.g. en-007,zh-031)")
    parser.add_argument("--concurrency", type=int, default=4, help="conversations at once (default 4)")
    parser.add_argument("--set", dest="held_out", choices=held_out_sets(),
                        help="a held-out set instead (customers_<lang>_<set>.json)")
    args = parser.parse_args()
    customers = load([args.lang] if args.lang else LANGUAGES, args.limit, set(filter(None, args.only.split(","))),
                     args.held_out)
    if not customers:
        parser.error("no customer matches")
    started = time.perf_counter()
    with running_system() as (ws_url, base_url, password):
        say(f"{len(customers)} simulated customers, {args.concurrency} at a time; "
            f"model {supervisor.bot_fingerprint()[:12]}, today in Asia/Shanghai {datetime.now(SHANGHAI).date()} "
            f"(on this machine {date.today()})")
        outcomes = asyncio.run(run_all(customers, ws_url, base_url, password, args.concurrency))
    results = [scores(o) for o in outcomes]
    saved = save(outcomes, results, args.held_out)
    say(f"{len(outcomes)} conversations in {time.perf_counter() - started:.0f} s")
    report(outcomes, results, saved)
    if all(o.error for o in outcomes):
        say("every conversation failed: the system did not work")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
