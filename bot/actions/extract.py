"""Finds the parts of a complaint record in what customers write, with plain regular expressions.

Shared by the NLU pipeline (``components/record_entities.py`` turns the finds into entities) and the
action server (which also resolves and validates them, see ``fields.py``).

Every finder reads ``canonical(text)``: full-width letters and digits as ASCII, Traditional characters as
Simplified (``chinese.py``), the same length as the text, so the offsets of a find are offsets in what the
customer typed; values in Chinese are cut from what the customer typed, in their own script.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import phonenumbers

from .chinese import to_simplified
from .risk_words import FLAGS, find_flags

# With Extension B, where Simplified Cantonese characters live ("嗰" becomes "𠮶").
CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002a6df"
_HAN = f"[{CJK}]"


def halfwidth(text: str) -> str:
    """Full-width ASCII (common with Chinese input methods) as ASCII; same length as the input."""
    return "".join(
        chr(ord(ch) - 0xFEE0) if "\uff01" <= ch <= "\uff5e" else " " if ch == "\u3000" else ch for ch in text
    )


def canonical(text: str) -> str:
    """What the finders read: half-width, Simplified; the same length as ``text``."""
    return to_simplified(halfwidth(text))


@dataclass(frozen=True, slots=True)
class Find:
    entity: str
    start: int
    end: int
    value: str


def _overlaps(a: Find, taken: Iterable[Find]) -> bool:
    return any(a.start < b.end and b.start < a.end for b in taken)


# ---------------------------------------------------------------------------------------------------
# Contact details, accounts and case numbers

_NOT_BEFORE_NUMBER = r"(?<![0-9A-Za-z+/.])"
_NOT_AFTER_NUMBER = r"(?![0-9]|\.[0-9])"
PHONE = re.compile(
    _NOT_BEFORE_NUMBER
    + r"(?:"
    + r"(?:\+?86[ -]?)?1[3-9][0-9](?:[ -]?[0-9]{4}){2}"  # mainland mobile, optionally +86
    + r"|\+[0-9]{1,3}(?:[ -]?\(?[0-9]{1,5}\)?){1,4}"  # international, written with +
    + r"|0[0-9]{1,4}[ -]?[0-9]{3,4}[ -]?[0-9]{3,4}"  # national number with a trunk 0
    + r"|\([0-9]{3}\) ?[0-9]{3}-[0-9]{4}|[0-9]{3}-[0-9]{3}-[0-9]{4}"  # North American
    + r"|[2-9][0-9]{3} [0-9]{4}"  # eight-digit local numbers (Hong Kong)
    + r")"
    + _NOT_AFTER_NUMBER
)
EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+\-])[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}(?![A-Za-z0-9])"
)
_ACCOUNT_WORDS = (
    r"(?:资金账号|资金账户|资金帐号|证券账号|证券账户|股东账号|股东账户|股票账号|股票账户|交易账号|交易账户|"
    r"信用账户|融资账户|客户号|客户编号|账户号码|账号|账户|帐号|帐户|"
    r"(?:brokerage |trading |securities |client |customer |margin )?(?:account|acct|a/c)"
    r"(?: number| no\.?| #| id)?|client (?:number|id|no\.?)|customer (?:number|id|no\.?))"
)
ACCOUNT = re.compile(
    _ACCOUNT_WORDS
    + r"\s*(?:是|为|:|#|号码是|号是|is|number is|no\.?|ending|ends)?\s*#?\s*"
    + r"(?P<v>[A-Za-z]{0,2}[0-9][0-9 \-]{4,22}[0-9])"
    + _NOT_AFTER_NUMBER,
    re.IGNORECASE,
)
CASE_ALPHABET = "234679ACDEFGHJKMNPQRTWXY"
CASE_ID = re.compile(
    rf"(?<![A-Za-z0-9])C-[0-9]{{6}}-[{CASE_ALPHABET}]{{4}}(?![A-Za-z0-9])", re.IGNORECASE
)


def digits(text: str) -> str:
    return re.sub(r"[^0-9]", "", text)


def find_accounts(text: str) -> list[Find]:
    text = canonical(text)
    finds = []
    for m in ACCOUNT.finditer(text):
        value = m.group("v").strip()
        if len(digits(value)) >= 6:
            finds.append(Find("account_id", m.start("v"), m.start("v") + len(value), value.replace(" ", "")))
    return finds


def find_case_ids(text: str) -> list[Find]:
    text = canonical(text)
    return [Find("case_id", m.start(), m.end(), m.group().upper()) for m in CASE_ID.finditer(text)]


def find_emails(text: str) -> list[Find]:
    text = canonical(text)
    return [Find("email", m.start(), m.end(), m.group()) for m in EMAIL.finditer(text)]


# A country code typed as its own group without its "+" ("852 6590 2281", "1-617-492-8813", "(852) 9087 6613"):
# a phone only when the number is valid read that way (as fields.normalize_phone reads it), never a sum.
_PHONE_CODE_WITHOUT_PLUS = re.compile(
    _NOT_BEFORE_NUMBER + r"\(?[1-9][0-9]{0,2}\)?[ -](?:[0-9]{2,5}[ -]){0,3}[0-9]{2,5}" + _NOT_AFTER_NUMBER)


def valid_with_country_code(number: str) -> bool:
    """Is the number valid read with its first digits as the country code ("852 6590 2281" as +852)?"""
    try:
        return phonenumbers.is_valid_number(phonenumbers.parse("+" + digits(number), None))
    except phonenumbers.NumberParseException:
        return False


def find_phones(text: str, taken: Iterable[Find] = ()) -> list[Find]:
    """Phone-shaped numbers (7 to 15 digits) that are not part of an account, a case number or an email."""
    text = canonical(text)
    taken = [*taken, *find_accounts(text), *find_case_ids(text), *find_emails(text)]
    candidates = [Find("phone", m.start(), m.end(), m.group()) for m in PHONE.finditer(text)]
    candidates += [Find("phone", m.start(), m.end(), m.group()) for m in _PHONE_CODE_WITHOUT_PLUS.finditer(text)
                   if valid_with_country_code(m.group())]
    finds: list[Find] = []
    for find in sorted(candidates, key=lambda f: f.start - f.end):  # the longest reading first
        if 7 <= len(digits(find.value)) <= 15 and not _overlaps(find, [*taken, *finds]):
            finds.append(find)
    return sorted(finds, key=lambda f: f.start)


# ---------------------------------------------------------------------------------------------------
# Names

_ZH_NAME_INTRO = re.compile(
    rf"(?P<intro>我叫|我的名字是|我的名字叫|名字是|名字叫|姓名是|姓名[:]?|本人叫|本人是|本人|我是)\s*(?P<v>[{CJK}·]{{2,4}}?)"
    rf"(?=$|[\s,.!?;:、。…)]|电话|手机|号码|联系|账号|账户|资金|身份|我|的|在|想|要|今年|，)"
)
# A correction at the read-back: "名字错了，是李思", "姓名写错了，应该叫王芳".
_ZH_NAME_CORRECTION = re.compile(
    rf"(?P<intro>(?:名字|姓名)(?:写|打|记)?错了?)[\s,，。]*(?:应该|应为)?(?:是|叫|为)\s*(?P<v>[{CJK}·]{{2,4}}?)"
    rf"(?=$|[\s,.!?;:、。…)]|，|电话|手机)"
)
_ZH_SURNAME_ONLY = re.compile(rf"我姓(?P<v>[{CJK}]{{1,2}}?)(?=$|[\s,.!?;:、。]|，|电话|手机|叫)")
# Words that follow 我是 / 本人 but are not names.
_ZH_NOT_NAMES = {
    "客户", "用户", "股民", "投资者", "会员", "老客户", "老用户", "老股民", "本人", "学生", "老人", "退休",
    "你们", "在你", "真的", "不是", "没有", "说的", "一个", "来投", "来问", "想问", "想投诉", "投诉",
    "新客户", "个人", "持卡人", "机构", "企业", "公司", "中国人", "外地人", "上海人", "北京人",
}
_ZH_NOT_NAME_CHARS = set("们的了是在有个不很都也就要想会能来去说问这那吗呢吧啊哦嗯和与或被把让给")
_EN_STRONG_INTRO = re.compile(r"\b(?:my name is|my name's|my full name is|name\s*:|full name\s*:)\s+", re.IGNORECASE)
_EN_NAME_CORRECTION = re.compile(
    r"\bname (?:is |was )?(?:spelt |spelled |written )?wrong(?:ly)?[,.;:]?\s*(?:it'?s|it is|it should be|should be)\s+",
    re.IGNORECASE,
)
_EN_WEAK_INTRO = re.compile(r"(?:^|(?<=[\s,.!?]))(?:i am|i'm|im|this is)\s+", re.IGNORECASE)
_EN_NAME_WORD = re.compile(r"[A-Za-z][A-Za-z'\-]*")
_EN_NAME_STOP = {
    "and", "my", "i", "from", "phone", "number", "with", "the", "a", "an", "calling", "writing", "here", "to",
    "about", "your", "you", "is", "im", "i'm", "am", "account", "email", "mobile", "tel", "contact", "at", "in",
    "on", "of", "for", "it", "this", "that", "but", "so", "very", "not", "really", "extremely", "still", "just",
    "sorry", "angry", "furious", "unhappy", "upset", "disappointed", "done", "tired", "fed", "sick", "frustrated",
    "okay", "ok", "fine", "good", "hello", "hi", "hey", "trying", "going", "having", "contacting", "complaining",
    "reaching", "interested", "looking", "waiting", "worried", "confused", "shocked", "annoyed", "livid", "glad",
    "please", "thanks", "thank", "yes", "no", "customer", "client", "retired", "elderly", "old", "new", "also",
    "afraid", "totally", "absolutely", "quite", "pretty", "being", "getting", "told", "unable", "now", "again",
    "chinese", "british", "english", "american", "australian", "canadian", "indian", "local",
}


def _zh_name_ok(name: str) -> bool:
    return name not in _ZH_NOT_NAMES and not (set(name) & _ZH_NOT_NAME_CHARS)


def _en_name_after(text: str, start: int, need_capitals: bool) -> Find | None:
    words: list[re.Match[str]] = []
    pos = start
    while len(words) < 4:
        m = _EN_NAME_WORD.match(text, pos)
        if not m or m.group().lower() in _EN_NAME_STOP:
            break
        if need_capitals and not m.group()[0].isupper():
            break
        words.append(m)
        nxt = re.match(r" +", text[m.end():])
        if not nxt:
            break
        pos = m.end() + nxt.end()
    if not words or (need_capitals and len(words[0].group()) < 2):
        return None
    value = text[words[0].start(): words[-1].end()]
    if value.islower():
        value = value.title()
    return Find("customer_name", words[0].start(), words[-1].end(), value)


def find_names(text: str) -> list[Find]:
    """A name the customer introduces ("我叫李四", "My name is John Smith", "名字错了，是李思"); the form asks
    otherwise."""
    shown, text = halfwidth(text), canonical(text)
    finds = []
    for pattern in (_ZH_NAME_CORRECTION, _ZH_NAME_INTRO):
        for m in pattern.finditer(text):
            # After 我是 / 本人 many words are not names ("我是做生意的"): only a surname opens one there.
            weak = m.group("intro") in ("我是", "本人", "本人是")
            if _zh_name_ok(m.group("v")) and not (weak and not _starts_with_surname(m.group("v"))):
                finds.append(Find("customer_name", m.start("v"), m.end("v"), shown[m.start("v"): m.end("v")]))
                break
        if finds:
            break
    if finds:
        return finds
    for intro, capitals in ((_EN_NAME_CORRECTION, False), (_EN_STRONG_INTRO, False), (_EN_WEAK_INTRO, True)):
        for m in intro.finditer(text):
            find = _en_name_after(text, m.end(), capitals)
            if find:
                return [find]
    return []


def _starts_with_surname(name: str) -> bool:
    return name[0] in _SURNAMES or name[:2] in _COMPOUND_SURNAMES


def find_surname(text: str) -> str | None:
    m = _ZH_SURNAME_ONLY.search(canonical(text))
    return halfwidth(text)[m.start("v"): m.end("v")] if m else None


# ---------------------------------------------------------------------------------------------------
# Products: machine keys, the names a customer calls them by (entities), and cue words that point to one

@dataclass(frozen=True, slots=True)
class Product:
    key: str
    zh_names: tuple[str, ...]
    en_names: tuple[str, ...]
    zh_cues: tuple[str, ...] = ()
    en_cues: tuple[str, ...] = ()
    # Words every financial service has (an account, a fee, the app, a branch, the staff): they name the product
    # when they answer "which service?", never from a story alone. Latin words among them are weak only in
    # English text: in a Chinese message "APP" is the trading app.
    weak: tuple[str, ...] = ()


# Money moved between the bank and the securities account, by the names only a securities firm uses, and as
# customers say it ("从证券账户转回银行卡", "往证券账户转了五万").
_BANK_SECURITIES = ("银证转账", "银证转帐", "证转银", "银转证")
_BANK_SECURITIES_SAID = ("证券账户转回", "证券账户转到银行", "证券账户转出", "证券账户往银行", "往证券账户",
                         "转进证券账户", "转入证券账户", "转到证券账户")

# In order of precedence: when a message mentions several, the more specific product wins
# ("the app charged a commission twice" is about fees, "APP转账失败" about a transfer).
PRODUCTS: tuple[Product, ...] = (
    Product(
        "margin_trading",
        # Forced liquidation and the collateral ratio exist only on margin: names, however else the story goes.
        ("融资融券", "两融", "融资账户", "信用账户", "融资融劵", "融券", "融资买入", "融资", "孖展", "强制平仓", "强平",
         "追加保证金", "追保", "担保比例", "维持担保", "担保品", "折算率"),
        ("margin trading", "margin account", "securities lending", "short selling", "margin loan", "margin"),
        ("平仓",),
        ("margin call", "liquidated", "liquidation", "force sold", "forced sale", "collateral"),
        weak=("liquidated", "liquidation", "collateral"),
    ),
    Product(
        "ipo_subscription",
        ("新股申购", "申购新股", "打新股", "打新", "新股", "新债申购", "可转债申购", "申购可转债", "新债", "中签"),
        ("ipo subscription", "ipo", "ipos", "new shares", "new share", "share offering"),
        ("中签", "配号", "缴款"),
        ("allotment", "allotted", "ballot"),
    ),
    Product(
        "dividends_corporate_actions",
        ("分红", "股息", "红利", "派息", "送股", "送转", "转增", "配股", "除权", "拆股", "公司行动", "权益登记",
         "要约收购", "预受要约", "要约", "合股", "并股", "碎股", "供股", "拆细",
         # A convertible bond called or converted by its issuer ("可转债强赎").
         "强赎", "强制赎回", "转股", "回售",
         # A listing ended by the exchange ("退市整理期", "摘牌").
         "退市", "摘牌",
         # A shareholders' meeting and its vote ("股东大会网络投票一直提示身份验证失败").
         "股东大会", "网络投票", "股东投票", "议案"),
        ("dividends", "dividend", "corporate actions", "corporate action", "stock split", "rights issue",
         "bonus shares", "scrip", "tender offer", "reverse split", "share consolidation", "odd lots", "odd lot",
         "shareholder meeting", "shareholders meeting", "shareholders' meeting", "general meeting", "proxy vote",
         "proxy voting"),
        (),
        ("payout", "record date", "ex-date"),
        weak=("payout",),
    ),
    Product(
        "funds_wealth",
        ("理财产品", "理财", "公募基金", "私募基金", "货币基金", "基金", "债基", "资管产品", "资管计划", "私募",
         "收益凭证", "结构性存款", "投顾组合", "投顾产品", "投顾服务",
         # A paid advisory subscription ("买了6800的季度服务包", "荐股服务").
         "服务包", "投顾包", "荐股服务", "荐股会员"),
        ("mutual funds", "mutual fund", "wealth management", "wealth products", "wealth product",
         "investment products", "investment product", "structured product", "funds", "fund", "etf"),
        ("赎回", "净值", "定投", "保本", "债券", "国债", "企业债", "公司债"),
        ("redemption", "redeem", "nav", "unit trust", "bonds", "bond", "treasuries"),
        # "insufficient funds", "the funds were withdrawn": money, not a fund ("my fund" is one).
        weak=("funds",),
    ),
    Product(
        "bank_securities_transfer",
        (*_BANK_SECURITIES, "转账", "转帐", "转钱", "出金", "入金", "提现", "提款", "资金划转",
         "过数",
         # Money moved between the bank and us ("从建设银行往证券账户转了十万", "轉咗五萬入證券戶口").
         "银行往", "银行转", "往银行", "转到银行", "转回银行", "入证券", "转进证券", "往证券", "提去"),
        ("bank-securities transfers", "bank-securities transfer", "bank securities transfer", "bank transfers",
         "bank transfer", "fund transfer", "withdrawals", "withdrawal", "deposits", "deposit", "wire transfer",
         # Money wired is money moved from a bank ("I wired 25k to fund my brokerage account").
         "wired", "the wire", "a wire", "my wire"),
        ("到账", "转不出", "取不出", "转出", "转入", "银行卡", "取钱", "取款", "划款"),
        ("withdraw", "never arrived", "hasn't arrived", "has not arrived", "transferred", "transfers", "my transfer",
         "the transfer", "a transfer", "money transfer"),
        # "送的股票没到账" is a corporate action; "my loan was transferred" is not a transfer of money.
        weak=("到账", "never arrived", "hasn't arrived", "has not arrived", "transferred"),
    ),
    Product(
        "fees_commissions",
        ("手续费", "佣金", "交易费", "管理费", "服务费", "年费", "申购费", "赎回费", "托管费", "过户费",
         "行情费", "续费", "月费", "续订",
         # Interest charged is billed like a fee ("负债还清了还在计融资利息").
         "融资利息", "计息", "收利息", "扣利息", "罚息"),
        ("commissions", "commission", "fees", "fee", "stamp duty"),
        ("费用", "收费", "多扣", "乱扣", "扣费", "扣钱", "扣了", "多收"),
        ("overcharged", "charged", "charges", "charge"),
        # "钱扣了" and "the person in charge" say nothing of a fee.
        weak=("费用", "扣钱", "扣了", "charge"),
    ),
    Product(
        "online_trading",
        # A reverse repo is bought and sold in the trading system like a share.
        ("手机APP", "交易软件", "交易系统", "网上交易", "手机交易", "网上营业厅", "交易客户端", "APP", "app", "逆回购",
         # Orders only the trading system places for the customer ("条件单跌破就自动卖出").
         "条件单", "止损单", "止盈单", "智能交易", "网格交易"),
        ("online trading", "trading app", "mobile app", "trading platform", "online platform", "website",
         "app"),
        # Trading stocks and options is done online or in the app: the same product.
        ("下单", "买单", "卖单", "委托", "撤单", "成交", "闪退", "登录", "登陆", "登不上", "卡顿", "卡死", "死机",
         "系统", "报价", "行情", "买卖股票", "炒股", "股票", "A股", "港股通", "港股", "美股", "个股", "期权", "股指"),
        ("crashed", "crash", "log in", "login", "order", "orders", "executed", "filled", "froze", "frozen screen",
         "glitch", "outage", "online", "stock trading", "share trading", "day trading", "stocks", "stock",
         "shares", "share", "equities", "equity", "options", "option", "sell order", "buy order", "limit order",
         "stop loss", "stop-loss", "trades", "trading"),
        # Every company has a website, an app and a login; "home equity", "payment options", "share my data".
        weak=("系统", "炒股", "股票", "个股", "mobile app", "online platform", "website", "app", "crashed", "crash",
              "log in", "login", "order", "orders", "executed", "filled", "froze", "glitch", "outage", "online",
              "shares", "share", "equities", "equity", "options", "option"),
    ),
    Product(
        "brokerage_account",
        ("证券账户", "资金账户", "股票账户", "证券账号", "股东账户", "证券户口", "开户", "销户", "转户",
         # Permission to trade a board is the account's, not the trading ("开通港股通一直提示资产不满足").
         "开通港股通", "开通创业板", "开通科创板", "开通北交所", "港股通权限", "创业板权限", "科创板权限"),
        ("brokerage account", "trading account", "securities account", "account opening", "account closure",
         # Moving the holdings to another broker is the account's (转户).
         "transfer out form", "account transfer", "to another broker", "to a new broker", "to my new broker",
         "to another brokerage"),
        ("冻结", "限制交易", "限制买入", "限制卖出", "账户限制", "帐户限制", "休眠", "激活", "状态异常", "账户异常",
         # 户口: how Hong Kong says the account ("證券戶口", "更改戶口資料").
         "密码", "账户", "账号", "户口", "身份证", "实名",
         # Whether the holder may trade a board or a product: their risk assessment and permissions.
         "风险测评", "风险评估", "风险等级", "适当性", "开通权限", "交易权限", "开权限", "权限",
         # Who the account holder is, proven: documents, a face, a video call.
         "证件", "回乡证", "港澳通行证", "护照", "人脸识别", "刷脸", "身份验证", "视频见证"),
        ("close my account", "closing my account", "open an account", "opening an account", "open my account",
         "account opening", "account closing", "account closure", "brokerage", "account", "locked out", "password",
         "kyc"),
        # A password is the app's as much as the account's.
        weak=("账户", "账号", "户口", "密码", "account", "locked out", "password"),
    ),
    Product(
        "branch_service",
        ("营业部", "营业厅", "网点", "分行", "支行", "分公司"),
        ("branch", "service centre", "service center"),
        ("柜台", "态度", "客户经理", "工作人员", "员工", "柜员", "排队", "服务差", "大堂经理", "业务员", "理财经理",
         "投顾", "投资顾问", "不耐烦", "不客气", "不礼貌"),
        ("counter", "teller", "front desk", "rude", "staff", "manager", "adviser", "advisor", "queue", "employee",
         "unhelpful", "impolite", "disrespectful", "service"),
        # Where it happened and who was there, not what it was about: "在营业部买的基金" is about the fund.
        weak=("营业部", "营业厅", "网点", "分行", "支行", "分公司", "柜台", "客户经理", "工作人员", "员工", "柜员",
              "排队", "大堂经理", "业务员", "理财经理", "投顾", "投资顾问", "branch", "service centre",
              "service center", "counter", "teller", "front desk", "staff", "manager", "adviser", "advisor", "queue",
              "employee", "service"),
    ),
    Product("other", ("其他", "其它", "别的"), ("other", "something else"), (), ()),
)
PRODUCT_KEYS = tuple(p.key for p in PRODUCTS)

# Products a securities firm does not offer: a complaint about one of them is "other", in the customer's words,
# not the securities product that shares a word with it (a mortgage's late fee is not our fee).
NOT_OURS = Product(
    "other",
    ("信用卡", "贷款", "房贷", "车贷", "按揭", "征信", "信用报告", "保险", "网贷", "期货", "外汇", "比特币",
     "虚拟货币", "万能险", "年金险", "寿险", "重疾险", "意外险", "医疗险"),
    ("credit reports", "credit report", "credit reporting", "credit bureaus", "credit bureau", "credit file",
     "credit score", "credit history", "credit cards", "credit card", "prepaid card", "gift card", "experian",
     "equifax", "transunion", "mortgage", "home loan", "home equity", "heloc", "escrow", "foreclosure",
     "student loans", "student loan", "car loan", "auto loan", "payday loan", "personal loan", "loans", "loan",
     "lease", "debt collection", "insurance", "futures", "cryptocurrency", "crypto", "bitcoin", "tax lien", "lien",
     "bankruptcy", "bankruptcies"),
    # Who the customer deals with for one: the product's own name is said first when there is one.
    ("催收", "催债"),
    ("lender", "loan servicer", "servicer", "debt collectors", "debt collector", "collection agency",
     "collections", "collector", "repossessed", "repossession", "charged off", "charge-off", "charge off"),
)
# Where products we do not offer come in the order of precedence: after the securities products only we offer,
# before the money movements, fees, apps, accounts and branches every financial service has.
_NOT_OURS_AFTER = "funds_wealth"


def _word_pattern(words: Iterable[str]) -> str:
    return "|".join(re.escape(w) for w in sorted(set(words), key=len, reverse=True))


def _product_regex(zh: Iterable[str], en: Iterable[str]) -> re.Pattern[str] | None:
    # Latin words need word boundaries ("app" is not in "happy"); Chinese words have none.
    words = [*zh, *en]
    latin = [w for w in words if w.isascii()]
    parts = []
    if any(not w.isascii() for w in words):
        parts.append(f"(?:{_word_pattern(w for w in words if not w.isascii())})")
    if latin:
        parts.append(rf"(?<![A-Za-z])(?:{_word_pattern(latin)})(?![A-Za-z])")
    return re.compile("|".join(parts), re.IGNORECASE) if parts else None


def _in_precedence(patterns: list[tuple[str, re.Pattern[str] | None]],
                   not_ours: Iterable[re.Pattern[str] | None] = ()) -> list[tuple[str, re.Pattern[str]]]:
    ordered: list[tuple[str, re.Pattern[str]]] = []
    for key, pattern in patterns:
        if key == "other":
            continue
        if pattern is not None:
            ordered.append((key, pattern))
        if key == _NOT_OURS_AFTER:
            ordered += [("other", other) for other in not_ours if other is not None]
    return ordered


def _strong(words: Iterable[str], product: Product, english: bool | None) -> list[str]:
    """The words that say which product it is (``english``: of an English text); None: every word."""
    if english is None:
        return list(words)
    weak = {w.lower() for w in product.weak if english or not w.isascii()}
    return [w for w in words if w.lower() not in weak]


# The account money moves from ("从证券账户转出") is where it sits, not what went wrong: a name, but it decides only
# as a cue word does.
# So is the app, where most business is done now ("在APP上申购基金", "APP提示账户被冻结"): what was done there
# decides.
_NAMES_AS_CUES = ("证券账户", "资金账户", "股票账户", "证券账号", "股东账户", "证券户口", "手机APP", "APP", "app")
# How staff behaved ("态度很差", "rude"): the service is the complaint, whatever else was being done
# ("密码重置排了一个小时，柜台态度很差"); a securities product named outranks it.
_ATTITUDE = ("态度", "服务差", "不耐烦", "不客气", "不礼貌", "rude", "unhelpful", "impolite", "disrespectful")
# What the customer says was done to them as a person, not to their money: how they were treated (kept waiting,
# spoken down to), calls they never asked for, their personal data, an earlier complaint left unanswered. It
# outranks every product named on the way ("想开两融权限，在那干等了一个多小时": the waiting; "天天打电话推销理财
# 产品": the calls; "我之前反映过资金账户的问题，到现在没人联系": the complaint handling), unless a loss of money
# is told too: then the product it happened with is the complaint.
_TREATMENT = (
    # An earlier complaint left unanswered outranks how anyone was treated on the way ("投诉营业部的人…工单号给了我，
    # 事情到现在都没人管").
    ("other",
     ("撤回投诉", "撤销投诉", "工单", "结案", "之前投诉", "上次投诉", "投诉过", "反映过", "投诉了好几次", "投诉没人",
      "没人处理我的投诉", "电话投诉", "投诉之后", "投诉后", "催办", "专人回电"),
     ("previous complaint", "earlier complaint", "last complaint", "complained before", "complained twice",
      "my complaint was ignored")),
    ("branch_service",
     ("干等", "白跑", "不被尊重", "不尊重", "歧视", "冷嘲热讽", "爱答不理", "爱理不理", "不客气", "不耐烦", "不礼貌",
      "态度恶劣", "态度很差", "态度差", "态度极差", "服务态度", "甩脸色", "给脸色", "没人管", "没人理",
      "说话很冲", "说话冲", "说话难听", "玩手机", "嫌我", "推来推去", "踢皮球", "一直推", "刁难", "叫到号",
      # Spoken down to in front of others ("当着好多人面说的，我脸都没地方搁").
      "当着", "看不起", "瞧不起", "羞辱", "侮辱", "丢脸", "没面子",
      # Brushed off after taking a number and waiting ("拿号等了四十分钟…几句话就把我打发走了").
      "拿号", "取号", "打发",
      # The branch shut on a customer who came ("预约了下午两点…卷帘门拉下来了，暂停营业").
      "暂停营业", "没开门", "关门", "门锁着", "锁着门", "搬家了", "搬走了", "不让我进", "不理我", "翻白眼",
      # Staff acting outside the rules for themselves ("私下让我把钱转到他推荐的账户，说帮我代客理财，收益分成").
      "代客理财", "代客操作", "分成",
      # ... privately, to the customer ("私下让我", "私下加我微信"); not the firm ("私下把客户的钱拿去买理财").
      "私下让", "私下叫", "私下找", "私下加", "私下联系", "私下收", "私下跟", "私下和",
      # Kept in the queue, passed over, or singled out for an accent ("排了一个多小时", "后面来的人都先办了").
      "排了一个", "排了两个", "排了半天", "排了很久", "排了好久", "后面来的人", "插队", "口音"),
     ("kept me waiting", "left me waiting", "made me wait", "disrespectful", "condescending", "treated me like",
      "talked down to me", "rude", "impolite")),
    ("other",
     ("推销电话", "营销电话", "骚扰电话", "电话推销", "打电话给我推销", "打电话推销", "推销", "骚扰短信", "营销短信",
      "退订", "礼品", "赠品", "奖品", "泄露", "签到", "积分", "营销活动", "促销",
      # Gifts promised for coming or signing up ("到场就送一桶油，注册还送200元话费").
      "话费", "赠送", "到场就送", "送礼", "伴手礼", "京东卡", "购物卡", "奖励",
      "个人信息", "隐私",
      # The building's parking and property management ("停车收了我15块", "物业").
      "停车费", "停车收费", "停车场", "收停车", "物业",
      # Personal data leaked or sold ("我的资料外泄了", "客户资料被卖给了推销公司").
      "外泄", "泄漏", "个人资料", "客户资料", "我的资料", "漏出去", "漏出来", "泄密", "内部渠道",
      # Called again and again ("换个号接着打", "把我号码从你们名单里删了").
      "营销推送", "电话轰炸", "换个号接着打", "换号打", "换个号码打", "名单里删", "别再打"),
     ("telemarketing", "cold calls", "cold call", "sales calls", "marketing calls", "spam calls", "robocalls",
      "stop calling", "data breach", "data leak", "leaked my", "my personal data", "my personal information",
      "privacy")),
)
# Sales pressed on the customer are ours to answer as the conduct of the staff member who pressed them ("你们一个
# 客户经理天天打电话给我推销", "一个男经理上来就推销理财产品"); from nobody in particular, they are marketing
# ("一个月接到七八个推销基金的电话").
_SELLING = re.compile(r"(?:打电话给我|打电话|电话)?推销(?:电话)?|营销电话|营销短信|骚扰电话|骚扰短信")
_OUR_STAFF = re.compile(r"客户经理|理财经理|大堂经理|经理|业务员|员工|工作人员|柜员|投顾|投资顾问")
# Someone using the firm's name (a fake app, a "training camp" in our name, a caller posing as our staff): not
# our product, whatever was sold or lost there.
_IMPERSONATION = re.compile(
    r"冒充|假冒|冒用|冒名|冒认|仿冒|山寨|打着.{0,12}(?:名义|旗号|招牌|幌子)|以.{0,8}(?:公司|你们|贵司)的?名义"
    r"|(?:自称|号称|说是|话系|话係)(?:是)?(?:你们|你哋|贵司|贵公司)(?=.*?(?:骗|跑路|冇呢个人|没有这个人|提不出|取不出|提现不了|踢|拉黑|联系不上))"
    # A group or an account that goes by our name or logo ("群名就是你们公司的名字，头像也是你们的标志").
    r"|(?:群名|名称|名字|头像|标志|图标|logo)(?:就|也|都)?(?:是|用的是|用了|用|写着|写的是|挂着|叫)(?:你们|你哋|贵司|贵公司)"
    r"|(?:有|用了?|用的是|就是)(?:你们|你哋|贵司|贵公司)(?:公司)?[的嘅个]?(?:名字|名称|标志|图标|logo)"
    r"|(?i:\b(?:impersonat\w*|posing as|pretending to be|fake (?:app|website|account))\b)"
    # "a whatsapp group calling itself your VIP club", "a brochure with your logo".
    r"|(?i:\b(?:call(?:ing|ed|s) itself|claim(?:ing|ed|s) to be(?: from)?) (?:your|you)\b"
    r"|\b(?:with|using|used|had|put) your (?:logo|name|brand|branding)\b)")
# Money lost on an investment: the product it was lost on is the complaint, before a fee charged on the way.
_INVESTMENT_LOSS = re.compile(r"亏|净值|(?i:\b(?:lost money|investment losses)\b)")
# Money lost or taken: then the complaint is about the product it happened with, however the customer was treated.
_LOSS = re.compile(r"亏|损失|赔偿|被扣|多扣|多收|扣了|不到账|没到账|没收到|被强平|平仓|本金"
                   r"|(?i:\b(?:lost|loss|losses|refund|overcharged|charged|compensat\w*|missing money)\b)")
# The account's own state or details (frozen, restricted, a phone number changed): the cause, before the money
# stuck in it ("资金账户被冻结，钱也转不出来") or the app it shows in ("换绑手机号，APP登不进去").
_ACCOUNT_STATE = ("冻结", "限制交易", "限制买入", "限制卖出", "账户限制", "帐户限制", "被限制", "休眠", "激活",
                  "状态异常", "账户异常", "换绑", "预留", "紧急联系人", "身份证过期", "身份证到期", "证件过期",
                  "证件到期",
                  # Locked after wrong passwords ("交易密码输错三次账户就锁了", "账号被锁定").
                  "被锁", "锁定", "解锁", "账户就锁", "账户锁", "账号锁", "账号就锁")
_NOT_THE_STATE = re.compile(r"(?:没有|没|未|并未|并没有|不会|不)(?:被)?(?:冻结|限制)")
# Among cue words, a problem with the account itself ("账户被冻结", "证券账户状态异常") outranks the app's ("登录").
_CUE_PRECEDENCE = ("margin_trading", "ipo_subscription", "dividends_corporate_actions", "funds_wealth",
                   "account_state", "bank_securities_transfer", "fees_commissions", "attitude", "brokerage_account",
                   "online_trading", "branch_service")


def _product_words(english: bool | None) -> list[tuple[str, re.Pattern[str]]]:
    """Patterns in the order they decide: every product's names first ("开户" outranks another product's hint
    such as "登录"), then the cue words; products we do not offer, and who sells them ("a debt collector"),
    after the securities products only we offer."""
    names = [(p.key, _product_regex(*([w for w in _strong(words, p, english) if w not in _NAMES_AS_CUES]
                                      for words in (p.zh_names, p.en_names)))) for p in PRODUCTS]
    by_key = {p.key: p for p in PRODUCTS}
    cues: list[tuple[str, re.Pattern[str] | None]] = []
    for key in _CUE_PRECEDENCE:
        if key == "account_state":
            cues.append(("brokerage_account", _product_regex(_ACCOUNT_STATE, ())))
            continue
        if key == "attitude":
            cues.append(("branch_service", _product_regex([w for w in _ATTITUDE if not w.isascii()],
                                                          [w for w in _ATTITUDE if w.isascii()])))
            continue
        p = by_key[key]
        zh_cues = [*(w for w in p.zh_names if w in _NAMES_AS_CUES), *p.zh_cues]
        cues.append((key, _product_regex([w for w in _strong(zh_cues, p, english) if w not in _ATTITUDE],
                                         [w for w in _strong(p.en_cues, p, english) if w not in _ATTITUDE])))
    not_ours = (_product_regex(NOT_OURS.zh_names, NOT_OURS.en_names),
                _product_regex(NOT_OURS.zh_cues, NOT_OURS.en_cues))
    fee = dict(names)["fees_commissions"]
    fee_first = [("fees_commissions", _unless(fee, (*not_ours, _INVESTMENT_LOSS)))] if fee is not None else []
    # Only a securities firm moves money between the bank and the securities account: the name decides before
    # a product we do not offer that the money was for ("证转银…这钱是要还信用卡的").
    ours_alone = [("bank_securities_transfer", _product_regex((*_BANK_SECURITIES, *_BANK_SECURITIES_SAID), ()))]
    return fee_first + ours_alone + _in_precedence(names, not_ours) + _in_precedence(cues)


def _unless(pattern: re.Pattern[str], spoilers: Iterable[re.Pattern[str] | None]) -> re.Pattern[str]:
    """``pattern``, found only in a text where none of ``spoilers`` is: a fee named is the complaint, whatever it
    was charged on ("基金的赎回费多扣了", "两融的佣金比普通账户高"), except a fee of a product we do not offer ("a
    mortgage's late fee", "信用卡年费"): that complaint is "other"; and except a fee told beside money lost on
    the product ("理财亏了两成，赎回还要收手续费"): that complaint is the product."""
    spoiling = "|".join(f"(?:{s.pattern})" for s in spoilers if s is not None)
    return re.compile(rf"^(?!.*?(?:{spoiling})).*?(?:{pattern.pattern})" if spoiling else pattern.pattern,
                      re.IGNORECASE | re.DOTALL)


_PRODUCT_NAMES = [(p.key, _product_regex(p.zh_names, p.en_names)) for p in PRODUCTS]
_TREATMENT_WORDS = [(key, pattern) for key, zh, en in _TREATMENT if (pattern := _product_regex(zh, en)) is not None]
# Answers to "which service?": every word counts. Stories: only the words that say which product it is.
_ANSWER_WORDS = _product_words(None)
_STORY_WORDS = {english: _product_words(english) for english in (False, True)}
# The account everything sits in ("the margin loan on my brokerage account") and the app or website it is done
# on ("the trading app charged me the commission twice") name no service of their own.
_CONTAINERS = ("brokerage account", "trading account", "securities account", "trading app", "mobile app",
               "trading platform", "online platform", "website", "app")
# Each of our services by the names that say it alone (not the app, not an account money sits in).
_STORY_NAMES = {english: [(p.key, named) for p in PRODUCTS if p.key != "other" and (named := _product_regex(
    *([w for w in _strong(words, p, english) if w not in _NAMES_AS_CUES + _CONTAINERS]
      for words in (p.zh_names, p.en_names))))] for english in (False, True)}


# The national share-transfer system (股转账户, 股转系统) where delisted shares trade: no money moved.
_SHARE_TRANSFER = re.compile(r"股转(?=账户|帐户|账号|系统|公司|市场)")


# What a product is sold as is not what it is: a participating policy ("分红型保险", "分红险") is insurance, an
# option on an ETF ("50ETF期权") is an option; and the title of who sold it ("理财人员", "理财经理") is no
# product. The words are blanked (分红 before 险 reads as 保险), so positions stay those of the customer's text.
_NOT_WHAT_IT_IS = re.compile(r"分红型?(?=保险)|(?i:\bETF\s*)(?=期权|(?i:options?\b))|(?<=[0-9])(?i:ETF\s*)(?=期权)"
                             r"|理财(?=经理|人员|顾问|专员|师)")
_PARTICIPATING_POLICY = re.compile(r"分红(?=险)")
# Words that name no service where they stand: "to fund my account" (money put in, not a fund) and what the
# customer says the complaint is not about ("even if it's not really about trading").
_NAMES_NOTHING = re.compile(
    r"(?i:\bfund(?:ed|ing|s)?(?= (?:my|the|our|his|her|their|this|your) (?:[a-z]+ )?account\b))"
    r"|(?i:\b(?:not|isn't|isnt|nothing) (?:really |even |exactly |strictly )?(?:about|related to|to do with)\b"
    r"[^,;.!?]*)")


def _product_probe(text: str) -> str:
    """The text as the product finders read it: canonical, without 股转's 转 read as a transfer, nor what a
    product is sold as, nor words that name no service where they stand."""
    probe = _PARTICIPATING_POLICY.sub("保险", _SHARE_TRANSFER.sub("三板", canonical(text)))
    for blanked in (_NOT_WHAT_IT_IS, _NAMES_NOTHING):
        probe = blanked.sub(lambda m: " " * len(m.group()), probe)
    return probe


def _services_named(text: str, english: bool) -> set[str]:
    """Our services the text names; a fee beside money lost on an investment is on the way, not a service."""
    probe = _product_probe(text)
    named = {key for key, pattern in _STORY_NAMES[english] if pattern.search(probe)}
    if _INVESTMENT_LOSS.search(probe):
        named.discard("fees_commissions")
    return named


def names_several_services(text: str) -> bool:
    """Does the story name two or more of our services? Then which one it is about is the customer's to say."""
    return len(_services_named(text, not re.search(_HAN, text))) > 1


def find_products(text: str) -> list[Find]:
    """Mentions of a product or service by name ("融资融券", "the app"); value is the product key."""
    text = _product_probe(text)
    finds: list[Find] = []
    for key, pattern in _PRODUCT_NAMES:
        if key == "other" or pattern is None:
            continue
        for m in pattern.finditer(text):
            find = Find("product", m.start(), m.end(), key)
            if not _overlaps(find, finds):
                finds.append(find)
    # Words naming an account are account details, not the product, when a number follows.
    accounts = find_accounts(text)
    return sorted((f for f in finds if not _near_account(f, accounts)), key=lambda f: f.start)


def _near_account(find: Find, accounts: list[Find]) -> bool:
    return any(0 <= a.start - find.end <= 4 for a in accounts)


# Stock and share accounts are brokerage accounts, not stock trading.
_STOCK_ACCOUNT = re.compile(r"股票(?=账户|账号|帐户|帐号)|(?i:\b(?:stock|share|shares|equity) (?=account))")


def _first_in_precedence(text: str, words: list[tuple[str, re.Pattern[str]]]) -> tuple[str, str | None] | None:
    """The product of the most specific word in the text, and the words as the customer typed them."""
    shown, plain = halfwidth(text), _product_probe(text)
    # An account manager is a person at the branch, not the brokerage account.
    probe = re.sub(r"(?i)\baccount manager", "relationship manager", plain)
    probe = _STOCK_ACCOUNT.sub(lambda m: "证券" if m.group().startswith("股") else "brokerage ", probe)
    probe = _NOT_THE_STATE.sub(" ", probe)  # "钱也没有冻结": not the account's state
    posing = _IMPERSONATION.search(plain)
    if posing:
        return "other", shown[posing.start(): posing.end()]
    if not _LOSS.search(probe):
        for key, pattern in _TREATMENT_WORDS:
            if pattern.search(probe):
                typed = pattern.search(plain)
                if key == "other" and typed and _SELLING.fullmatch(typed.group()) and _OUR_STAFF.search(probe):
                    return "branch_service", None
                return key, shown[typed.start(): typed.end()] if typed else None
    lost = _INVESTMENT_LOSS.search(probe)
    for key, pattern in words:
        if key == "fees_commissions" and lost:
            continue  # a fee beside money lost on an investment is on the way ("亏了差价加手续费")
        if pattern.search(probe):
            typed = pattern.search(plain)
            return key, shown[typed.start(): typed.end()] if typed else None
    return None


def product_in_story(text: str) -> tuple[str, str | None] | None:
    """The product a story is about, from the words that say so, most specific first; for a product we do
    not offer, "other" and the customer's words for it. None when only everyday words (an account, a fee,
    the app, a branch) hint at one, or when the story names two of our services ("融资账户的佣金", "a fund
    bought at the branch that charged a fee"): which one the complaint is about is the customer's to say, and
    the form asks."""
    english = not re.search(_HAN, text)
    if names_several_services(text):
        return None
    found = _first_in_precedence(text, _STORY_WORDS[english])
    if not found:
        return None
    key, words = found
    return key, words if key == "other" else None


def _tells_a_service(text: str) -> bool:
    """Does the text say which service by its words (not by how the customer was treated: "没人理我")?"""
    english = not re.search(_HAN, text)
    probe = canonical(text)
    return any(pattern.search(probe) for _, pattern in _STORY_WORDS[english])


def infer_product(text: str) -> str | None:
    """The product key of a story (product_in_story), or None."""
    found = product_in_story(text)
    return found[0] if found else None


def product_from_answer(text: str) -> str | None:
    """The product named in an answer to "which service?": every word counts ("my account", "a deposit"),
    a product we do not offer ("my car loan", "期货") is "other", and so are "other" / "其他"."""
    text = canonical(text).strip()
    if text.lower() in PRODUCT_KEYS:
        return text.lower()
    found = _first_in_precedence(text, _ANSWER_WORDS)
    if found:
        return found[0]
    other = _PRODUCT_NAMES[-1][1]
    return "other" if other is not None and other.search(text) else None


# ---------------------------------------------------------------------------------------------------
# When it happened

_ZH_NUM = "[0-9]{1,2}|廿[一二三四五六七八九]?|[一二三四五六七八九十两]{1,3}"
_ZH_WEEKDAY = "[一二三四五六日天末1-7]"
# 朝早, 晏昼 and 下昼 (下晝) are Cantonese for the morning, midday and the afternoon.
_ZH_PART = ("早上|早晨|朝早|上午|中午|晏昼|下午|下昼|傍晚|晚上|夜晚|夜里|半夜|凌晨"
            "|早盘|午盘|尾盘|开盘时|开盘后|开盘|收盘前|收盘后|收盘|盘中")
_ZH_MINUTES = r"(?:[零〇][一二三四五六七八九]|廿[一二三四五六七八九]?|[一二三四五]?十[一二三四五六七八九]?)分?"
_ZH_CLOCK = (
    rf"(?:(?:{_ZH_PART})(?:{_ZH_NUM})|[0-9]{{1,2}})(?:点钟|点|时)(?:半|[一三]刻|[0-9]{{1,2}}分?|[零〇廿一二三四五六七八九十]{{1,3}}分?)?(?:左右)?"
    rf"|[一二三四五六七八九十两]{{1,3}}点钟|(?:{_ZH_PART})?[0-9]{{1,2}}:[0-9]{{2}}"
    # With its minutes a clock in words needs no part of the day ("两点四十五", "十点零五分", "三点廿分", "十点一刻",
    # "九点35" as phones type it); "一点五" is a number ("万一点五").
    rf"|[一二三四五六七八九十两]{{1,3}}点(?:半|[一三]刻|{_ZH_MINUTES}|[一二三四五六七八九]分|[0-9]{{1,2}}分|[0-9]{{2}}(?![0-9]))"
    r"(?:左右)?"
    # "十点左右": a clock as surely; and "十点多", the hour ("跌了两点多" is a fall).
    rf"|[一二三四五六七八九十两]{{1,3}}点左右|(?<![涨跌了亏赚降升高低掉])(?:十[一二]?|[两三四五六七八九])点多"
)
_ZH_DATE = (
    r"[0-9]{4}[-/.][0-9]{1,2}[-/.][0-9]{1,2}[日号]?"
    rf"|(?:(?:[0-9]{{4}}|[零〇一二三四五六七八九]{{4}}|今|去|前)年)?(?:{_ZH_NUM})月份?"
    rf"(?:(?:{_ZH_NUM})[日号]|初|底|中旬|上旬|下旬|中|末)?"
    rf"|(?:最近的?(?:这个|这)?|上上|上个|上|这个|这|本|下)?(?:周|星期|礼拜){_ZH_WEEKDAY}"
    r"|上上周|上个?周末|上周|上个?星期|上个?礼拜|本周|这周|这个星期|这星期"
    rf"|(?:上上|上)个?月(?:初|底|中旬|中|末|(?:{_ZH_NUM})[日号])?|这个月(?:初|中|底)?|本月(?:初|中|底)?"
    r"|去年(?:底|年底|年初)?|今年(?:初)?|年初|年底"
    rf"|(?:{_ZH_NUM}|几|半|好几|十几)(?:个半)?个?多?(?:天|日|周|星期|礼拜|月|小时|钟头|年)(?:以|之)?前"
    # 大前日, 前日, 琴日: Cantonese days.
    r"|大前天|大前日|前天|前日(?!子)|琴日|昨天|昨日|昨儿|今天|今日|今儿|当天|今早|今朝|今晨|昨早|昨晚|昨夜|今晚|前晚|前几天|前两天|刚才|刚刚"
    r"|明天|后天|明早|明晚|下周|下个?星期|下个?月"
    # A day of this or last month ("17号", "18日上午"), as a correction at the read-back says it.
    rf"|(?:[0-9]{{1,2}}[日号]|(?:{_ZH_NUM})号)(?![线楼口码位窗柜台室房车门座])"
)
_ZH_TIME = re.compile(rf"(?:{_ZH_DATE})(?:的?(?:(?:{_ZH_CLOCK})|(?:{_ZH_PART})))?|(?:{_ZH_CLOCK})")

_EN_WD = "monday|tuesday|wednesday|thursday|friday|saturday|sunday"
_EN_MONTH = (
    "january|february|march|april|may|june|july|august|september|october|november|december"
    "|jan|feb|mar|apr|jun|jul|aug|sept|sep|oct|nov|dec"
)
_EN_MONTH_NOT_MAY = ("january|february|march|april|june|july|august|september|october|november|december"
                     "|jan|feb|apr|jun|jul|aug|sept|sep|oct|nov|dec")
_EN_PART = "morning|afternoon|evening|night|lunchtime"
# The words that lead to a clock and soften it: "at 3pm", "around 3pm", "at about 3pm", "at approximately 11am".
EN_CLOCK_LEAD_WORDS = r"at|around|about|approximately|approx\.?|roughly|just after|just before"
_EN_CLOCK_LEAD = rf"(?:(?:{EN_CLOCK_LEAD_WORDS}) )*"
# The hours in words, one to twelve (fields.py reads them as numbers).
EN_HOUR_WORDS = ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve")
EN_HOUR = rf"[0-9]{{1,2}}|{'|'.join(EN_HOUR_WORDS)}"
# The minutes of "ten to eight", "twenty past 3", "25 minutes past 2" (fields.py reads them as numbers).
EN_MINUTES = r"[0-9]{1,2}(?: minutes)?|twenty[- ]five|twenty|ten|five"
_EN_CLOCK = (
    rf"{_EN_CLOCK_LEAD}[0-9]{{1,2}}(?:[:.][0-9]{{2}})? ?(?:am|pm|a\.m\.|p\.m\.)"
    rf"|{_EN_CLOCK_LEAD}[0-9]{{1,2}}:[0-9]{{2}}|{_EN_CLOCK_LEAD}(?:noon|midday|midnight)"
    rf"|{_EN_CLOCK_LEAD}[0-9]{{1,2}}(?:[:.][0-9]{{2}})? (?:o'clock )?in the (?:morning|afternoon|evening)"
    # Said aloud: "half 4", "quarter past three", "4 o'clock" (fields.py reads them).
    rf"|{_EN_CLOCK_LEAD}(?:half(?: past)?|(?:quarter|{EN_MINUTES}) (?:past|to)) (?:{EN_HOUR})(?: o'clock)?"
    rf"(?: ?(?:am|pm)| in the (?:morning|afternoon|evening))?"
    rf"|{_EN_CLOCK_LEAD}(?:{EN_HOUR}) o'clock(?: in the (?:morning|afternoon|evening))?"
)
# A month as a whole: "the whole of November", "throughout October" (fields.py reads them as the month).
EN_MONTH_AS_A_WHOLE = r"(?:(?:the )?(?:whole|all|start|beginning|middle|end|rest) of|during|throughout)"
_EN_NUMBER_WORD = rf"a|an|{'|'.join(EN_HOUR_WORDS)}|a few|a couple of|couple of|several|half an?|[0-9]{{1,3}}"
EN_WEEKDAY_SAID = f"{_EN_WD}|mon|tues?|wed|thu(?:rs?)?|fri|sat|sun"  # as typed: "Friday", "Thurs", "fri"
_EN_DATE = (
    # A day and month, with the weekday it fell on before it ("Friday 6th November 2026", "Fri, Nov 6"): first,
    # so the weekday is not read alone.
    rf"(?:(?:{EN_WEEKDAY_SAID}),? )?(?:the )?[0-9]{{1,2}}(?:st|nd|rd|th)?(?: of)? (?:{_EN_MONTH})\.?(?:,? [0-9]{{4}})?"
    rf"|(?:(?:{EN_WEEKDAY_SAID}),? )?(?:{_EN_MONTH})\.? [0-9]{{1,2}}(?:st|nd|rd|th)?(?:,? [0-9]{{4}})?|"
    r"(?:the )?day before yesterday|yesterday|today|tonight|this (?:morning|afternoon|evening)|last night"
    r"|earlier today|earlier this (?:week|month)|just now|this week|last week|last weekend|this month|last month"
    r"|last year|this year|tomorrow|next week|next month"
    r"|next (?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
    rf"|(?:{_EN_NUMBER_WORD}) (?:days?|weeks?|months?|hours?|years?) (?:ago|back)"
    rf"|(?:(?:last|this|past|previous) )?(?:{_EN_WD})"
    r"|(?:last|this|past|previous) (?:mon|tues?|wed|thu(?:rs?)?|fri|sat|sun)\.?"  # "last fri", as typed
    r"|[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}|[0-9]{1,2}/[0-9]{1,2}/[0-9]{2,4}"
    r"|[0-9]{1,2}/[0-9]{1,2}(?![/0-9])(?! of\b)"  # "14/11", a day and month (fields.py reads which is which)
    r"|the other day|(?:a few|a couple of|several) (?:days|weeks) ago"
    rf"|in (?:early |late |mid-?)?(?:{_EN_MONTH_NOT_MAY})\.?(?: [0-9]{{4}})?"
    rf"|{EN_MONTH_AS_A_WHOLE} (?:{_EN_MONTH})\.?(?: [0-9]{{4}})?"
    # A month alone: said with its part ("early Nov"), or the whole start of an answer ("October, I think").
    rf"|(?:early|late|mid-?) ?(?:{_EN_MONTH})\.?(?: [0-9]{{4}})?|^(?:{_EN_MONTH_NOT_MAY})\.?(?: [0-9]{{4}})?"
    # A day of this or last month ("it was the 17th"), as a correction at the read-back says it; not "the 2nd
    # time" or "the 1st party".
    r"|the [0-9]{1,2}(?:st|nd|rd|th)(?! (?!(?:of|at|in|on|around|about|morning|afternoon|evening|night|i)\b)[a-z])"
)
_EN_DAY_PART = rf"(?:,? (?:{_EN_PART})|,? (?:in the|at) (?:{_EN_PART}))"  # "evening", ", in the afternoon", "at night"
_EN_TIME = re.compile(
    rf"(?<![A-Za-z0-9])(?:"
    # "last friday evening, around 7": an hour alone is a clock right after the part of the day.
    rf"(?:{_EN_DATE}){_EN_DAY_PART},? (?:at|around|about) [0-9]{{1,2}}(?:\.[0-9]{{2}})?"
    r"(?![0-9]|[:.,][0-9]| ?(?:am|pm)\b| (?:o'clock|in the))"
    rf"|(?:{_EN_DATE})(?:{_EN_DAY_PART})?(?:,? (?:{_EN_CLOCK}))?"
    rf"|(?:{_EN_CLOCK})(?:,? (?:on )?(?:{_EN_DATE}))?"
    rf")(?![A-Za-z0-9])",
    re.IGNORECASE,
)
_LEADING_PREPOSITION = re.compile(
    rf"^(?:(?:in|on|{EN_CLOCK_LEAD_WORDS}) )*(?:the (?=[0-9]))?",
    re.IGNORECASE)


def find_times(text: str) -> list[Find]:
    """Expressions of when something happened ("昨天下午三点", "上周五", "last Friday", "on 5 March")."""
    shown, text = halfwidth(text), canonical(text)
    candidates: list[Find] = []
    for pattern in (_ZH_TIME, _EN_TIME):
        for m in pattern.finditer(text):
            start, value = m.start(), m.group()
            lead = _LEADING_PREPOSITION.match(value)
            if lead:
                start, value = start + lead.end(), value[lead.end():]
            find = Find("incident_time", start, start + len(value), shown[start: start + len(value)])
            if value and not _is_amount_or_code(text, find):
                candidates.append(find)
    # The longest reading wins: "November 18 at 9:35am" is one time, not "9:35" alone.
    finds: list[Find] = []
    for find in sorted(candidates, key=lambda f: (f.start - f.end, f.start)):
        if not _overlaps(find, finds):
            finds.append(find)
    return sorted(finds, key=lambda f: f.start)


# A time in a story that is not when it happened: a deadline or a threat ("if it's not fixed today", "今天之内",
# "再不处理"), what someone said ("他说今天办不了"), or a day that refers to another ("当天的最低价").
_NOT_WHEN_IN_CLAUSE = re.compile(
    r"如果|要是|若是|再不|否则|不然|说|讲|告诉|表示|答应|承诺|保证"
    r"|(?i:\b(?:if|unless|said|says|told|tells|promised|promises)\b)")
# ... or a day after the one it happened ("the following Tuesday"), or a deadline ("the deadline was Monday").
_NOT_WHEN_RIGHT_BEFORE = re.compile(
    r"(?:必须|要求|最迟|最晚|第|(?i:\b(?:by|until|till|before|within|no later than)"
    r"(?:\s+(?:the\s+)?(?:close of business|close|end of (?:the )?(?:business )?day|cob|eod))?(?:\s+on)?))\s*$"
    r"|(?i:\b(?:following|next|subsequent)\s+)$"
    r"|(?i:\b(?:deadline|due date|due)(?:\s+(?:was|is|of|on|by))?\s*)$")
# ... or a count of days ("今天已经第五天了"), a rule ("周末不算"), a schedule ("周一到周五九点到五点").
# ... or a day that happened again ("今天又是一个跌停": when it began is another day).
_NOT_WHEN_AFTER = re.compile(r"^(?:之内|以内|之前|前|为止|内|(?:已经|都已经|都|是)第|不算|除外|又"
                             # A deadline with its threat ("你们今天不给个答复我就起诉").
                             r"|(?:再|还|要是|如果)?不(?:给|处理|解决|答复|回复|退|赔|还|改)[^，,。！!？?]{0,8}就"
                             r"|(?:到|至|~|-)(?:周|星期|礼拜)|(?:到|至|~|-)[0-9一二三四五六七八九十两]{1,3}(?:点|时|:))"
                             r"|^(?i:\s*(?:to|through|-)\s*(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b)")
_RANGE_BEFORE = re.compile(r"(?:(?:周|星期|礼拜)[一二三四五六日天]\s*(?:到|至|~|-)"
                           r"|[0-9一二三四五六七八九十两](?:点|时)\s*(?:到|至|~|-)"
                           r"|(?i:\b(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)\s*(?:to|through|-)))\s*$")
# A time of day alone ("下午两点到的", "at 3pm") says not which day: the customer is asked, and the day comes with it.
_CLOCK_ONLY = re.compile(rf"^(?:{_ZH_CLOCK}|{_EN_CLOCK})$", re.IGNORECASE)
# A year alone is background in a story ("去年开的户", "two years ago I bought it"), seldom when it happened:
# the customer is asked, and may answer with the year itself.
_YEAR_ONLY = re.compile(r"^(?:去年|今年|前年|[0-9]{4}年"
                        r"|(?:[0-9]{1,2}|[一二三四五六七八九十两]{1,3}|几|好几|十几)年(?:以|之)?前"
                        r"|(?i:last year|this year|(?:a|one|two|three|four|five|six|seven|eight|nine|ten|a few|"
                        r"several|[0-9]{1,2}) years? ago))$")
_ANOTHER_DAY = re.compile(r"^(?:当天|当日|同一天|同日)$")
# Up to now ("到今天都超过两个礼拜了", "截至今日"): how long it has lasted, not when it happened.
_UP_TO_NOW = re.compile(r"(?:直到|一直到|到|截至|截止到?|至)\s*$")
_NOW = re.compile(r"^(?:今天|今日|今儿|现在|目前)$")
# ... or said as how things stand ("今天都周一了钱还冻在那").
_STILL = re.compile(r"都|已经|还|仍|依然")
_ALREADY = re.compile(r"(?:都|已经)\s*$")  # "都周一了", "已经12月了"
# What is quoted is what someone said or wrote: a product's name ("稳健增利3号"), a text message ("今日必涨").
_QUOTED = re.compile(r"“[^”]*”|「[^」]*」|『[^』]*』|\"[^\"]*\"")
# Finding out ("昨天发现被扣了", "今天对了一下交割单", "刚才看账户") is when it came to light, not when it happened.
_FOUND_OUT = re.compile(r"发现|才知道|才看到|对了一下|对账|查了一下|一查|一看|看了一下|看账户|查账户|打开.{0,6}才"
                        r"|收到.{0,4}(?:短信|通知|消息|邮件)"
                        r"|(?i:(?:noticed|discovered|found out|realized|realised|checked my))")
_FOUND_OUT_WITHIN = 16  # characters after the time
_FOUND_OUT_BEFORE = re.compile(
    r"(?i:\b(?:noticed|discovered|found out|realized|realised)\s+(?:only\s+|just\s+)?)$"
    # ... or got in touch about it ("I have been on hold three times today").
    r"|(?i:\b(?:on hold|called you|phoned|rang you|emailed|chased|contacted you)\b[^.!?]{0,20})$")
_CLAUSE_END = re.compile(r"[，,。！!？?；;\n]|\.(?:\s|$)")


def story_times(text: str) -> list[Find]:
    """Times in a story that say when it happened (find_times, without deadlines, threats, reported speech,
    days that refer to another day, counts, schedules, a year alone and a time of day alone)."""
    plain = canonical(text)
    wish = find_wish(text)
    wish_at = halfwidth(text).find(wish) if wish else -1
    quoted = [m.span() for m in _QUOTED.finditer(plain)]
    kept = []
    for find in find_times(text):
        clause_start = max((m.end() for m in _CLAUSE_END.finditer(plain, 0, find.start)), default=0)
        before = plain[clause_start: find.start]
        said = plain[find.start: find.end]
        if (_ANOTHER_DAY.match(said) or _YEAR_ONLY.match(said) or _CLOCK_ONLY.match(said)
                or _NOT_WHEN_AFTER.match(plain[find.end:])
                or _RANGE_BEFORE.search(before)
                or _NOT_WHEN_IN_CLAUSE.search(before) or _NOT_WHEN_RIGHT_BEFORE.search(before)
                or (_NOW.match(said) and (_UP_TO_NOW.search(before) or _STILL.match(plain, find.end)))
                or (_ALREADY.search(before) and plain.startswith("了", find.end))
                or any(start < find.start < end for start, end in quoted)
                or (wish and 0 <= wish_at <= find.start < wish_at + len(wish))):
            continue
        kept.append(find)
    return kept


# A day told from another ("11月16号收盘…第二天一开盘就强平了"): two days, and which one is the customer's to say.
_NEXT_DAY = re.compile(r"第二天|第二日|次日|隔天|隔日|翌日|(?i:\bthe (?:next|following) (?:day|morning)\b)")


def tells_a_later_day(text: str) -> bool:
    return bool(_NEXT_DAY.search(canonical(text)))


def tells_when_found_out(text: str, times: Iterable[Find]) -> bool:
    """Does one of the story's ``times`` (story_times) say when the customer found out ("今天对了一下交割单，
    发现…") or got in touch about it? Then the day it happened is for the customer to say."""
    plain = canonical(text)
    return any(_FOUND_OUT.search(plain, find.end, find.end + _FOUND_OUT_WITHIN)
               or _FOUND_OUT_BEFORE.search(plain, 0, find.start) for find in times)


def _is_amount_or_code(text: str, find: Find) -> bool:
    """'3点' in '3点几万' or a time inside a number or id is not a time."""
    before = text[max(0, find.start - 1): find.start]
    after = text[find.end: find.end + 1]
    return bool(re.match(r"[0-9\-]", before) or re.match(r"[0-9]", after) or re.match(r"[万元块]", after))


# ---------------------------------------------------------------------------------------------------
# Where, who, what the customer wants

# Our premises, and the named venues where staff meet customers (a seminar in a hotel).
_ZH_PLACE_SUFFIX = "证券营业部|营业部|分公司|支行|分行|营业厅|网点|门店|酒店|宾馆|大厦|会所"
# "解放路那个营业部", "德輔道中嗰間分行": the name, then which one.
_THAT_ONE = "(?:那个|那家|那间|这个|这家|这间|𠮶间|𠮶家)"
# First a place after 在/去/到 ("在上海浦东营业部"), or said as a clause of its own, else any named branch
# ("浦东营业部的柜员").
_ZH_PLACES = (
    re.compile(rf"(?:在|去|到|于|来|从|位于|喺)(?P<p>{_HAN}{{2,10}}?{_THAT_ONE}?(?:{_ZH_PLACE_SUFFIX}))"),
    # A clause of its own that names the district or the street ("，湖南衡阳解放路那个营业部").
    re.compile(rf"(?:^|[，,。；;\s：:])(?P<p>(?={_HAN}{{0,10}}[省市区县路道街]){_HAN}{{2,16}}?{_THAT_ONE}?"
               rf"(?:{_ZH_PLACE_SUFFIX}))"),
    re.compile(rf"(?P<p>{_HAN}{{2,6}}?{_THAT_ONE}?(?:{_ZH_PLACE_SUFFIX}))"),
)
# What comes before "营业部" but is not its name: "你们营业部", "投诉营业部经理", "就是天河路营业部", "请问营业部的…",
# "被你们营业部…", "让我回开户营业部", "你哋中環分行"; a connective or a time that opens the clause ("结果营业部大门
# 锁着", "后来营业部打电话来").
_ZH_CONNECTIVE = ("结果|然后|后来|之后|随后|接着|于是|所以|因为|不过|当时|那天|当天|第二天|今天|昨天|前天|刚才|刚刚|"
                  "已经|原来|本来|居然|竟然|终于|最后")
_ZH_PLACE_STRIP = re.compile(
    rf"^(?:{_ZH_CONNECTIVE}|"
    r"(?:我要|我想|要|想)?(?:投诉|反映|咨询)|请问|想问|问下|关于|一下|银行|希望|建议|要求|但是|但|可是|而且|别|再|跑|过|[一两二三四五几好][趟回次]|自称|号称|说是|被|又|让|回|喺|你哋|我哋|𠮶间|𠮶家|你们的?|我们的?|贵司的?|贵公司的?|公司的?|这个|那个|这家|那家|哪个|附近的?|我家附近的?|一家|"
    r"(?:我?家)?离(?:我家?)?最近的|最近的|"
    r"的|了|办理|办业务|开户|就是|是|叫|名叫|找|去|到|问|我|他|她|陪|陪他|陪她|陪我|带|带他|带她|带我|"
    r"还得|得|必须|本人|亲自)+"
)
_EN_PLACE = re.compile(
    r"\b(?i:at|in|to|visited|from|into) (?:the |your |a |our )?"
    r"(?P<a>(?:[A-Z][\w'\-]*(?: |, )){1,4}(?i:branch|office|outlet|service cent(?:re|er)))\b"
    r"|\b(?i:branch|office) (?:in|on|at) (?P<b>[A-Z][\w'\-]*(?: [A-Z][\w'\-]*){0,3})"
)
_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪"
    "范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤欧温柯詹易常"
    "傅康洪包左齐樊鲁葛牛童庞祝裴"
    # Less common, and no everyday word's first character.
    "冉岳翟殷俞聂佟蒲褚阮凌霍闵穆邢骆滕卓蔺祁戚晏巫柴邝伍庄吉"
)
_COMPOUND_SURNAMES = ("欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "慕容", "令狐")
_SURNAME = rf"(?:{'|'.join(_COMPOUND_SURNAMES)}|[{_SURNAMES}])"
_ZH_ROLE = re.compile(
    r"(?:客户经理|客户主任|渠道经理|销售经理|业务经理|理财经理|理财专员|理专|大堂经理|营业部经理|营业部负责人|投资顾问|投顾|顾问|主管|柜员|职员|工作人员|业务员|营业员|"
    r"销售人员|(?<!人工)客服人员|客服专员|(?<![人工转])客服(?!电话|热线|中心|号码)|专员|员工|经办人)"
    r"(?:[，,]?(?:好像|应该|大概|可能|据说)?叫|是|姓)?"
)
_ZH_ROLE_LEAD_OUT = re.compile(r"(?:[，,]?(?:好像|应该|大概|可能|据说)?叫|是|姓)$")
_ZH_TITLE = re.compile(
    # Not the customer introducing themselves ("我是王先生"); staff ("那天是陈经理接待的") are.
    rf"(?<![我叫姓])(?<!我是)(?<!本人){_SURNAME}(?:经理|先生|女士|小姐|主管|总|老师)"
)
# What may follow a staff member's name: punctuation, or a word that starts what they did.
_ZH_NAME_END = re.compile(
    r"[，,。.！!？?、；;\s的说给把让和跟也就不没态度一直告诉承诺答应私自擅自帮替向对骗却还都又推在之以曾当上]|$"
)
# A name before the role: "那个叫覃海燕的业务员", "一个姓马的女工作人员" (the surname is all they know).
_ZH_NAMED_BEFORE_ROLE = re.compile(
    rf"(?:(?:叫|名叫|名字叫)(?P<name>{_SURNAME}{_HAN}{{1,2}}?)"
    rf"|姓(?P<surname>{_SURNAME}))的{_HAN}{{0,4}}?(?P<role>{_ZH_ROLE.pattern})"
)
# A staff number after the role: "客服工号8826", "柜员，工号0317".
_ZH_STAFF_NUMBER = re.compile(r"^[，,\s]?(?:工号|编号)[:：]?\s*[0-9A-Za-z]{2,10}")
# A staff number, a surname or a name said anywhere: "他说他工号是A0731", "佢話佢工號係HK2207", "其中一个说自己姓罗",
# "胸牌上写着姓胡", "柜台一个姓杨的女的", "两融岗的一个女的，姓冯", "一个女的，叫李欣怡".
_ZH_WHICH_PERSON_SAID = re.compile(
    r"(?:工号|员工号|员工编号)(?:是|系|为|[:：])?\s*(?P<number>[0-9A-Za-z]{2,10})"
    rf"|(?:说|自称|写着|写的|话|一个|一位|那个|那位|有个|^|[，,、；;\s])(?:他|她|自己|佢)?(?:是|系)?"
    rf"姓(?P<surname>{_SURNAME})"
    # "…的女的，叫李欣怡": a name said after 叫 at the end of a clause.
    rf"|(?<![我咱])(?<!本人)(?:名叫|叫做|叫)(?P<name>{_SURNAME}{_HAN}{{1,2}})(?=$|[，,。.！!？?、；;\s])")
# A name read off a badge: "工牌上写的沈丽", "胸牌上是陈嘉欣"; read with a doubt ("胸牌上好像写的是储俊"), the name
# all the same.
_ZH_BADGE_NAME = re.compile(r"(?:工牌|胸牌|名牌|工作牌|牌子)上?(?:好像|好似|似乎|大概|应该|估计)?"
                            r"(?:写的是?|写着|印着|是|显示)")
# How a role is addressed before the name: "投顾老师孙浩", "客服小姐Amy".
_ZH_HONORIFIC = re.compile(r"老师|小姐|小哥|姐姐|大姐")
# Staff at a counter named by where they sat ("柜台那个小伙子", "前台的职员").
_ZH_COUNTER_PERSON = re.compile(
    r"(?:柜台|前台|窗口|大堂|服务台)(?:的|那个|那位|这个|这位|那|这)?"
    r"(?:小姑娘|小伙子|姑娘|小哥|阿姨|大姐|大妈|大爷|女的|男的|女士|先生|职员|员工|工作人员|柜员|服务员|人)"
)
_EN_PEOPLE = re.compile(
    r"\b(?P<role>(?i:(?:account|relationship|branch|wealth) manager|financial advis[eo]r|investment advis[eo]r|"
    r"advis[eo]r|broker|teller|cashier|clerk|staff member|employee|salesman|saleswoman|salesperson|supervisor|"
    r"(?:customer (?:service|support) )?(?:representative|rep|agent)|loan officer|officer|associate|banker))"
    r"(?![A-Za-z])(?:,? (?:called|named|whose name is) |, | )?"
    r"(?P<name>(?:Mr|Ms|Mrs|Miss|Dr)\.? [A-Z][a-z]+|[A-Z][a-z]+(?: [A-Z][a-z]+)?)?"
    r"|\b(?P<title>(?:Mr|Ms|Mrs|Miss)\.? [A-Z][a-z]+(?: [A-Z][a-z]+)?)"
    # Someone named by where they stood: "Marco at the counter".
    r"|\b(?P<front>[A-Z][a-z]+) (?:at|behind|on) the (?:front desk|desk|counter|reception|teller window|window)\b"
)
_EN_NAME_FALSE_FRIENDS = {"I", "At", "In", "On", "The", "And", "But", "He", "She", "They", "Who", "Was", "Has",
                          "Had", "Said", "Told", "Did", "Never", "Just", "Then", "Yesterday", "Today", "Last",
                          "Someone", "Somebody", "Nobody", "Everyone", "Everybody", "We", "You", "It", "People",
                          "Staff", "Nothing", "There", "This", "That", "When", "Later", "Finally", "Also"}


# Where strangers reach investors online ("在一个抖音直播间里", "在炒股微信群"): the place of a fraud in our name;
# our own ("在你们小程序上预约") is how the customer reached us, not where it happened.
_ZH_ONLINE_PLACE = re.compile(
    rf"(?:在|从|进了?|拉进)(?!你们|贵司|贵公司|我们)(?:一个|某个|个)?(?P<p>[{CJK}A-Za-z]{{0,8}}?(?:直播间|微信群|QQ群|炒股群|股票群|荐股群|公众号|小程序|论坛|贴吧))"
)


_STREET = re.compile(r"[路道街巷]")
# The street said right after the branch: "深圳羅湖營業部，喺人民南路", "陆家嘴那间营业部，在世纪大道上".
_STREET_AFTER = re.compile(rf"[，,]?\s*(?:就在|在|喺|位于)(?={_HAN}{{2,8}}?[路道街])(?P<s>{_HAN}{{2,8}}?[路道街])")


def _street_after(text: str, typed: str, end: int) -> str:
    m = _STREET_AFTER.match(text, end)
    return typed[end: m.end()] if m else ""


def _named_place(m: re.Match[str], shown: str) -> str | None:
    """The place a match names, as typed, without what comes before its name; None if it has no name."""
    # Who went where ("我带我妈去营业部"), whose it is ("10月份你们营业部"), what is complained of ("打客服热线投诉
    # 营业部的人"): only what follows names the place.
    place = _ZH_PLACE_STRIP.sub("", re.sub(r"^.*(?:[去到在跑]|你们|你哋|我们|贵司|贵公司|投诉|反映|举报)(?=.)", "",
                                           m.group("p")))
    suffix = re.search(f"(?:{_ZH_PLACE_SUFFIX})$", place)
    return shown[m.end("p") - len(place): m.end("p")] if suffix and suffix.start() >= 2 else None


def find_place(text: str) -> str | None:
    """Where it happened: a branch or office the customer names ("上海浦东营业部", "the Central branch"), or where
    online a stranger reached them ("抖音直播间")."""
    typed, shown, text = text, halfwidth(text), canonical(text)
    online = _ZH_ONLINE_PLACE.search(text)
    if online:
        return shown[online.start("p"): online.end("p")]
    named = [place + _street_after(text, typed, m.end("p"))
             for pattern in _ZH_PLACES for m in pattern.finditer(text) if (place := _named_place(m, shown))]
    if named:
        # Said twice, the place with its street is the one to find ("中環分行" then "中環德輔道中嗰間分行").
        return next((place for place in named if _STREET.search(place)), named[0])
    m = _EN_PLACE.search(text)
    if m:
        return (m.group("a") or f"{m.group('b')} branch").strip(" ,")
    return None


_ADVERBS_LIKE_NAMES = ("常常", "常年", "万一", "向来", "于是", "高高")


def _zh_person_name(text: str, pos: int) -> str:
    """The staff member's name right after a role word: a surname and one or two characters, or a title."""
    latin = re.match(r"[A-Z][a-z]+(?: [A-Z][a-z]+)?", text[pos:])
    if latin:
        return latin.group()  # "客户主任Kelvin": staff in Hong Kong go by English names
    if text[pos: pos + 2] in _ADVERBS_LIKE_NAMES:
        return ""  # "客户经理常常私下…": how often, not who
    if text[pos: pos + 2] in _COMPOUND_SURNAMES:
        head = 2
    elif len(text) > pos + 1 and text[pos] in "小老阿" and text[pos + 1] in _SURNAMES:
        return text[pos: pos + 2]  # "柜员小蒋", "客户经理老郑": how colleagues and customers call them
    elif pos < len(text) and text[pos] in _SURNAMES:
        head = 1
    else:
        return ""
    title = re.match("先生|女士|小姐|经理|主管", text[pos + head:])
    if title:
        return text[pos: pos + head + title.end()]
    for size in (2, 1):
        given = text[pos + head: pos + head + size]
        if len(given) == size and re.fullmatch(f"{_HAN}+", given) and _ZH_NAME_END.match(text, pos + head + size):
            return text[pos: pos + head + size]
    given = text[pos + head: pos + head + 1]
    return text[pos: pos + head] + given if re.fullmatch(_HAN, given or "x") else text[pos: pos + head]


def _name_after_role(text: str, pos: int) -> str:
    """The name right after a role, with how the role is addressed before it ("老师孙浩" after "投顾")."""
    honorific = _ZH_HONORIFIC.match(text, pos)
    if honorific:
        name = _zh_person_name(text, honorific.end())
        return honorific.group() + name if name else ""
    return _zh_person_name(text, pos)


def _named_role(m: re.Match[str], shown: str) -> str:
    role = shown[m.start("role"): m.end("role")]
    if m.group("name"):
        return role + shown[m.start("name"): m.end("name")]
    return f"{role}（姓{shown[m.start('surname'): m.end('surname')]}）"


# Where a full name may stand: at the start of a clause, after a word that leads to a person ("要求陈怡君道歉") or
# one that joins clauses ("后来孙立伟…").
_ZH_BEFORE_FULL_NAME = re.compile(
    r"(?:^|[，,。.！!？?、；;\s：:“\"「（(]|要求|希望|让|叫|找|和|跟|被|是|请|对|向|给|把|由|那个|这个|那位|这位|"
    r"后来|然后|结果|但是|可是|而且|当时|之后|最后|全名|大名)$")
_ZH_NOT_GIVEN_NAME = re.compile(r"经理|先生|女士|小姐|主管|总|老师|姐|哥|某")
# What follows it: punctuation, or what the person did ("赵一鸣现在说…", "陈怡君当面道歉").
_ZH_AFTER_FULL_NAME = re.compile(
    r"现在|当时|当面|亲自|一直|说|讲|告诉|答应|承诺|推荐|让|给|把|跟|和|也|就|又|还|不|没|却|都|在|向|对|[，,。.！!？?、；;\s]|$")


def _surnames(people: Iterable[str]) -> set[str]:
    """Surnames of staff named by surname and title ("陈小姐", "客户经理老郑", "业务员（姓马）")."""
    found: set[str] = set()
    for person in map(canonical, people):
        titled = (m.group() for m in _ZH_TITLE.finditer(person))
        found.update(name[:2] if name[:2] in _COMPOUND_SURNAMES else name[0] for name in titled)
        found.update(a or b for a, b in re.findall(rf"姓({_SURNAME})|[小老阿]({_SURNAME})$", person))
    return found


def _full_names(text: str, surnames: set[str]) -> list[tuple[int, int]]:
    """Where a full name with one of these surnames stands ("陈小姐" before, "陈怡君" now: the same person's name)."""
    spans: list[tuple[int, int]] = []
    for surname in surnames:
        for m in re.finditer(re.escape(surname), text):
            if not _ZH_BEFORE_FULL_NAME.search(text[: m.start()]) or _ZH_NOT_GIVEN_NAME.match(text, m.end()):
                continue
            size = next((size for size in (2, 1) if re.fullmatch(f"{_HAN}{{{size}}}", text[m.end(): m.end() + size])
                         and _ZH_AFTER_FULL_NAME.match(text, m.end() + size)), 0)
            if size:
                spans.append((m.start(), m.end() + size))
    return spans


def named_again(people: str | None, text: str) -> list[str]:
    """Full names in the text of staff named before by surname and title, as typed."""
    surnames = _surnames(split_people(people))
    return [halfwidth(text)[start:end] for start, end in _full_names(canonical(text), surnames)] if surnames else []


def _staff_number(text: str, pos: int) -> str:
    number = _ZH_STAFF_NUMBER.match(text[pos:])
    return number.group().lstrip("，, ") if number else ""


def _within(found: list[tuple[int, str, bool]], at: int) -> bool:
    """Is ``at`` inside a person already found?"""
    return any(start <= at < start + len(person) for start, person, _ in found)


# Two or three characters ending a clause: on a badge, a name whatever its surname.
_ANY_NAME = re.compile(rf"{_HAN}{{2,3}}?(?=$|[，,。.！!？?、；;\s])")


def _badge_name(text: str, pos: int) -> str:
    """The name read off a badge ("胸牌上写的冉小军"): a known surname's, else any two or three characters."""
    name = _zh_person_name(text, pos)
    if name:
        return name
    m = _ANY_NAME.match(text, pos)
    return m.group() if m else ""


def _people(text: str) -> list[tuple[int, str, bool]]:
    """Staff the text names: (where, who as typed, whether a name or a title says which person)."""
    shown, text = halfwidth(text), canonical(text)
    found: list[tuple[int, str, bool]] = []
    counters = [(m.start(), m.end()) for m in _ZH_COUNTER_PERSON.finditer(text)]
    for start, end in counters:
        name = _name_after_role(text, end)  # "柜台职员陈嘉欣"
        found.append((start, shown[start: end + len(name)], bool(name)))
    found += [(m.end(), shown[m.end(): m.end() + len(name)], True)
              for m in _ZH_BADGE_NAME.finditer(text) if (name := _badge_name(text, m.end()))]
    named_before = {m.start("role"): m for m in _ZH_NAMED_BEFORE_ROLE.finditer(text)}
    found += [(m.start(), _named_role(m, shown), True) for m in named_before.values()]
    for m in _ZH_ROLE.finditer(text):
        if any(start <= m.start() < end for start, end in counters) or m.start() in named_before:
            continue
        role = _ZH_ROLE_LEAD_OUT.sub("", m.group())
        name = _name_after_role(text, m.end()) or _staff_number(text, m.end())
        typed = shown[m.end(): m.end() + len(name)]
        if name and m.group().endswith("姓"):
            typed = f"（姓{typed}）"  # "营业员姓许": the surname is all the customer knows
        found.append((m.start(), shown[m.start(): m.start() + len(role)] + typed, bool(name)))
    for m in _ZH_TITLE.finditer(text):
        if not _within(found, m.start()):
            found.append((m.start(), shown[m.start(): m.end()], True))
    for m in _ZH_WHICH_PERSON_SAID.finditer(text):  # "佢話佢工號係HK2207": a number says which person
        start = m.start("surname") - 1 if m.group("surname") else m.start("name") if m.group("name") else m.start()
        if not _within(found, start):
            found.append((start, shown[start: m.end()], True))
    for m in _EN_PEOPLE.finditer(text):
        if m.group("title"):
            found.append((m.start(), m.group("title"), True))
            continue
        if m.group("front"):
            if m.group("front") not in _EN_NAME_FALSE_FRIENDS:
                found.append((m.start(), m.group("front"), True))
            continue
        name = m.group("name") or ""
        if name.split(" ")[0] in _EN_NAME_FALSE_FRIENDS:
            name = ""
        found.append((m.start(), f"{m.group('role')} {name}".strip(), bool(name)))
    found += [(start, shown[start:end], True) for start, end in _full_names(text, _surnames(p for _, p, _ in found))
              if not _within(found, start)]
    return sorted(found)


def _joined(people: Iterable[str], text: str) -> str | None:
    listed = list(dict.fromkeys(people))
    # "大堂经理出来说…大堂经理冯丽": a role said again with the name is one person.
    unique = [person for person in listed if not any(person != other and person in other for other in listed)]
    if not unique:
        return None
    return ("、" if re.search(_HAN, text) else ", ").join(unique)


def find_people(text: str) -> str | None:
    """Staff the customer names ("客户经理王强", "the teller", "Mr Chan"), joined; None if nobody."""
    return _joined((person for _, person, _ in _people(text)), text)


def people_outside_wish(text: str) -> str | None:
    """The people involved in what happened: staff named in the customer's wish ("希望加强员工培训", "train your
    staff") are not, unless the wish names one ("追究客户经理张伟的责任")."""
    wish = find_wish(text)
    shown = halfwidth(text)
    at = shown.find(wish) if wish else -1
    if at < 0 or not wish:
        return find_people(text)
    outside = shown[:at] + " " * len(wish) + shown[at + len(wish):]
    named_in_wish = [person for _, person, named in _people(wish) if named]
    return _joined([*(person for _, person, _ in _people(outside)), *named_in_wish], text)


def names_someone(text: str) -> bool:
    """Does the text say which person, by a name, a title or a staff number, not only a role ("客服说…")?"""
    return any(named for _, _, named in _people(text))


def split_people(value: str | None) -> list[str]:
    """A recorded people_involved as the people it lists."""
    return [part for part in re.split(r"[、]|, ", value or "") if part]


_ZH_WISH = re.compile(
    r"希望|(?<!符合)(?<!按)要求|请求|恳请|请你们|请尽快|请帮我|请给我|请把|请将|麻烦你们|麻烦尽快|我想要|我要你们|我只想|"
    r"必须给|必须把|给我一?个说法|给个说法|给我一?个交代|给个交代|给我一?个解释|给个解释|尽快处理|尽快解决|"
    r"(?:退还|退回|返还|退|赔偿|补偿|赔|还)(?:给)?我|把钱退|把钱还|把.{0,8}退(?:还|回)?给我|帮我(?:撤销|解冻|恢复|处理|退)|"
    r"帮我把|帮我(?:改|修改|更正|查清|核实|解决)|麻烦(?:你们)?把|请(?:你们)?把|追回|(?:你们|帮我|给我|麻烦)查一下|配合我"
)
_EN_WISH = re.compile(
    # "I asked", "I requested", "I wanted" tell what happened: the verbs as they are, not as they were.
    r"\b(?:(?:i want|i'd like|i would like|i wish|i expect|i demand|i request|i ask|i need you to|i need|please|"
    r"could you|can you|kindly)(?![a-z])|refund|reimburse|compensat|pay me back|give me back|money back|reverse|"
    r"cancel the|apologi[sz]e|an apology|sort (?:this|it) out|fix (?:this|it))",
    re.IGNORECASE,
)
# What someone else did or would not do: "they refused to refund", "the bank will not reverse it".
# ... or what someone asked the customer ("asking if i want to buy it back").
_EN_NOT_DONE = re.compile(
    r"(?i)\b(?:will|would|won'?t|wouldn'?t|did|didn'?t|does|doesn'?t|do|don'?t|refused to|refuses to|never|not|"
    r"they|he|she|it|bank|company|firm|if|whether)\s+(?:not\s+|n'?t\s+)?$")
_EN_NOT_A_WISH = re.compile(
    r"\b(?:i want to (?:complain|file|make|lodge|report|raise)|i'd like to (?:complain|file|make|lodge|report|raise)|"
    r"i would like to (?:complain|file|make|lodge|report|raise)|please help(?: me)?\W*$|i want to talk|"
    r"i want to speak|i'd like to speak|(?:can|could) you (?:help|tell|check|look|hear)|"
    r"i need (?:help|to talk|to speak)|"
    r"please (?:call|contact|reply|hold|wait)|i want (?:a|an) (?:human|person|agent))",
    re.IGNORECASE,
)
# ... nor a rule the customer quotes ("开通港股通，要求前20个交易日日均资产不低于50万").
_ZH_NOT_A_WISH = re.compile(r"(?:我要|我想|想要)投诉|转人工|人工客服|请帮我转|请稍等|请问"
                            r"|(?<![我们])要求(?![^，,]*?(?:赔|退|补|返|道歉))[^，,]{0,24}?(?:不低于|不少于|不得低于|不超过)")
# Sentences end at 。！？!?；; and at a full stop followed by a space ("3.5%" and "a.m." stay whole).
_SENTENCE = re.compile(r"(?:[^。！？!?；;\n.]|\.(?!\s|$))+[。！？!?；;.]*")


def find_wish(text: str) -> str | None:
    """What the customer wants done: the clause with a wish in it, to the end of its sentence."""
    original = text.strip()
    text = canonical(original)  # same length: matches on `text`, the wish is cut from `original`
    for sentence in _SENTENCE.finditer(text):
        lead = len(sentence.group()) - len(sentence.group().lstrip())
        s = sentence.group().strip()
        s_original = original[sentence.start() + lead: sentence.start() + lead + len(s)]
        if re.search(_HAN, s):
            for m in _ZH_WISH.finditer(s):
                clause_start = s.rfind(",", 0, m.start())
                wish = s_original[clause_start + 1:].strip(" ，,。.！!")
                if len(re.findall(r"\w", wish)) >= 3 and not _ZH_NOT_A_WISH.search(canonical(wish)):
                    return wish
        else:
            for m in _EN_WISH.finditer(s):
                if _EN_NOT_DONE.search(s[: m.start()]):
                    continue  # "the bank will not reverse it" tells what happened, not what the customer wants
                # From the wish's own clause: "The fee was wrong, so please refund it" -> "please refund it".
                clause_start = max(s.rfind(sep, 0, m.start()) for sep in (",", " so ", " but "))
                wish = re.sub(r"^(?:and|so|but) ", "", s_original[clause_start + 1:].strip(" ,.!"))
                if len(wish.split()) >= 2 and not _EN_NOT_A_WISH.search(canonical(wish)):
                    return wish
    return None


# ---------------------------------------------------------------------------------------------------
# How the customer feels, and what they threaten: flags for the case's risk grade, from the compliance
# team's risk rules (risk_words.py), so the bot and the gateway share one vocabulary

RISK_FLAGS = FLAGS


def find_risk_flags(text: str) -> list[str]:
    return find_flags(canonical(text))


_ANY_SUM = re.compile(r"[0-9]|[一二三四五六七八九十两百千万几]+(?:万|千|元|块)")
# Where a threat says it will go: the regulators' and consumer hotlines are no sum ("我就打12386").
_HOTLINE = re.compile(r"(?<![0-9])(?:12386|12378|12315|12345|12363|110)(?![0-9])")


_OUTBURST_FLAGS = {"anger", "regulator", "media", "lawyer"}


def is_outburst(text: str) -> bool:
    """Anger or a threat that names nothing the complaint is about: no service, time, place, person or sum ("你们这
    是明抢啊！我的钱就这么没了", "你哋再係咁我就去消委會同埋報警"). It says how the customer feels or what they
    will do, not what happened, however sure the classifier is."""
    return (bool(_OUTBURST_FLAGS & set(find_risk_flags(text))) and not find_products(text)
            and not _tells_a_service(text) and not story_times(text)
            and not find_place(text) and not find_people(text)
            and not _ANY_SUM.search(_HOTLINE.sub(" ", canonical(text))))


_WANTS_ENGLISH = re.compile(
    r"(?i)\b(?:(?:speak|talk|write|reply|answer|continue|chat)(?: to me)? in english|english please|in english please|"
    r"(?:can|could) (?:you|we) (?:use|speak) english|do you speak english|switch to english)\b"
    r"|说英文|讲英文|用英文|英文回复|英语"
)
_WANTS_CHINESE = re.compile(
    r"(?i)说中文|讲中文|用中文|中文回复|中文吧|说普通话|讲普通话|用普通话|\b(?:(?:speak|talk|write|reply|answer|continue)"
    r"(?: to me)? in (?:chinese|mandarin)|(?:chinese|mandarin) please|switch to (?:chinese|mandarin))\b"
)


# A request is said to the bot in a few words; longer, the words tell a story ("职员叫我用普通话讲…").
_LANGUAGE_REQUEST_MAX = 16  # Chinese characters and Latin words


def language_request(text: str) -> str | None:
    """'zh' or 'en' when the customer asks to be answered in that language ("can we speak English")."""
    text = canonical(text)
    if len(re.findall(_HAN, text)) + len(re.findall(r"[A-Za-z]+", text)) > _LANGUAGE_REQUEST_MAX:
        return None
    if _WANTS_ENGLISH.search(text):
        return "en"
    if _WANTS_CHINESE.search(text):
        return "zh"
    return None


def entity_finds(text: str) -> list[Find]:
    """Everything the NLU pipeline reports as entities, without overlaps (contact data first)."""
    finds: list[Find] = []
    for group in (find_case_ids(text), find_emails(text), find_accounts(text), find_phones(text),
                  find_names(text), find_times(text), find_products(text)):
        for find in group:
            if not _overlaps(find, finds):
                finds.append(find)
    return sorted(finds, key=lambda f: f.start)


# ---------------------------------------------------------------------------------------------------
# Short answers: declining to give a contact, skipping a question, yes and no at the read-back

_REFUSAL = re.compile(
    r"没有|没手机|没电话|没邮箱|不想(?:留|给|说|提供|告诉)|不方便(?:留|给|提供|透露|说)?|不给|不留|不用了|不告诉你|拒绝|保密|算了|"
    r"(?i:\bno\b|\bnope\b|\bnone\b|\bn/?a\b|don'?t have (?:one|a phone|an email|a mobile|any)|do not have|"
    r"rather not|prefer not|not (?:telling|giving|comfortable)|won'?t (?:give|share)|no (?:phone|email|mobile|number)|"
    r"\bskip\b|not now|(?:not|n'?t) (?:want to )?(?:leave|leaving|give|giving|share|sharing|provide|providing))"
)
_SKIP = re.compile(
    r"不清楚|不知道|不记得|记不清|忘了|不确定|说不清|没有|没人|没谁|都不是|跳过|无|就这些|就这样|没了|没别的|"
    r"(?i:that'?s (?:all|it|everything)|that is all|nothing (?:else|more))|"
    r"(?i:not sure|don'?t know|dunno|no idea|can'?t remember|don'?t remember|\bnone\b|no ?one|nobody|nowhere|"
    r"\bno particular\b|nothing in particular|\bn/?a\b|\bskip\b|not applicable|\bno\b|\bnope\b|unsure)"
    # An acknowledgement or a bare yes names nobody and nowhere.
    r"|^(?:好的?|嗯+|行|可以|是的?|对|有|(?i:ok|okay|k|fine|sure|alright|right|yes|yeah|yep))[\s,，.。!！~]*$"
)
_ONLINE = re.compile(
    r"线上|网上|手机上|(?i:app)(?:上|里|中|度)|在(?i:app)|网页|网站|官网|页面|电话里|电话上|打电话|热线|"
    r"(?i:\bonline\b|\bapps?\b|\bwebsite\b|\bon the phone\b|\bover the phone\b|\bby phone\b|\binternet\b|"
    # ... or the channel it came by: "a text message on my phone, then a phone call", "on whatsapp".
    r"\b(?:phone|video) call\b|\b(?:text|sms) messages?\b|\bsms\b|\bby (?:e-?mail|text|letter|post)\b|\bwhatsapp\b|"
    r"\bfacebook\b|\bwechat\b|\btelegram\b|\binstagram\b|\bhotline\b|\bcall cent(?:re|er)\b)"
)
_YES = re.compile(
    r"^(?:对|对的|对啊|是|是的|是啊|没错|正确|没问题|好|好的|可以|嗯+|确认|都对|全对|无误|"
    r"(?i:yes|yep|yeah|yup|correct|right|that'?s right|that is right|that'?s correct|ok|okay|sure|confirm(?:ed)?|"
    r"all good|looks good|all correct|perfect))(?:[\s,，.。!！~]|$)"
)
_NO = re.compile(
    r"^(?:不对|不是|错了|有误|不正确|有错|(?i:no|nope|wrong|not quite|that'?s wrong|that is wrong|incorrect|"
    r"not right|that'?s not right))(?:[\s,，.。!！~]|$)"
)
_NEGATED = re.compile(
    r"不是[^，,。；;！!]*[，,。；;！!]?|(?i:\bnot (?:the |a |an )?[^,;.!]*[,;.!]?)")


# A request for a person says so (人工, 客服, "a human", "speak to someone"); "can someone help me", "I'd like
# someone to check my statement" or "call me back" ask for help with the complaint, which the bot gives.
_ASKS_FOR_A_PERSON = re.compile(
    r"人工|真人|客服|工作人员|领导|机器|找个?人|转接|专员|经理|主管|负责人|接线员|坐席"
    r"|(?i:\b(?:humans?|humn|huamn|persons?|people|agents?|agnet|operator|representative|rep|staff|manager|"
    r"supervisor|boss|in charge|complaint handler|customer service|customer support|advis[eo]r|team|bot|real|live)\b"
    r"|\b(?:speak|talk|chat)(?:ing)? (?:to|with)\b|\btransfer me\b|\bget me (?:someone|somebody)\b"
    r"|\b(?:put|transfer|connect|pass|hand|send)(?: me| this| it)?(?: over| through| on)? to\b)"
)


def asks_for_a_person(text: str) -> bool:
    """Does the message ask for a person in so many words (转人工, "get me a human", "speak to someone")?"""
    return bool(_ASKS_FOR_A_PERSON.search(canonical(text)))


# A person asked for now, not met before ("spoke to an agent called Leanne" answers "who was involved?").
_ASKS_FOR_A_PERSON_NOW = re.compile(
    r"转人工|人工客服|找人工|真人|转接|(?i:\b(?:transfer|put|connect|pass|hand) me\b|\bget me\b|\bhumans?\b"
    r"|\b(?:want|need|like|let me|can i|could i|may i)(?: to)? (?:speak|talk|chat)\b|\breal (?:person|human)\b)")


def asks_for_a_person_now(text: str) -> bool:
    return bool(_ASKS_FOR_A_PERSON_NOW.search(canonical(text)))


def is_refusal(text: str) -> bool:
    """'没有', '不想留', "I don't have one", "I'd rather not": the customer declines to give a contact."""
    text = canonical(text)
    return not re.search(r"[0-9@]", text) and bool(_REFUSAL.search(text))


def is_skip(text: str) -> bool:
    """'不清楚', '没有', 'not sure', 'no one': the customer cannot or need not answer (where, who)."""
    return bool(_SKIP.search(canonical(text)))


# What an answer to "where?" is made of: premises, streets, districts, landmarks ("就在我们小区门口",
# "开户的营业部在深圳福田区深南大道那边").
_PLACE_WORDS = re.compile(r"营业部|营业厅|分行|支行|网点|柜台|窗口|门口|小区|大厦|酒店|广场|大道|路|街|区|镇|那边|附近"
                          r"|中心|会展|博览会|展会|展台|会议厅|活动室|社区|大学|学院|学校|校园|食堂|商场|卖场|超市|摆摊|摊位|摊|楼")


# A name said at the end of a clause of a who-answer ("打电话的是你们两融部的周鹏，说是我的专属对接人").
_ZH_NAME_ENDING_A_CLAUSE = re.compile(
    rf"(?:是|叫|的){_SURNAME}{_HAN}{{1,2}}(?=$|[，,。.！!？?；;\s])")


# An English answer to "where?" or "who?" names one by its kind of words: "the service centre on Canton Road",
# "the Trade tab in the app"; "my account exec Kelvin Lau", "the hotline guy, staff ID CS4471".
_EN_PLACE_WORDS = re.compile(
    r"(?i:\b(?:branch|centre|center|office|counter|road|rd|street|st|avenue|ave|lane|tower|building|plaza|mall|"
    r"square|floor|hall|station|district|page|tab|screen|menu|section|website|portal)\b)")
_EN_PERSON_WORDS = re.compile(
    r"(?i:\b(?:exec|executive|dealer|trader|consultant|receptionist|guard|manager|staff|hotline|operator|guy|"
    r"lady|man|woman|girl|boy|person|someone|somebody|colleague|agent|"
    # ... or by the firm's people as the customer met them: "your stock loan desk", "the compliance people".
    r"people|desk|team|department|dept|ops|support|rep|reps|representative|adviser|advisor|analyst|officer|teller|"
    r"clerk|broker|banker|planner|assistant|supervisor|boss|salesman|saleswoman|salesperson|bloke|chap|fella|gent|"
    r"gentleman)\b|\b(?:his|her|their) name (?:was|is)\b|\b(?:called|named) [A-Z][a-z]+)"
    r"|\b(?:Mr|Ms|Mrs|Miss|Dr)\.? [A-Z]|(?<![A-Za-z0-9])[A-Z]{1,3}-?[0-9]{3,6}(?![A-Za-z0-9])"
    r"|(?<![A-Za-z])[A-Z][a-z]+ [A-Z][a-z]+(?![A-Za-z])")


def sounds_like_a_person(text: str) -> bool:
    """Does an answer to "who?" name someone, by role, title, number or a name at the end of a clause?"""
    return bool(find_people(text) or _ZH_NAME_ENDING_A_CLAUSE.search(canonical(text))
                or _EN_PERSON_WORDS.search(halfwidth(text)))


def sounds_like_a_place(text: str) -> bool:
    return bool(_PLACE_WORDS.search(canonical(text)) or _EN_PLACE_WORDS.search(halfwidth(text)))


def is_online(text: str) -> bool:
    """'线上', '在APP上', 'online', 'over the phone': it happened on no branch's premises."""
    return bool(_ONLINE.search(canonical(text)))


def is_yes(text: str) -> bool:
    return bool(_YES.match(canonical(text).strip()))


def is_no(text: str) -> bool:
    return bool(_NO.match(canonical(text).strip()))


_CORRECTION = re.compile(
    # Not a rhetorical 不是…还会是谁 ("不是你们泄露的还能是谁"), which asserts what the story says.
    # Not what the customer did wrong in the story ("按错了三次被锁了", "输错了密码").
    r"(?<![按输点转选打拨买卖下填])错了|不对|不是(?![^，,。；;！!？?]*(?:还会是|还能是|还有谁|又是谁|还是谁|是什么))|改成|改为|改一下|应该是|应为|更正|写错|记错|搞错|弄错"
    r"|(?i:\b(?:wrong|not|isn'?t|wasn'?t|should be|change|correct(?:ion)?|actually|instead|mistake|typo)\b)"
)


def is_correction(text: str) -> bool:
    """Does the message say something recorded is wrong ("电话错了", "not the 18th, the 17th")?"""
    return bool(_CORRECTION.search(canonical(text)))


def without_negated(text: str) -> str:
    """A correction without what it corrects: '不是基金，是两融' -> '是两融', 'the 17th not the 18th' -> 'the 17th'."""
    return _NEGATED.sub(" ", text)
