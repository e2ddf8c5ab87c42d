"""Which service a story is about: the rules' words checked by the model learnt from stories
(actions/product_model.py). The stories here are written for these tests, not taken from what it learnt.

Run from bot/: .venv/bin/python -m unittest discover -s tests -t .
"""

from __future__ import annotations

import json
import unittest

from actions.product_model import LANGUAGES, stories_file, story_product, story_product_key


class StoryProductTest(unittest.TestCase):
    def test_the_rules_and_the_model_agreeing_decide(self) -> None:
        for text, key in (
            ("我的两融账户昨天被强平了，营业部也没提前打电话通知我追加保证金", "margin_trading"),
            ("取钱取不出来，从证券账户转到银行卡，显示成功但是银行那边没到账", "bank_securities_transfer"),
            ("卖了两万块钱的股票，收了我三十块手续费，不是说好万一免五吗", "fees_commissions"),
            ("我的账户被冻结了，说是身份证过期，我上传了三次新身份证都审核不通过", "brokerage_account"),
        ):
            self.assertEqual(story_product_key(text), key, text)

    def test_a_service_named_in_passing_is_asked_about_when_the_story_reads_as_another(self) -> None:
        # The app is where the customer looked; closing the account is what the complaint is about.
        self.assertIsNone(story_product("我在你们这开的户，现在想注销，APP上找不到入口，打客服一直占线"))

    def test_a_story_naming_two_services_is_decided_when_the_model_is_sure_of_one(self) -> None:
        text = "融资融券账户被强制平仓了，维持担保比例明明还够，还收了我一笔利息和手续费"
        self.assertEqual(story_product(text), ("margin_trading", None))

    def test_a_service_we_do_not_offer_keeps_the_customers_words(self) -> None:
        text = "有人冒充你们公司拉我进微信群，说跟着老师炒股稳赚，让我下载一个APP转了五万进去，现在APP打不开了"
        self.assertEqual(story_product(text), ("other", "冒充"))

    def test_a_headline_the_model_cannot_place_is_decided_by_its_words(self) -> None:
        for text, key in (("投诉两融利息太高", "margin_trading"), ("APP老是闪退", "online_trading"),
                          ("佣金收得比说好的高", "fees_commissions")):
            self.assertEqual(story_product_key(text), key, text)

    def test_english_is_read_the_same_way_by_a_model_of_its_own(self) -> None:
        for text, key in (
            ("My margin account was liquidated without any call", "margin_trading"),
            ("I asked to withdraw 20k to my bank account ten days ago and the money still has not arrived",
             "bank_securities_transfer"),
            ("I put in a limit order to sell at 45 and the app filled it at 41, way below my limit", "online_trading"),
            # The rules stop at a story naming two services; the model reads what it is about.
            ("I sent money from my bank but it never appeared, and the app shows a deposit fee of 25 dollars",
             "bank_securities_transfer"),
        ):
            self.assertEqual(story_product_key(text), key, text)
        # The branch is where the customer asked; the form asks which service the complaint is about.
        self.assertIsNone(story_product("I went into the branch to ask why my dividend was short and they told me"
                                        " to use the app"))

    def test_a_service_we_do_not_offer_named_in_english_stands_against_an_unsure_model(self) -> None:
        # No story taught the model a mortgage; the customer's words say it is none of our services.
        self.assertEqual(story_product("My home mortgage payments were misapplied by the servicer for three months"),
                         ("other", "mortgage"))

    def test_traditional_characters_are_read_as_simplified(self) -> None:
        self.assertEqual(story_product_key("我的兩融賬戶昨天被強平了，營業部也沒提前打電話通知我追加保證金"),
                         "margin_trading")

    def test_the_model_learns_every_service_from_whole_sets(self) -> None:
        for language in LANGUAGES:
            learnt = json.loads(stories_file(language).read_text(encoding="utf-8"))
            products = {story["product"] for story in learnt["stories"]}
            self.assertEqual(len(products), 10, language)
            self.assertEqual(len(learnt["stories"]), 40 * len(learnt["trained_on"]), language)


if __name__ == "__main__":
    unittest.main()
