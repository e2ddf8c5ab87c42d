"""Bilingual names for the record's codes, for what people read: reports and case exports.

The codes (``margin_trading``, ``letter``, ``not_upheld``) stay the data; these are only their names, the same
ones the bot and the agent console use. A code without a name here is shown as it is. The channel adapters name
themselves (``channels.ADAPTERS``): the gateway passes their names to whatever shows a case's channel.
"""

from __future__ import annotations

from functools import lru_cache

from handoff.risk import default_rules

Names = dict[str, tuple[str, str]]  # code -> (English, Chinese)

PRODUCTS: Names = {
    "brokerage_account": ("brokerage account", "证券账户"),
    "online_trading": ("online / app trading", "网上/APP交易"),
    "margin_trading": ("margin trading", "融资融券"),
    "funds_wealth": ("funds and wealth products", "基金理财"),
    "ipo_subscription": ("IPO subscription", "新股申购"),
    "bank_securities_transfer": ("transfers and withdrawals", "银证转账/出入金"),
    "fees_commissions": ("fees and commissions", "手续费/佣金"),
    "dividends_corporate_actions": ("dividends and corporate actions", "分红/公司行动"),
    "branch_service": ("branch service", "营业部服务"),
    "other": ("other", "其他"),
    "unknown": ("not given", "未说明"),
}
# How staff take a complaint in (handoff.registration.STAFF_CHANNELS): channels no adapter serves.
STAFF_CHANNELS: Names = {
    "in_person": ("in person", "现场来访"), "letter": ("letter", "来信"), "comment_book": ("comment book", "意见簿"),
    "phone": ("phone call", "来电"), "referral": ("referral", "转办"),
}
NATURES: Names = {
    "service_environment": ("service environment", "服务环境"), "product": ("service product", "服务产品"),
    "attitude": ("service attitude", "服务态度"), "process": ("service process", "服务流程"),
    "other": ("other", "其他"), "unknown": ("not classified", "未分类"),
}
GRADES: Names = {"high": ("high", "高"), "medium": ("medium", "中"), "low": ("low", "低")}
LANGUAGES: Names = {"zh": ("Chinese", "中文"), "en": ("English", "英文")}
OUTCOMES: Names = {
    "upheld": ("upheld", "成立"), "partially_upheld": ("partially upheld", "部分成立"),
    "not_upheld": ("not upheld", "不成立"), "withdrawn": ("withdrawn", "撤回"),
    "unresolved": ("no answer yet", "尚未答复"),
}
STATUSES: Names = {
    "collecting": ("collecting", "正在登记"), "queued": ("queued", "排队中"), "claimed": ("claimed", "处理中"),
    "answered": ("answered", "已答复"), "closed": ("closed", "已办结"), "reopened": ("reopened", "已重新打开"),
}


@lru_cache(maxsize=1)
def rules() -> Names:
    """The risk rules' names from the shipped rules file, and ``none`` for cases where no rule fired."""
    loaded = default_rules()
    names = {rule.id: (rule.name_en, rule.name_zh) for rule in loaded.rules}
    return {**names, "none": ("no warning sign", "无预警信号")}


def name(names: Names, code: str | None, language: str = "en") -> str:
    if code is None:
        return ""
    english, chinese = names.get(code, (code, code))
    return chinese if language == "zh" else english


def both(names: Names, code: str | None) -> str:
    """``margin trading 融资融券``: the English and Chinese names together, or the code alone if it has none."""
    if code is None:
        return ""
    english, chinese = names.get(code, (code, code))
    return english if english == chinese else f"{english} {chinese}"
