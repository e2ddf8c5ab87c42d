"""A complaint's nature as the securities firms' rules class it: the service environment (服务环境), a product
(服务产品), someone's attitude (服务态度), a process (服务流程), or other. The gateway guesses it from the
customer's words when the case opens; the handler sets it (``/classify``), and reports count by it.
"""

from __future__ import annotations

from collections.abc import Iterable

NATURES = ("service_environment", "product", "attitude", "process", "other")
# First match wins, in this order: how staff treated the customer says more than what it was about.
_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("attitude", (
        "态度", "態度", "不耐烦", "冷漠", "敷衍", "推诿", "无礼", "骂", "凶", "爱理不理",
        "rude", "attitude", "impolite", "yelled", "shouted", "dismissive", "unprofessional", "arrogant")),
    ("service_environment", (
        "环境", "環境", "排队", "排隊", "拥挤", "卫生", "空调", "停车", "大厅", "噪音",
        "waiting room", "queue", "crowded", "dirty", "parking", "noisy", "lobby")),
    ("process", (
        "流程", "手续", "手續", "繁琐", "拖延", "太慢", "审核", "一直没有", "迟迟", "办理", "辦理",
        "procedure", "process", "paperwork", "took too long", "still pending", "delayed", "waiting for")),
    ("product", (
        "产品", "產品", "基金", "理财", "收益", "亏损", "佣金", "手续费", "收费", "利率", "系统", "软件",
        "股票", "债券", "product", "fund", "fee", "commission", "interest rate", "trading app", "loss", "stock",
        "bond", "charge")),
)
_PRODUCT_CODES = frozenset({"online_trading", "margin_trading", "funds_wealth", "ipo_subscription", "fees_commissions",
                            "dividends_corporate_actions"})


def guess_nature(texts: Iterable[str], product: str | None = None) -> str:
    said = " ".join(texts).lower()
    for nature, words in _WORDS:
        if any(word in said for word in words):
            return nature
    return "product" if product in _PRODUCT_CODES else "other"
