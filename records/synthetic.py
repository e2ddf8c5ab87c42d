"""Synthetic complaints for demos, benchmarks and tests: never for a real record.

``generate_cases(n, seed, start, end)`` yields rows for the ``cases`` table (``records.tables.CaseRow``
column names as keys), each with a case document shaped like the ones ``handoff.cases`` writes. The same seed
gives the same cases, so a test or a benchmark can be repeated exactly.

What makes them realistic enough to measure search and reports on:
- Chinese and English complaints (about 70/30) about the desk's products, with the words that fire the risk
  rules when a case's rules say so, contacts in each language's usual shape, and mixed channels;
- contacts as the bot and the channels store them: phones in E.164 (+8613912345678), emails as given;
- a pool of complainants smaller than the number of cases, so some people complain more than once;
- a lifecycle consistent in time: acknowledged, then answered, then closed, each after a skewed delay (most
  quick, a few slow, some past their deadline), and only what has happened by ``as_of`` (default: ``end``);
- satisfaction scores from about a third of the answered complainants, worse when the complaint was not upheld.

Deadlines are simple offsets (one day to acknowledge, fifteen to answer), not a holiday calendar: the
figures built on them need only be consistent, not lawful.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from handoff.ids import ALPHABET
from handoff.risk import PRIORITY_BY_GRADE

PRODUCTS = (
    "brokerage_account", "online_trading", "margin_trading", "funds_wealth", "ipo_subscription",
    "bank_securities_transfer", "fees_commissions", "dividends_corporate_actions", "branch_service", "other",
)
CHANNELS = ("webchat", "sms", "voice", "transcript", "email")
OUTCOMES = ("upheld", "partially_upheld", "not_upheld", "withdrawn")
ACKNOWLEDGE_WITHIN = timedelta(days=1)
RESPOND_WITHIN = timedelta(days=15)
REPEAT_WINDOW = timedelta(days=90)  # as the risk rules' repeat_complainant

_PRODUCT_WEIGHTS = (14, 18, 10, 12, 5, 9, 11, 6, 10, 5)
_CHANNEL_WEIGHTS = (40, 15, 20, 10, 15)
_OUTCOME_WEIGHTS = (30, 20, 40, 10)

_ZH_COMPLAINTS = {
    "brokerage_account": ["开户{days}天了账户还没有激活，客服一直说在审核", "我的证券账户被冻结了，没有任何通知"],
    "online_trading": ["手机APP下单后一直显示处理中，错过了卖出时机，损失{amount}元",
                       "交易软件{when}闪退，委托没有成交"],
    "margin_trading": ["融资融券账户被强制平仓，没有收到追加保证金通知，亏了{amount}元", "两融利息算错了，多扣了钱"],
    "funds_wealth": ["客户经理推荐的理财产品亏了三成，当时说是保本的", "基金赎回{days}天了钱还没到账"],
    "ipo_subscription": ["新股申购中签了但是没有扣款，结果被算作弃购", "打新额度显示不对，申购失败"],
    "bank_securities_transfer": ["银证转账转出{amount}元，银行那边一直没到账", "{when}转账失败了三次，钱被扣了却没到"],
    "fees_commissions": ["佣金比开户时说的高了一倍，要求退还多收的费用", "同一笔交易被收了两次手续费"],
    "dividends_corporate_actions": ["上个月的分红到现在都没有到账", "送转股没有到账，持仓数量不对"],
    "branch_service": ["营业部的工作人员态度很差，办业务等了{days}个小时", "去营业部销户被一再推脱"],
    "other": ["收到很多推销电话，要求停止骚扰", "对账单上有看不懂的扣费"],
}
_EN_COMPLAINTS = {
    "brokerage_account": ["My account has been pending activation for {days} days",
                          "My account was frozen without notice"],
    "online_trading": ["The trading app hung on my sell order and I lost {amount} dollars",
                       "The app crashed {when} and my order never went through"],
    "margin_trading": ["My margin account was liquidated without any margin call, losing {amount} dollars",
                       "The margin interest was calculated wrongly"],
    "funds_wealth": ["The adviser sold me a fund as capital protected and it lost a third",
                     "I redeemed my fund {days} days ago and still have no money"],
    "ipo_subscription": ["I was allotted IPO shares but the payment was never taken", "My IPO application failed"],
    "bank_securities_transfer": ["I transferred {amount} dollars out and the bank never received it",
                                 "The transfer failed three times {when} but the money left my account"],
    "fees_commissions": ["The commission is double what I was promised, refund the difference",
                         "I was charged a commission twice for one trade"],
    "dividends_corporate_actions": ["Last month's dividend has still not been paid", "My bonus shares never arrived"],
    "branch_service": ["The branch staff were rude and I waited {days} hours",
                       "The branch keeps refusing to close my account"],
    "other": ["Stop the marketing calls", "There are charges on my statement nobody can explain"],
}
# What a complainant says that fires each rule: (Chinese, English).
_RULE_WORDS = {
    "regulator_threat": ("不解决我就向证监会投诉", "I will complain to the regulator and the SEC"),
    "media_threat": ("我要找媒体曝光你们", "I will go to the newspaper"),
    "legal_action": ("我已经找了律师准备起诉", "my lawyer is preparing a lawsuit"),
    "fraud": ("有人冒用我的身份盗刷", "someone used my identity, this is fraud"),
    "vulnerable_customer": ("我是退休老人，看不懂这些", "I am disabled and could not follow this"),
    "anger": ("你们简直是骗子，太气人了", "this is a disgrace, absolutely useless"),
    "large_sum": ("涉及资金五十万元", "it involves $250,000"),
}
_RULE_WEIGHTS = {"regulator_threat": 50, "media_threat": 40, "legal_action": 40, "fraud": 40,
                 "vulnerable_customer": 30, "anger": 10, "large_sum": 30, "repeat_complainant": 20}
_RULE_ODDS = {"regulator_threat": 0.05, "media_threat": 0.04, "legal_action": 0.05, "fraud": 0.03,
              "vulnerable_customer": 0.04, "anger": 0.15, "large_sum": 0.08}
_ZH_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高"
_ZH_GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华"
_EN_FIRST = ("James", "Mary", "John", "Linda", "David", "Susan", "Tom", "Amy", "Peter", "Grace", "Ravi", "Mei")
_EN_LAST = ("Smith", "Jones", "Taylor", "Brown", "Wilson", "Evans", "Baker", "Ho", "Patel", "Chan", "Wright")
_WANTS = (("希望尽快处理并给个说法", "要求赔偿我的全部损失", "请把钱退回来"),
          ("Please sort this out quickly", "I want full compensation", "Refund the money please"))
_GREETINGS = (("你好，我要投诉", "我叫{name}，电话{phone}", "就这些，谢谢"),
              ("Hi, I want to make a complaint", "My name is {name}", "That is all, thanks"))
_WHEN_ZH = ("昨天下午", "上周三", "今天上午", "上个月15号")
_WHEN_EN = ("yesterday", "last Wednesday", "this morning", "on the 15th")


@dataclass(frozen=True, slots=True)
class _Person:
    language: str
    name: str
    phone: str | None
    email: str | None
    account_id: str | None


def generate_cases(
    n: int, seed: int, start: date | datetime, end: date | datetime, *, as_of: datetime | None = None
) -> Iterator[dict[str, Any]]:
    """``n`` cases received between ``start`` and ``end`` (dates are UTC midnights), oldest first."""
    rng = random.Random(seed)
    begin, finish = _instant(start), _instant(end)
    as_of = as_of or finish
    people = [_person(rng) for _ in range(max(1, int(n * 0.8)))]
    span = (finish - begin).total_seconds()
    moments = sorted(begin + timedelta(seconds=rng.uniform(0, span)) for _ in range(n))
    used: set[str] = set()
    last_seen: dict[int, datetime] = {}
    for created in moments:
        # One case in seven comes from the most persistent 5% of the pool; the rest from anyone.
        frequent = rng.random() < 0.15
        who = rng.randrange(max(1, len(people) // 20) if frequent else len(people))
        repeat = who in last_seen and created - last_seen[who] <= REPEAT_WINDOW
        last_seen[who] = created
        yield _case(rng, people[who], created, as_of, _unique_id(rng, created, used), repeat)


def _instant(moment: date | datetime) -> datetime:
    if isinstance(moment, datetime):
        return moment.astimezone(UTC)
    return datetime.combine(moment, time(), tzinfo=UTC)


def _unique_id(rng: random.Random, created: datetime, used: set[str]) -> str:
    while True:
        case_id = f"C-{created:%y%m%d}-" + "".join(rng.choice(ALPHABET) for _ in range(4))
        if case_id not in used:
            used.add(case_id)
            return case_id


def _person(rng: random.Random) -> _Person:
    if rng.random() < 0.7:
        name = rng.choice(_ZH_SURNAMES) + "".join(rng.choice(_ZH_GIVEN) for _ in range(rng.choice((1, 2))))
        phone = f"+861{rng.choice('35789')}{rng.randrange(10**9):09d}"
        user, host = rng.choice(("wang", "li", "zhang", "chen")), rng.choice(("qq.com", "163.com"))
        email = f"{user}{rng.randrange(10**5)}@{host}"
        return _Person("zh", name, phone, email if rng.random() < 0.3 else None, _account(rng))
    first, last = rng.choice(_EN_FIRST), rng.choice(_EN_LAST)
    phone = f"+447700{rng.randrange(10**6):06d}"
    email = f"{first}.{last}{rng.randrange(1000)}@example.com".lower()
    return _Person("en", f"{first} {last}", phone if rng.random() < 0.6 else None, email, _account(rng))


def _account(rng: random.Random) -> str | None:
    return f"88{rng.randrange(10**8):08d}" if rng.random() < 0.7 else None


def _case(
    rng: random.Random, person: _Person, created: datetime, as_of: datetime, case_id: str, repeat: bool
) -> dict[str, Any]:
    product = rng.choices(PRODUCTS, _PRODUCT_WEIGHTS)[0]
    channel = rng.choices(CHANNELS, _CHANNEL_WEIGHTS)[0]
    rules = [rule for rule, odds in _RULE_ODDS.items() if rng.random() < odds]
    description = _description(rng, person.language, product, rules)
    rules += ["repeat_complainant"] if repeat else []
    score = sum(_RULE_WEIGHTS[rule] for rule in rules)
    grade = "high" if score >= 50 else "medium" if score >= 20 else "low"
    times = _lifecycle(rng, created, as_of, grade)
    status = ("closed" if times["closed_at"] else "answered" if times["answered_at"]
              else "claimed" if times["acknowledged_at"] else "queued")
    outcome = rng.choices(OUTCOMES, _OUTCOME_WEIGHTS)[0] if times["answered_at"] else None
    satisfaction = _satisfaction(rng, outcome) if times["answered_at"] else None
    assignee = f"agent{rng.randrange(1, 13)}" if times["acknowledged_at"] else None
    customer = {"name": person.name, "phone": person.phone, "email": person.email, "account_id": person.account_id}
    wants = rng.choice(_WANTS[person.language != "zh"])
    said = [line.format(name=person.name, phone=person.phone or "") for line in _GREETINGS[person.language != "zh"]]
    row: dict[str, Any] = {
        "id": case_id, "channel": channel, "language": person.language, "status": status,
        "priority": PRIORITY_BY_GRADE[grade], "risk_grade": grade, "risk_score": score, "product": product,
        "handoff_reason": "intake_complete", "customer_name": person.name, "phone": person.phone,
        "email": person.email, "account_id": person.account_id, "assignee": assignee, "outcome": outcome,
        "satisfaction": satisfaction, "created_at": created, "updated_at": _last_change(created, times),
        "acknowledge_by": created + ACKNOWLEDGE_WITHIN, "respond_by": created + RESPOND_WITHIN, **times,
        "search_text": " ".join(str(v) for v in (description, wants, *customer.values(), *said) if v).lower(),
    }
    row["document"] = _document(row, customer, {"description": description, "desired_resolution": wants}, rules)
    return row


def _description(rng: random.Random, language: str, product: str, rules: list[str]) -> str:
    zh = language == "zh"
    template = rng.choice((_ZH_COMPLAINTS if zh else _EN_COMPLAINTS)[product])
    amount = rng.choice((3000, 12000, 56000, 88000)) if "large_sum" not in rules else 250000
    text = template.format(days=rng.randrange(2, 30), amount=f"{amount:,}",
                           when=rng.choice(_WHEN_ZH if zh else _WHEN_EN))
    said = [_RULE_WORDS[rule][0 if zh else 1] for rule in rules]
    return ("，" if zh else ". ").join([text, *said]) + ("。" if zh else ".")


def _lifecycle(rng: random.Random, created: datetime, as_of: datetime, grade: str) -> dict[str, datetime | None]:
    """When it was acknowledged, answered and closed: log-normal delays, high risk handled a little sooner."""
    hurry = 0.6 if grade == "high" else 1.0
    acknowledged = created + timedelta(hours=rng.lognormvariate(1.2, 1.0) * hurry)
    answered = acknowledged + timedelta(hours=rng.lognormvariate(4.3, 0.8) * hurry)
    closed = answered + timedelta(hours=rng.lognormvariate(3.0, 1.0))
    times: dict[str, datetime | None] = {"acknowledged_at": None, "answered_at": None, "closed_at": None}
    for name, moment in (("acknowledged_at", acknowledged), ("answered_at", answered), ("closed_at", closed)):
        if moment > as_of:
            break
        times[name] = moment
    return times


def _satisfaction(rng: random.Random, outcome: str | None) -> int | None:
    if rng.random() >= 0.35:
        return None  # most complainants never answer the survey
    weights = (5, 10, 20, 35, 30) if outcome in ("upheld", "partially_upheld") else (30, 30, 20, 12, 8)
    return rng.choices((1, 2, 3, 4, 5), weights)[0]


def _last_change(created: datetime, times: dict[str, datetime | None]) -> datetime:
    return max([created, *(moment for moment in times.values() if moment)])


def _document(
    row: dict[str, Any], customer: dict[str, Any], complaint: dict[str, str], rules: list[str]
) -> dict[str, Any]:
    """The case as the API shows it (``handoff.cases.CaseStore.create`` and the lifecycle after it)."""
    resolution = None
    if row["outcome"]:
        resolution = {"summary": "Reviewed the records and replied to the customer.", "outcome": row["outcome"],
                      "by": row["assignee"]}
    satisfaction = None
    if row["satisfaction"]:
        satisfaction = {"score": row["satisfaction"], "at": _iso(row["answered_at"] + timedelta(hours=2))}
    return {
        "id": row["id"], "channel": row["channel"], "language": row["language"], "status": row["status"],
        "handoff_reason": row["handoff_reason"], "customer": customer,
        "complaint": {"product": row["product"], "incident_time": None, "incident_time_text": None, "place": None,
                      "people_involved": None, **complaint},
        "deadlines": {"acknowledge_by": _iso(row["acknowledge_by"]), "investigate_by": None,
                      "respond_by": _iso(row["respond_by"]), "policy": "synthetic"},
        "unverified": [], "attachments": [], "assignee": row["assignee"], "resolution": resolution,
        "created_at": _iso(row["created_at"]), "updated_at": _iso(row["updated_at"]),
        "risk": {"grade": row["risk_grade"], "score": row["risk_score"], "reasons": list(rules), "rules": rules},
        "priority": row["priority"], "satisfaction": satisfaction,
    }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None
