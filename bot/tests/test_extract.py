"""What the bot reads from customers' messages (actions/extract.py, actions/fields.py).

Run from bot/: .venv/bin/python -m unittest discover -s tests -t .
"""

from __future__ import annotations

import tempfile
import unittest
from datetime import datetime
from pathlib import Path

from actions.extract import (
    entity_finds,
    find_people,
    find_place,
    find_risk_flags,
    find_times,
    find_wish,
    halfwidth,
    infer_product,
    is_online,
    is_refusal,
    is_skip,
    language_request,
    product_from_answer,
)
from actions.fields import mask_account, normalize_email, normalize_phone, resolve_time
from actions.risk_words import PACKAGED_RULES, flag_patterns

# A Wednesday afternoon, so "last Friday" and "上周五" are the same day.
NOW = datetime(2025, 6, 11, 14, 30)


def entities(text: str) -> list[tuple[str, str, str]]:
    return [(f.entity, text[f.start: f.end], f.value) for f in entity_finds(text)]


class Entities(unittest.TestCase):
    def test_a_full_message_in_chinese(self) -> None:
        text = "我叫王芳，电话13912345678，资金账号880012345，上周五下午3点在浦东营业部买的理财产品亏了"
        self.assertEqual(entities(text), [
            ("customer_name", "王芳", "王芳"),
            ("phone", "13912345678", "13912345678"),
            ("account_id", "880012345", "880012345"),
            ("incident_time", "上周五下午3点", "上周五下午3点"),
            ("product", "营业部", "branch_service"),
            ("product", "理财产品", "funds_wealth"),
        ])

    def test_a_full_message_in_english(self) -> None:
        text = "My name is john smith, email john@example.com, account number 12345678, it happened last Friday"
        self.assertEqual(entities(text), [
            ("customer_name", "john smith", "John Smith"),
            ("email", "john@example.com", "john@example.com"),
            ("account_id", "12345678", "12345678"),
            ("incident_time", "last Friday", "last Friday"),
        ])

    def test_full_width_input_keeps_its_offsets(self) -> None:
        text = "电话１３８００１３８０００，ＡＰＰ登录不了"
        self.assertEqual(len(halfwidth(text)), len(text))
        self.assertEqual(entities(text), [("phone", "１３８００１３８０００", "13800138000"),
                                          ("product", "ＡＰＰ", "online_trading")])

    def test_case_numbers_are_not_phones(self) -> None:
        self.assertEqual(entities("查一下c-250611-7kq4"), [("case_id", "c-250611-7kq4", "C-250611-7KQ4")])

    def test_names_only_where_introduced(self) -> None:
        self.assertEqual(entities("我是做生意的"), [])
        self.assertEqual(entities("I'm Very angry"), [])
        self.assertEqual(entities("我是王先生"), [("customer_name", "王先生", "王先生")])
        self.assertEqual(entities("This is Mary Chan"), [("customer_name", "Mary Chan", "Mary Chan")])

    def test_transfer_me_is_not_a_money_transfer(self) -> None:
        self.assertEqual(entities("transfer me to an agent"), [])
        self.assertEqual(infer_product("transfer me to an agent"), None)


