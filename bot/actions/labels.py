"""Short labels the actions put into responses: field names, product names, case statuses.

Whole sentences live in domain.yml; these are the nouns that fill their {placeholders}.
"""

from __future__ import annotations

FIELDS = {
    "zh": {
        "customer_name": "您的姓名",
        "phone": "联系电话（或电子邮箱）",
        "description": "事情的经过",
        "product": "涉及的业务（例如：融资融券、基金理财、手续费）",
        "incident_time": "事情发生的大概时间",
        "desired_resolution": "您希望我们如何处理",
        "email": "电子邮箱",
        "place": "发生的地点（营业部、APP或电话等，不清楚可不填）",
        "people_involved": "涉及的工作人员（如有）",
    },
    "en": {
        "customer_name": "your name",
        "phone": "a phone number (or email address) we can reach you on",
        "description": "what happened",
        "product": "which service it concerns (for example: margin trading, funds, fees)",
        "incident_time": "roughly when it happened",
        "desired_resolution": "what you would like us to do",
        "email": "an email address we can reach you at",
        "place": "where it happened (a branch, the app, by phone; leave it out if you are not sure)",
        "people_involved": "any of our staff involved (if any)",
    },
}

SUMMARY = {
    "zh": {"customer_name": "姓名", "phone": "电话", "email": "邮箱", "contact": "联系方式", "account_id": "账号",
           "product": "业务", "incident_time": "时间", "place": "地点", "people_involved": "涉及人员",
           "description": "经过", "desired_resolution": "诉求"},
    "en": {"customer_name": "name", "phone": "phone", "email": "email", "contact": "contact", "account_id": "account",
           "product": "service", "incident_time": "when", "place": "where", "people_involved": "who",
           "description": "what happened", "desired_resolution": "you would like"},
}

CONTACT_DECLINED = {"zh": "您选择不留联系方式", "en": "none given, as you preferred"}

PRODUCTS = {
    "zh": {
        "brokerage_account": "证券账户",
        "online_trading": "股票交易（APP/网上）",
        "margin_trading": "融资融券",
        "funds_wealth": "基金理财/债券",
        "ipo_subscription": "新股申购",
        "bank_securities_transfer": "银证转账/出入金",
        "fees_commissions": "手续费/佣金",
        "dividends_corporate_actions": "分红/公司行动",
        "branch_service": "营业部服务",
        "other": "其他",
    },
    "en": {
        "brokerage_account": "brokerage account",
        "online_trading": "stock trading (app / online)",
        "margin_trading": "margin trading",
        "funds_wealth": "funds, bonds and wealth products",
        "ipo_subscription": "IPO subscription",
        "bank_securities_transfer": "transfers and withdrawals",
        "fees_commissions": "fees and commissions",
        "dividends_corporate_actions": "dividends and corporate actions",
        "branch_service": "branch service",
        "other": "other",
    },
}

STATUSES = {
    "zh": {
        "collecting": "正在登记",
        "queued": "已受理，正在等待投诉处理专员接手",
        "claimed": "投诉处理专员正在处理",
        "answered": "已答复，请查看我们给您的回复",
        "closed": "已办结",
        "reopened": "已重新打开，投诉处理专员会继续跟进",
    },
    "en": {
        "collecting": "being recorded",
        "queued": "received and waiting for a complaint handler",
        "claimed": "being handled by a complaint handler",
        "answered": "answered; please see our reply to you",
        "closed": "closed",
        "reopened": "reopened; a complaint handler will follow up",
    },
}

SEPARATOR = {"zh": "；", "en": "; "}
LIST_SEPARATOR = {"zh": "、", "en": ", "}
