"""Thirty-four scripted customers, in Chinese (Simplified and Traditional) and English, complain through the real
web chat.

Each kind of customer the bot must handle (step by step, everything at once, angry, threatening, asking for a
person, mistyping a phone number, switching language, asking off-topic or about a case, typing full-width
characters or no punctuation at all, reporting a fraud), and one customer for each point of the conversation
(the story first, place and people, the read-back, declining a contact, a language that stays, securities
words, dates with times, Traditional characters, the compliance team's risk words, questions that are not
complaints), talks to the gateway, which talks to the real Rasa and action servers. Each conversation ends with
a case whose fields are right, and nothing the bot says uses a forbidden phrase (handoff/wording.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from redis import Redis as SyncRedis

from tests.e2e.conftest import AgentApi, Gateway
from tests.support.chat_client import ChatClient, Frame

pytestmark = pytest.mark.e2e

FORBIDDEN = ("不可能", "不会有这样的事", "这事情的责任不在证券公司", "我们营业部没有错",
             "impossible", "that can't have happened", "it is not our fault",
             # An input error is never "complaint refused", and a threat is never sent elsewhere.
             "无法受理", "無法受理", "free to raise this through any channel")
CJK = re.compile(r"[\u4e00-\u9fff]")
# Customers count days on their own clock (Asia/Shanghai, the bot's default), whatever the machine's zone.
TODAY = datetime.now(ZoneInfo("Asia/Shanghai")).date()
NOV_18_YEAR = TODAY.year if (TODAY.month, TODAY.day) >= (11, 18) else TODAY.year - 1


def days_ago(n: int) -> str:
    return (TODAY - timedelta(days=n)).isoformat()


def last_week(weekday: int) -> str:
    """上周五 (weekday 4): that day of the previous Monday-to-Sunday week."""
    return (TODAY - timedelta(days=TODAY.weekday() + 7) + timedelta(days=weekday)).isoformat()


def last_weekday(weekday: int) -> str:
    """'last Friday': the latest Friday before today."""
    return (TODAY - timedelta(days=(TODAY.weekday() - weekday) % 7 or 7)).isoformat()


def phone_ending(digits: str) -> Callable[[Any], bool]:
    return lambda value: isinstance(value, str) and re.sub(r"\D", "", value).endswith(digits)


def contains(*parts: str) -> Callable[[Any], bool]:
    return lambda value: isinstance(value, str) and all(p.lower() in value.lower() for p in parts)


Expected = dict[str, Any]  # case field -> exact value, or a predicate


@dataclass
class Customer:
    name: str
    language: str
    says: list[str]
    case: Expected
    hello: str = "auto"
    handoff_reason: str = "complete"
    # Substrings some reply must contain (a calm answer to anger, the status of a case, ...).
    bot_mentions: list[str] = field(default_factory=list)
    # Every reply in the customer's language, not only the last (messages with no language of their own).
    every_reply_in_language: bool = False


CUSTOMERS = [
    # ---- Chinese customers
    Customer(
        "zh-step-by-step", "zh",
        ["我要投诉", "我昨天下的买单一直没有成交，损失了很多钱", "张三", "13800138000", "希望尽快查明原因并给我答复",
         "不清楚", "没有", "对"],
        {"name": "张三", "phone": phone_ending("13800138000"), "product": "online_trading",
         "incident_time": days_ago(1), "description": "我昨天下的买单一直没有成交，损失了很多钱",
         "desired_resolution": "希望尽快查明原因并给我答复", "place": None, "people_involved": None}),
    Customer(
        "zh-everything-at-once", "zh",
        ["我要投诉，我叫王芳，电话13912345678，资金账号880012345，"
         "2024年3月5日下午3点在上海浦东营业部，客户经理王强推荐的理财产品亏了三成，希望你们给个说法", "对的"],
        {"name": "王芳", "phone": phone_ending("13912345678"), "account_id": "880012345", "product": "funds_wealth",
         "incident_time": "2024-03-05T15:00", "place": "上海浦东营业部", "people_involved": "客户经理王强",
         "desired_resolution": "希望你们给个说法", "description": contains("理财产品亏了三成")}),
    Customer(
        "zh-angry", "zh",
        ["你们这帮骗子！！乱扣我的手续费", "我叫李雷", "垃圾公司", "13700001111", "前天，把多扣的钱退给我", "线上",
         "没有", "对"],
        {"name": "李雷", "phone": phone_ending("13700001111"), "product": "fees_commissions",
         "incident_time": days_ago(2), "description": "你们这帮骗子！！乱扣我的手续费",
         "desired_resolution": "把多扣的钱退给我", "place": "线上"},
        bot_mentions=["理解您现在的心情"]),
    Customer(
        "zh-regulator-threat", "zh",
        ["我的融资融券账户被强制平仓了，完全没有提前通知，再不处理我就去证监会投诉你们", "我叫赵敏",
         "18612345678", "3月5日", "要求赔偿损失", "网上", "没有", "对"],
        {"name": "赵敏", "phone": phone_ending("18612345678"), "product": "margin_trading",
         "incident_time": lambda v: isinstance(v, str) and v.endswith("-03-05"),
         "description": contains("强制平仓", "证监会"), "desired_resolution": "要求赔偿损失"},
        bot_mentions=["非常重视"]),
    Customer(
        "zh-person-mid-form", "zh",
        ["我要投诉", "我的APP一直登录不上", "李娜", "转人工"],
        {"name": "李娜", "phone": None, "description": "我的APP一直登录不上"},
        handoff_reason="customer_request", bot_mentions=["投诉处理专员稍后会接手"]),
    Customer(
        "zh-phone-corrected", "zh",
        ["我要投诉，我叫陈静", "我的分红到现在都没有到账", "12345", "18688889999", "上个月15号，希望尽快发放", "不清楚",
         "没有", "对"],
        {"name": "陈静", "phone": phone_ending("18688889999"), "product": "dividends_corporate_actions",
         "description": "我的分红到现在都没有到账", "desired_resolution": "希望尽快发放",
         "incident_time": lambda v: isinstance(v, str) and v.endswith("-15")},
        bot_mentions=["号码似乎不完整"]),
    Customer(
        "zh-full-width-no-punctuation", "zh",
        ["我要头诉 我的ＡＰＰ登录不上 错过了卖出时机", "我叫周杰", "电话１３９１２３４５６７８",
         "上周五 希望修复系统并说明原因", "线上", "没有", "对"],
        {"name": "周杰", "phone": phone_ending("13912345678"), "product": "online_trading",
         "incident_time": last_week(4), "desired_resolution": "希望修复系统并说明原因"}),
    Customer(
        "zh-mixed-email-and-off-topic", "zh",
        ["我的app转账失败了 钱一直没到账", "今天大盘怎么样", "我叫刘洋", "邮箱是 liuyang@example.com",
         "昨天，请尽快把钱退回来", "线上", "没有", "对"],
        {"name": "刘洋", "email": "liuyang@example.com", "product": "bank_securities_transfer",
         "incident_time": days_ago(1), "description": "我的app转账失败了 钱一直没到账",
         "desired_resolution": "请尽快把钱退回来"},
        bot_mentions=["客服热线"]),
    Customer(
        "zh-switches-to-english", "zh",
        ["我要投诉", "我的新股申购的钱被扣了两次", "黄明", "sorry, can we continue in English please",
         "my number is +852 9123 4567", "yesterday, please refund the extra payment", "online", "no", "yes"],
        {"name": "黄明", "phone": phone_ending("91234567"), "product": "ipo_subscription", "language": "en",
         "incident_time": days_ago(1), "desired_resolution": "please refund the extra payment"}),
    Customer(
        "zh-fraud", "zh",
        ["有人盗用我的账户买了股票，我根本没有操作过", "我叫孙丽", "13700002222", "股票交易（APP/网上）", "昨天下午"],
        {"name": "孙丽", "phone": phone_ending("13700002222"), "product": "online_trading",
         "incident_time": days_ago(1), "description": "有人盗用我的账户买了股票，我根本没有操作过"},
        handoff_reason="high_risk", bot_mentions=["涉及您账户的安全"]),
    # ---- English customers
    Customer(
        "en-step-by-step", "en",
        ["I want to file a complaint", "The app charged me a commission twice for one trade last Friday",
         "John Smith", "+44 7700 900123", "Please refund the extra commission", "online", "no", "yes"],
        {"name": "John Smith", "phone": phone_ending("7700900123"), "product": "fees_commissions",
         "incident_time": last_weekday(4),
         "description": "The app charged me a commission twice for one trade last Friday",
         "desired_resolution": "Please refund the extra commission", "place": "online"}),
    Customer(
        "en-everything-at-once", "en",
        ["Hi, I am Tom Baker, my number is +44 7700 900987 and my account number is 55667788. On 5 March 2024 "
         "the teller Mr Chan at the Central branch refused my withdrawal. I want a written apology.", "yes"],
        {"name": "Tom Baker", "phone": phone_ending("7700900987"), "account_id": "55667788",
         "product": "bank_securities_transfer", "incident_time": "2024-03-05", "place": "Central branch",
         "people_involved": "teller Mr Chan", "desired_resolution": "I want a written apology",
         "description": contains("refused my withdrawal")}, hello="en"),
    Customer(
        "en-angry", "en",
        ["You useless crooks, my sell order was never filled", "Dave Jones", "+1 415 555 0100",
         "yesterday, I want compensation for my loss", "in the app", "no", "yes"],
        {"name": "Dave Jones", "phone": phone_ending("4155550100"), "product": "online_trading",
         "incident_time": days_ago(1), "description": "You useless crooks, my sell order was never filled",
         "desired_resolution": "I want compensation for my loss"},
        bot_mentions=["I understand how upsetting this is"]),
    Customer(
        "en-lawyer-and-press", "en",
        ["My dividend was never paid and my lawyer says I should go to the press", "My name is Linda Park",
         "linda.park@example.com", "two days ago", "I expect the dividend to be paid with interest", "not sure",
         "no one", "yes"],
        {"name": "Linda Park", "email": "linda.park@example.com", "product": "dividends_corporate_actions",
         "incident_time": days_ago(2), "desired_resolution": "I expect the dividend to be paid with interest"},
        bot_mentions=["We take this seriously and will look into it first"]),
    Customer(
        "en-person-at-once", "en",
        ["Hi, I'm Grace Chan, my phone is +852 6234 5678", "I want to talk to a real person"],
        {"name": "Grace Chan", "phone": phone_ending("62345678")},
        handoff_reason="customer_request"),
    Customer(
        "en-phone-twice-wrong", "en",
        ["I want to complain", "My withdrawal has been pending for a week", "Sarah Lee", "12345", "still 123",
         "yesterday", "I want my money back", "online", "no", "yes"],
        {"name": "Sarah Lee", "phone": "still 123", "product": "bank_securities_transfer",
         "incident_time": days_ago(1), "description": "My withdrawal has been pending for a week",
         "desired_resolution": "I want my money back"},
        bot_mentions=["doesn't look complete"]),
    Customer(
        "en-lowercase-typos", "en",
        ["i wanna complain ur trading app keeps crashing when i sell", "my name is amy ho", "amy.ho@example.com",
         "this morning", "fix the app and refund my losses pls", "in the app", "no", "yes"],
        {"name": "Amy Ho", "email": "amy.ho@example.com", "product": "online_trading", "incident_time": days_ago(0),
         "desired_resolution": "fix the app and refund my losses pls"}),
    Customer(
        "en-switches-to-chinese", "en",
        ["I have a complaint about my fund", "My fund redemption has still not arrived after a week", "Wei Zhang",
         "请说中文", "13611112222", "上周三，希望尽快到账", "网上", "没有", "对"],
        {"name": "Wei Zhang", "phone": phone_ending("13611112222"), "product": "funds_wealth", "language": "zh",
         "incident_time": last_week(2), "desired_resolution": "希望尽快到账"}),
    Customer(
        "en-off-topic-mid-form", "en",
        ["I want to make a complaint", "tell me a joke", "I was charged an annual fee I never agreed to",
         "Peter Wong", "+65 8123 4567", "last month", "cancel the fee please", "not sure", "no", "yes"],
        {"name": "Peter Wong", "phone": phone_ending("81234567"), "product": "fees_commissions",
         "incident_time": (TODAY.replace(day=1) - timedelta(days=1)).strftime("%Y-%m"),
         "desired_resolution": "cancel the fee please"},
        bot_mentions=["Let's finish recording your complaint"]),
    Customer(
        "en-fraud", "en",
        ["Someone traded on my account without my permission", "Kevin Ng", "+44 7911 123456",
         "Stock trading (app / online)", "this morning"],
        {"name": "Kevin Ng", "phone": phone_ending("7911123456"), "product": "online_trading",
         "incident_time": days_ago(0), "description": "Someone traded on my account without my permission"},
        handoff_reason="high_risk", bot_mentions=["security of your account"]),
    # ---- One customer for each point of the conversation (bot/README.md, "Conversation")
    Customer(  # 1. A greeting and a headline are not the story: the bot asks what happened, once.
        "story-first-after-a-headline", "en",
        ["Hello, I'd like to report a problem", "My withdrawal was rejected twice on Monday and nobody told me why",
         "Tom Green", "tom.green@example.com", "I want the withdrawal processed", "online", "no", "yes"],
        {"name": "Tom Green", "email": "tom.green@example.com", "product": "bank_securities_transfer",
         "description": "My withdrawal was rejected twice on Monday and nobody told me why",
         "desired_resolution": "I want the withdrawal processed"},
        hello="en", bot_mentions=["Could you tell me what happened"]),
    Customer(  # 1. An outburst is not the story either; what the customer adds later joins it.
        "story-first-after-an-outburst", "zh",
        ["你们这帮骗子!", "上周一我的银证转账转出五万，到现在都没到银行卡", "我叫马超", "13566667777", "希望尽快到账",
         "网上", "还有，客服电话也一直打不通", "对"],
        {"name": "马超", "phone": phone_ending("13566667777"), "product": "bank_securities_transfer",
         "description": "上周一我的银证转账转出五万，到现在都没到银行卡\n还有，客服电话也一直打不通",
         "people_involved": None},
        bot_mentions=["理解您现在的心情", "请您讲一讲事情的经过"]),
    Customer(  # 2. Where and who: asked once each, and "不清楚" / "没有" end the question.
        "place-and-people-skipped", "zh",
        ["我买的基金赎回一周了还没到账", "我叫李华", "13612345678", "上周一，希望尽快到账", "不清楚", "没有", "对"],
        {"name": "李华", "product": "funds_wealth", "place": None, "people_involved": None,
         "incident_time": last_week(0)},
        bot_mentions=["发生在哪里", "有没有涉及我们的工作人员"]),
    Customer(  # 3. The read-back, and a correction in the customer's own words.
        "read-back-corrected", "zh",
        ["我上周五在APP里挂的卖单没成交，亏了两万", "我叫王刚", "13812345678", "希望查明原因", "线上", "没有",
         "电话错了，是13912345678", "对"],
        {"name": "王刚", "phone": phone_ending("13912345678"), "product": "online_trading",
         "incident_time": last_week(4), "desired_resolution": "希望查明原因"},
        bot_mentions=["我跟您核对一下", "对吗", "139****5678"]),
    Customer(  # 4. No phone, no email: a decline is an answer, never a phone number.
        "contact-declined", "zh",
        ["我的转账三天了还没到账", "我叫马丽", "没有", "不想留", "昨天，希望尽快到账", "线上", "没有", "对"],
        {"name": "马丽", "phone": None, "email": None, "product": "bank_securities_transfer",
         # None until the gateway maps the bot's contact_declined into the case (bot/README.md, the contract).
         "contact_declined": lambda v: v in (True, None)},
        bot_mentions=["电子邮箱"]),
    Customer(  # 5. An email address, digits or "ok" have no language: the conversation stays in Chinese.
        "language-stays", "zh",
        ["我的APP下单一直失败", "我叫高明", "gaoming@example.com", "ok", "昨天，希望修复", "线上", "没有", "对"],
        {"name": "高明", "email": "gaoming@example.com", "product": "online_trading", "language": "zh"},
        every_reply_in_language=True),
    Customer(  # 6. Securities words: "stock trading" is stock trading, not "other".
        "securities-words", "en",
        ["I want to complain about my stock trading", "The price I got was far worse than the price on screen",
         "Ken Lo", "+852 6123 4567", "yesterday, I want the difference back", "in the app", "no", "yes"],
        {"name": "Ken Lo", "product": "online_trading", "incident_time": days_ago(1)}),
    Customer(  # 7. A date with a time keeps both, on the customer's clock.
        "date-and-time", "en",
        ["On November 18 at 9:35am my sell order was rejected with an error", "Mia Wong", "mia.wong@example.com",
         "I want an explanation", "in the app", "no", "yes"],
        {"name": "Mia Wong", "incident_time": f"{NOV_18_YEAR}-11-18T09:35", "product": "online_trading"}),
    Customer(  # 8. Traditional characters: understood, and answered in Traditional characters.
        "traditional-chinese", "zh",
        ["你們的APP昨天閃退了三次，我的單子沒掛上，虧了五千", "我叫陳大文", "+852 9123 4567", "希望賠償損失", "線上",
         "沒有", "對"],
        {"name": "陳大文", "product": "online_trading", "incident_time": days_ago(1),
         "description": "你們的APP昨天閃退了三次，我的單子沒掛上，虧了五千"},
        bot_mentions=["請問您怎麼稱呼"]),
    Customer(  # 9. The compliance team's words: 央视 is a media threat because risk_rules.toml says so.
        "risk-words-from-compliance", "zh",
        ["客户经理说理财保本，结果亏了一半，不给说法我就找央视", "我叫吴敏", "13755556666", "上个月，希望赔偿损失",
         "不清楚", "不记得叫什么了", "对"],
        {"name": "吴敏", "product": "funds_wealth", "people_involved": "客户经理"},
        bot_mentions=["非常重视"]),
    Customer(  # 1. A one-line account typed first is kept, and the customer is asked once for more.
        "headline-then-details", "zh",
        ["交易软件又卡死了！", "昨天上午十点挂的两笔卖单一直没成交，界面一直转圈，亏了三千多", "我叫许静",
         "13911112222", "希望赔偿损失", "线上", "没有", "对"],
        {"name": "许静", "product": "online_trading", "incident_time": f"{days_ago(1)}T10:00",
         "description": "交易软件又卡死了！\n昨天上午十点挂的两笔卖单一直没成交，界面一直转圈，亏了三千多"},
        bot_mentions=["能再具体讲一讲吗"]),
    Customer(  # 6. A product the firm does not offer is "other", in the customer's words; a US number is +1.
        "not-our-product", "en",
        ["My credit card was billed twice for the same purchase and the bank will not reverse it", "Nina Alvarez",
         "646-555-0199", "last Tuesday", "I want the second charge reversed", "no idea", "nobody", "yes"],
        {"name": "Nina Alvarez", "phone": "+16465550199", "product": "other", "incident_time": last_weekday(1),
         "desired_resolution": "I want the second charge reversed"}, hello="en"),
    Customer(  # An answer the NLU takes for another question still answers the question asked.
        "answers-are-answers", "en",
        ["I want to complain", "I was charged the annual account fee three times on one statement",
         "Olga Petrova", "you can write to me at o.petrova@example.org", "last month",
         "I want the two extra fees refunded", "online", "no", "yes"],
        {"name": "Olga Petrova", "email": "o.petrova@example.org", "product": "fees_commissions",
         "desired_resolution": "I want the two extra fees refunded"}, hello="en"),
    Customer(  # 10. A question that is not a complaint: the hotline, and an offer to record it.
        "question-gets-the-hotline", "en",
        ["what time do you close on Saturday?",
         "ok then I want to complain, the branch closed early on Saturday and I couldn't get my documents",
         "Ruth Lam", "+852 6987 6543", "Branch service", "I want the opening hours respected", "Nathan Road branch",
         "no", "yes"],
        {"name": "Ruth Lam", "place": contains("Nathan Road"), "product": "branch_service"},
        hello="en", bot_mentions=["customer service hotline", "record it"]),
]

CASE_FIELDS = {"name": ("customer", "name"), "phone": ("customer", "phone"), "email": ("customer", "email"),
               "account_id": ("customer", "account_id"), "product": ("complaint", "product"),
               "incident_time": ("complaint", "incident_time"), "place": ("complaint", "place"),
               "people_involved": ("complaint", "people_involved"), "description": ("complaint", "description"),
               "desired_resolution": ("complaint", "desired_resolution"), "language": ("language",),
               "contact_declined": ("customer", "contact_declined")}


# One login for all the customers, as a handler keeps one session open (logins are counted per address).
_HANDLER_HEADERS: dict[str, dict[str, str]] = {}


async def handler(http: aiohttp.ClientSession, gateway: Gateway, account: tuple[str, str]) -> AgentApi:
    api = AgentApi(http, gateway.url)
    if gateway.url not in _HANDLER_HEADERS:
        await api.login(*account)
        _HANDLER_HEADERS[gateway.url] = api.headers
    api.headers = _HANDLER_HEADERS[gateway.url]
    return api


@pytest.fixture(autouse=True)
def own_address(e2e_redis: str) -> Iterator[None]:
    """Each scripted customer is someone else, as if from an address of their own: the cap on new chats per
    address (channels/webchat/channel.py) counts afresh, before and after."""

    def forget() -> None:
        client = SyncRedis.from_url(e2e_redis)
        try:
            for key in client.scan_iter("cg:webchat:client:*:new"):
                client.delete(key)
        finally:
            client.close()

    forget()
    yield
    forget()


async def turn(chat: ChatClient, text: str) -> list[Frame]:
    """Say one thing and wait for the whole answer (the bot's replies, and the case when one opens)."""
    ack = await chat.send(text)
    assert ack["type"] == "ack", ack
    first = await chat.expect(lambda f: f["type"] == "message" and f["from"] in ("bot", "system"), timeout=60)
    return [first, *await chat.drain(quiet=0.5)]


def said_by_bot(frames: list[Frame]) -> list[str]:
    return [str(f["text"]) for f in frames if f["type"] == "message" and f["from"] in ("bot", "system") and f["text"]]


def check_case(case: dict[str, Any], customer: Customer) -> None:
    expected = {"language": customer.language, **customer.case}
    for key, want in expected.items():
        got: Any = case
        for part in CASE_FIELDS[key]:
            got = got.get(part) if isinstance(got, dict) else None
        if callable(want):
            assert want(got), f"{customer.name}: {key} = {got!r}"
        else:
            assert got == want, f"{customer.name}: {key} = {got!r}, expected {want!r}"
    assert case["handoff_reason"] == customer.handoff_reason, customer.name


async def complain(http: aiohttp.ClientSession, gateway: Gateway, customer: Customer) -> tuple[list[str], Frame]:
    chat = await ChatClient.connect(http, gateway.ws_url, language=customer.hello)
    replies: list[str] = []
    case_frame: Frame | None = None
    try:
        for i, text in enumerate(customer.says):
            frames = await turn(chat, text)
            replies += said_by_bot(frames)
            cases = [f for f in frames if f["type"] == "case"]
            if cases:
                assert i == len(customer.says) - 1, f"{customer.name}: case opened after {text!r}: {replies}"
                case_frame = cases[0]
        assert case_frame is not None, f"{customer.name}: no case; the bot said {replies}"
    finally:
        await chat.close()
    return replies, case_frame


@pytest.mark.parametrize("customer", CUSTOMERS, ids=[c.name for c in CUSTOMERS])
async def test_a_customer_complains_and_the_case_has_the_right_fields(
    customer: Customer, gateway: Gateway, agent_account: tuple[str, str], http: aiohttp.ClientSession
) -> None:
    replies, case_frame = await complain(http, gateway, customer)

    for reply in replies:
        for phrase in FORBIDDEN:
            assert phrase.lower() not in reply.lower(), (customer.name, reply)
    for mention in customer.bot_mentions:
        assert any(mention in reply for reply in replies), f"{customer.name}: no {mention!r} in {replies}"
    # Answered in the customer's language, to the end (after a switch, in the new one).
    # (The recap in parentheses repeats the customer's own words, in whatever script they wrote.)
    last_bot_reply = re.sub(r"[（(][^)）]*[)）]", "", replies[-2] if len(replies) > 1 else replies[-1])
    assert bool(CJK.search(last_bot_reply)) == (customer.case.get("language", customer.language) == "zh"), replies
    if customer.every_reply_in_language:
        for reply in replies:
            assert bool(CJK.search(re.sub(r"[（(][^)）]*[)）]", "", reply))) == (customer.language == "zh"), reply

    api = await handler(http, gateway, agent_account)
    case = await api.call("GET", f"/api/cases/{case_frame['case_id']}")
    check_case(case, customer)


async def test_a_customer_asks_about_a_case_and_hears_its_status(
    gateway: Gateway, agent_account: tuple[str, str], http: aiohttp.ClientSession
) -> None:
    """The bot asks the gateway's bot API; a case just opened is queued."""
    first = CUSTOMERS[0]
    _, case_frame = await complain(http, gateway, first)
    case_id = case_frame["case_id"]
    for language, question, status in (("zh", f"我的投诉 {case_id.lower()} 处理得怎么样了", "已受理"),
                                       ("en", f"what is the status of {case_id}", "waiting for a complaint handler")):
        chat = await ChatClient.connect(http, gateway.ws_url, language=language)
        try:
            replies = said_by_bot(await turn(chat, question))
            assert any(case_id in r and status in r for r in replies), replies
            unknown = said_by_bot(await turn(chat, "C-250101-AAAA" if language == "en" else "查一下C-250101-AAAA"))
            assert any("C-250101-AAAA" in r for r in unknown), unknown
            assert not [f for f in chat.frames if f["type"] == "case"]
        finally:
            await chat.close()