class Record(unittest.TestCase):
    def test_products_from_names_and_cues_most_specific_first(self) -> None:
        self.assertEqual(infer_product("The app charged me a commission twice"), "fees_commissions")
        self.assertEqual(infer_product("你们的APP转账失败了三次"), "bank_securities_transfer")
        self.assertEqual(infer_product("我的两融账户被强平了"), "margin_trading")
        self.assertEqual(infer_product("my account manager was rude"), "branch_service")
        self.assertEqual(product_from_answer("其他"), "other")
        self.assertEqual(product_from_answer("Dividends and corporate actions"), "dividends_corporate_actions")
        self.assertIsNone(product_from_answer("no idea"))

    def test_place_people_and_wish(self) -> None:
        text = "上周五在上海浦东营业部，客户经理王强推荐的理财产品亏了，希望你们给个说法。"
        self.assertEqual(find_place(text), "上海浦东营业部")
        self.assertEqual(find_people(text), "客户经理王强")
        self.assertEqual(find_wish(text), "希望你们给个说法")
        text = "The teller Mr Chan at the Central branch refused my withdrawal. I want my money back."
        self.assertEqual(find_place(text), "Central branch")
        self.assertEqual(find_people(text), "teller Mr Chan")
        self.assertEqual(find_wish(text), "I want my money back")
        self.assertIsNone(find_wish("I want to file a complaint"))
        self.assertIsNone(find_wish("我要投诉，请转人工"))

    def test_risk_flags(self) -> None:
        self.assertEqual(find_risk_flags("你们这帮骗子，我要去证监会告你们"), ["regulator", "lawyer", "anger"])
        self.assertEqual(find_risk_flags("someone traded on my account without my permission"), ["fraud"])
        self.assertEqual(find_risk_flags("I'll take this to the press"), ["media"])
        self.assertEqual(find_risk_flags("the fee was wrong"), [])
        # Words the bot knew before the rules were shared, now in handoff/risk_rules.toml.
        self.assertEqual(find_risk_flags("什么破app，天天卡"), ["anger"])
        self.assertEqual(find_risk_flags("you useless idiots"), ["anger"])

    def test_securities_words_map_to_a_product(self) -> None:
        """Point 6: "other" only when nothing fits."""
        expected = {
            "股票": "online_trading", "买卖股票": "online_trading", "炒股": "online_trading", "A股": "online_trading",
            "港股通": "online_trading", "打新": "ipo_subscription", "新股": "ipo_subscription",
            "两融": "margin_trading",
            "基金": "funds_wealth", "债券": "funds_wealth", "期权": "online_trading", "开户": "brokerage_account",
            "销户": "brokerage_account", "转账": "bank_securities_transfer", "佣金": "fees_commissions",
            "APP": "online_trading", "营业部": "branch_service", "投顾": "branch_service",
            "stocks": "online_trading", "shares": "online_trading", "stock trading": "online_trading",
            "brokerage": "brokerage_account", "IPO": "ipo_subscription", "margin": "margin_trading",
            "funds": "funds_wealth", "bonds": "funds_wealth", "options": "online_trading",
            "account opening": "brokerage_account", "account closing": "brokerage_account",
            "transfers": "bank_securities_transfer", "fees": "fees_commissions", "app": "online_trading",
            "branch": "branch_service", "adviser": "branch_service",
            "股票账户被冻结了": "brokerage_account", "my stock account is locked": "brokerage_account",
        }
        for words, key in expected.items():
            self.assertEqual(product_from_answer(words), key, words)
        self.assertIsNone(product_from_answer("期货"))

    def test_short_answers_decline_skip_or_say_online(self) -> None:
        for text in ("没有", "我没有手机", "不方便留", "I don't have one", "no", "I'd rather not"):
            self.assertTrue(is_refusal(text), text)
        self.assertFalse(is_refusal("13800138000"))
        for text in ("不清楚", "没有", "not sure", "no one"):
            self.assertTrue(is_skip(text), text)
        for text in ("线上", "在APP上", "online", "over the phone"):
            self.assertTrue(is_online(text), text)
        self.assertFalse(is_online("上海浦东营业部"))

    def test_traditional_characters_are_read_and_kept_as_typed(self) -> None:
        """Point 8: found in Simplified, cut from what the customer typed."""
        self.assertEqual(find_place("我在九龍營業部辦的"), "九龍營業部")
        self.assertEqual(find_people("客戶經理陳大文騙我"), "客戶經理陳大文")
        self.assertEqual(infer_product("我的帳戶被凍結了"), "brokerage_account")
        self.assertEqual(find_risk_flags("我要去證監會投訴你們這些騙子"), ["regulator", "anger"])
        self.assertEqual([f.value for f in find_times("上週五下午三點")], ["上週五下午三點"])
        self.assertEqual(resolve_time("上週五", NOW).iso(), "2025-06-06")  # type: ignore[union-attr]

    def test_the_risk_words_are_the_compliance_teams(self) -> None:
        """Point 9: one vocabulary, read from handoff/risk_rules.toml (or the copy RISK_RULES_FILE names)."""
        self.assertTrue(PACKAGED_RULES.exists())
        with tempfile.TemporaryDirectory() as folder:
            rules = Path(folder) / "rules.toml"
            rules.write_text(PACKAGED_RULES.read_text(encoding="utf-8").replace(
                'zh.keywords = [\n    "骗子"', 'zh.keywords = [\n    "黑店", "骗子"'), encoding="utf-8")
            anger = flag_patterns(rules)["anger"]
            self.assertTrue(any(p.search("这就是一家黑店") for p in anger))
        self.assertFalse(any(p.search("这就是一家黑店") for p in flag_patterns()["anger"]))

    def test_language_requests(self) -> None:
        self.assertEqual(language_request("can we continue in English please"), "en")
        self.assertEqual(language_request("请说中文"), "zh")
        self.assertIsNone(language_request("my English teacher"))


class Fields(unittest.TestCase):
    def test_phones(self) -> None:
        self.assertEqual(normalize_phone("13800138000"), "+8613800138000")  # mainland default +86
        self.assertEqual(normalize_phone("１３８-００１３-８０００"), "+8613800138000")
        self.assertEqual(normalize_phone("+44 7700 900123"), "+447700900123")
        self.assertEqual(normalize_phone("021-68881234"), "+862168881234")
        for bad in ("12345", "10012345678", "+1 2", "call me"):
            self.assertIsNone(normalize_phone(bad), bad)

    def test_emails(self) -> None:
        self.assertEqual(normalize_email("Zhang.San@Example.COM"), "Zhang.San@example.com")
        self.assertIsNone(normalize_email("zhang@"))

    def test_accounts_are_masked(self) -> None:
        self.assertEqual(mask_account("660012346789"), "********6789")

    def test_times_in_both_languages(self) -> None:
        cases = {
            "昨天": "2025-06-10", "上周五": "2025-06-06", "上星期五下午三点半": "2025-06-06T15:30",
            "前天晚上": "2025-06-09",
            "3月5日": "2025-03-05", "6月20日": "2024-06-20", "2024年3月5日": "2024-03-05", "两天前": "2025-06-09",
            "上个月": "2025-05", "上周": "2025-W23", "yesterday": "2025-06-10", "last Friday": "2025-06-06",
            "yesterday at 3pm": "2025-06-10T15:00", "last Monday afternoon": "2025-06-09", "on 5 March": "2025-03-05",
            "the 5th of March": "2025-03-05", "2024-03-05": "2024-03-05", "3 days ago": "2025-06-08",
            "我昨天下的买单没有成交": "2025-06-10",
        }
        for words, iso in cases.items():
            resolved = resolve_time(words, NOW)
            self.assertIsNotNone(resolved, words)
            assert resolved is not None
            self.assertEqual(resolved.iso(), iso, words)

    def test_a_date_with_a_time_keeps_both_and_vague_words_get_the_best_date(self) -> None:
        """Point 7."""
        cases = {
            "November 18 at 9:35am": "2024-11-18T09:35", "18 November 2024 9:35": "2024-11-18T09:35",
            "昨天上午9:35": "2025-06-10T09:35", "5月18日上午9点35分": "2025-05-18T09:35",
            "18号上午9点半": "2025-05-18T09:30",
            "the 5th at 3pm": "2025-06-05T15:00", "前几天": "2025-W23", "a few days ago": "2025-W23",
            "a couple of weeks ago": "2025-W22",
        }
        for words, iso in cases.items():
            resolved = resolve_time(words, NOW)
            self.assertIsNotNone(resolved, words)
            assert resolved is not None
            self.assertEqual(resolved.iso(), iso, words)
        self.assertEqual([f.value for f in find_times("it was November 18 at 9:35am")], ["November 18 at 9:35am"])

    def test_unclear_or_future_times_are_refused(self) -> None:
        for words in ("不记得了", "a while ago", "明天", "tomorrow", "this Friday", "next week", "今天下午5点",
                      "3号线"):
            self.assertIsNone(resolve_time(words, NOW), words)

    def test_time_expressions_are_found_in_sentences(self) -> None:
        self.assertEqual([f.value for f in find_times("my order on the 5th of March at 10am failed")],
                         ["5th of March at 10am"])
        self.assertEqual([f.value for f in find_times("亏了3点5万块钱")], [])


if __name__ == "__main__":
    unittest.main()
