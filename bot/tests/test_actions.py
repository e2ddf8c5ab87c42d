"""The custom actions, run as the action server runs them, with trackers like those Rasa sends.

Run from bot/: .venv/bin/python -m unittest discover -s tests -t .
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import unittest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from unittest import mock

from actions.actions import (
    ActionCheckStatus,
    ActionOutOfScope,
    ActionSubmitComplaint,
    AskForConfirmation,
    AskForPhone,
    AskForStoryDetails,
    AskForTime,
    ExtractFromMessage,
    ValidateComplaintForm,
    required_slots_for,
)
from actions.chinese import to_simplified, to_traditional

from tests.conversation import DOMAIN, parse_data, run, slot_values, tracker


def form_tracker(text: str, candidates: dict[str, Any], slots: dict[str, Any] | None = None,
                 intent: str = "inform", confidence: float = 0.9) -> Any:
    """The tracker validate_complaint_form gets: the message, then the slot candidates Rasa extracted."""
    message = {"text": text, "intent": {"name": intent, "confidence": confidence}, "entities": [], "metadata": {},
               "account": {"has_account": False, "confidence": 0.1}}
    events = [{"event": "action", "name": "action_listen"}, {"event": "user", "text": text, "parse_data": message},
              {"event": "action", "name": "complaint_form"}]
    events += [{"event": "slot", "name": k, "value": v} for k, v in candidates.items()]
    return tracker(text, {**(slots or {}), **candidates}, intent=intent, confidence=confidence,
                   active_loop="complaint_form", events=events)


def texts(messages: list[dict[str, Any]]) -> list[str]:
    return [m.get("text") or m.get("response") or "" for m in messages]


def read(text: str, slots: dict[str, Any] | None = None, asked: str | None = None, **kwargs: Any) -> dict[str, Any]:
    """The slots the extraction pass sets for one message (``asked``: the question the form asked)."""
    slots = {**(slots or {}), **({"requested_slot": asked} if asked else {})}
    slots.pop("extracted_message", None)  # each call is a new message
    state = tracker(text, slots=slots, active_loop="complaint_form" if asked else None, **kwargs)
    return slot_values(run(ExtractFromMessage(), state)[0])


def next_question(slots: dict[str, Any]) -> str | None:
    """The form's next question for a record with these slots."""
    return next((s for s in required_slots_for(slots) if slots.get(s) is None), None)


# 2025-06-10 17:30 UTC is 01:30 on 11 June in Shanghai.
LATE_EVENING_UTC = 1749576600.0


class Extraction(unittest.TestCase):
    def test_a_first_message_fills_every_field_it_gives(self) -> None:
        slots = read("我要投诉，我叫王芳，电话13912345678，资金账号880012345，上周五下午3点在上海浦东营业部，"
                     "客户经理王强推荐的理财产品亏了三成，希望你们给个说法", intent="complain", story=True)
        for key, value in {"customer_name": "王芳", "phone": "+8613912345678", "account_id": "880012345",
                           "incident_time_text": "上周五下午3点", "product": "funds_wealth", "place": "上海浦东营业部",
                           "people_involved": "客户经理王强", "desired_resolution": "希望你们给个说法",
                           "language": "zh"}.items():
            self.assertEqual(slots.get(key), value, key)
        self.assertRegex(slots["incident_time"], r"^\d{4}-\d{2}-\d{2}T15:00$")
        self.assertTrue(slots["description"].startswith("我要投诉，我叫王芳"))

    def test_language_from_metadata_then_from_what_the_customer_writes(self) -> None:
        self.assertEqual(read("13800138000", metadata={"language": "zh"})["language"], "zh")
        self.assertEqual(read("can we continue in English please", slots={"language": "zh"},
                              metadata={"language": "zh"})["language"], "en")
        self.assertNotIn("language", read("John Smith", slots={"language": "zh"}, metadata={"language": "en"}))

    def test_a_message_with_no_language_of_its_own_keeps_the_language(self) -> None:
        """Point 5: an email address, digits, a date, "ok", an emoji never switch; a sentence or a request does."""
        for text in ("liuyang@example.com", "13800138000", "2025-11-18", "November 18", "ok", "👍", "OK thanks",
                     "C-250611-7KQ4"):
            self.assertNotIn("language", read(text, slots={"language": "zh"}, asked="phone"), text)
        self.assertNotIn("language", read("王芳", slots={"language": "en"}, asked="customer_name"))
        self.assertEqual(read("my phone is broken so please email me", slots={"language": "zh"},
                              asked="phone")["language"], "en")
        self.assertEqual(read("请说中文", slots={"language": "en"}, asked="phone")["language"], "zh")

    def test_anger_is_acknowledged_once_in_the_customers_language(self) -> None:
        events, messages = run(ExtractFromMessage(), tracker("你们这帮骗子！！", intent="complain"))
        self.assertEqual(slot_values(events)["risk_flags"], ["anger"])
        self.assertEqual(len(messages), 1)
        self.assertIn("理解您现在的心情", messages[0]["text"])
        _, again = run(ExtractFromMessage(), tracker("垃圾公司", slots={"risk_flags": ["anger"]}, intent="complain"))
        self.assertEqual(again, [])

    def test_threats_are_taken_seriously_not_sent_elsewhere(self) -> None:
        """Point 10: "we take this seriously and will look into it first", not "free to use any channel"."""
        events, messages = run(ExtractFromMessage(), tracker("I'm going to report you to the FCA and my lawyer",
                                                             intent="complain"))
        self.assertEqual(slot_values(events)["risk_flags"], ["regulator", "lawyer"])
        self.assertIn("We take this seriously and will look into it first", messages[0]["text"])
        _, messages = run(ExtractFromMessage(), tracker("再不处理我就去证监会投诉", intent="complain"))
        self.assertIn("非常重视", messages[0]["text"])
        for variant in DOMAIN["responses"]["utter_calm_threat"]:
            self.assertNotRegex(variant["text"], r"(?i)any channel|有权通过")

    def test_the_channels_contacts_prefill(self) -> None:
        sms = tracker("我的APP登录不上", intent="complain",
                      metadata={"channel": "sms", "contact": {"phone": "+8613900001111", "name": None, "email": None}})
        slots = slot_values(run(ExtractFromMessage(), sms)[0])
        self.assertEqual((slots["phone"], slots["channel"]), ("+8613900001111", "sms"))
        email = tracker("Hello, my fee is wrong", intent="complain",
                        metadata={"channel": "email", "contact": {"name": "Peter Wong", "email": "p.wong@example.com"}})
        slots = slot_values(run(ExtractFromMessage(), email)[0])
        self.assertEqual((slots["customer_name"], slots["email"]), ("Peter Wong", "p.wong@example.com"))

    def test_a_message_is_read_once_even_when_rasa_asks_again(self) -> None:
        state = tracker("我叫张三", slots={"extracted_message": 1.0})
        self.assertEqual(run(ExtractFromMessage(), state), ([], []))

    def test_unrelated_questions_fill_nothing(self) -> None:
        slots = read("今天天气怎么样", intent="out_of_scope", confidence=0.95, asked="incident_time")
        self.assertNotIn("incident_time", slots)

    def test_staff_met_before_answer_who_and_a_request_for_a_person_keeps_the_facts(self) -> None:
        told = {"description": "I called about my account and the agent was rude", "language": "en"}
        slots = read("spoke to an agent called Leanne on the phone", slots=told, asked="people_involved",
                     intent="request_human", confidence=0.99)
        self.assertEqual(slots["people_involved"], "spoke to an agent called Leanne on the phone")
        slots = read("they froze it on 2 November 2024, and give me an actual person to talk to", slots=told,
                     asked="incident_time", intent="request_human", confidence=0.99)
        self.assertEqual(slots["incident_time"], "2024-11-02")

    def test_securities_words_name_the_product_and_other_keeps_the_words(self) -> None:
        """Point 6: 炒股 / "stock trading" are stock trading, not "other"; "other" keeps what the customer said."""
        self.assertEqual(read("I want to complain about my stock trading", intent="complain")["product"],
                         "online_trading")
        self.assertEqual(read("两融", asked="product")["product"], "margin_trading")
        slots = read("期货", asked="product")
        self.assertEqual((slots["product"], slots["product_text"]), ("other", "期货"))  # one we do not offer

    def test_the_answer_to_the_question_asked(self) -> None:
        slots = read("张三 13800138000", asked="customer_name")
        self.assertEqual((slots["customer_name"], slots["phone"]), ("张三", "+8613800138000"))
        slots = read("上周三，希望尽快把钱退回来", asked="incident_time")
        self.assertEqual((slots["incident_time_text"], slots["desired_resolution"]), ("上周三", "希望尽快把钱退回来"))
        slots = read("I don't remember", asked="incident_time")
        self.assertEqual(slots["incident_time"], "I don't remember")  # to be refused, then kept unverified
        slots = read("mary@example.com", asked="phone")
        self.assertEqual(slots["email"], "mary@example.com")
        self.assertNotIn("phone", slots)


class StoryFirst(unittest.TestCase):
    """Point 1: the description is the customer's account of events, as the NLU decides."""

    def test_a_greeting_headline_anger_or_threat_is_not_the_story(self) -> None:
        for text in ("Hello, I'd like to report a problem", "你们这帮骗子!", "I'm going to the SEC", "我要投诉"):
            slots = read(text, intent="complain", story=False)
            self.assertNotIn("description", slots, text)
            self.assertEqual(next_question({**slots, "description": None}), "description", text)

    def test_an_outburst_that_names_nothing_is_not_the_story_whatever_the_classifier_says(self) -> None:
        for text in ("你们就是一帮强盗，我的积蓄全没了！", "Rip-off merchants, the lot of you! My savings are gone",
                     "再拖下去我就报警，还要找传媒", "下周再不退钱我就打12378", "你们明天不给个说法我就起诉",
                     "再没人理我我就去证监局"):
            slots = read(text, intent="complain", story=True)
            self.assertNotIn("description", slots, text)
            self.assertNotIn("product", slots, text)
        told = read("骗子！上周卖出的钱到现在还没到账", intent="complain", story=True)
        self.assertEqual(told["description"], "骗子！上周卖出的钱到现在还没到账")  # angry, and it says what

    def test_the_story_is_asked_before_anything_else(self) -> None:
        self.assertEqual(next_question({"risk_flags": ["anger"]}), "description")
        self.assertEqual(next_question({"description": "我的APP登录不上", "story_details": True}), "customer_name")

    def test_later_details_are_added_not_replacing_the_story(self) -> None:
        story = "我昨天的买单一直没成交"
        slots = read("还有，客服电话也一直打不通", slots={"description": story, "description_told": True},
                     asked="customer_name", story=True)
        self.assertEqual(slots["description"], story + "\n还有，客服电话也一直打不通")
        # A wish or a time given as asked is not taken for more of the story.
        self.assertNotIn("description", read("希望退款", slots={"description": story}, asked="desired_resolution"))

    def test_asked_once_an_answer_without_a_story_is_kept_for_a_handler_to_check(self) -> None:
        slots = read("just sort it out", asked="description", story=False)
        self.assertEqual(slots["description"], "just sort it out")
        events, _ = run(ValidateComplaintForm(), form_tracker("just sort it out", {"description": "just sort it out",
                                                                                   "story_details": True}))
        validated = slot_values(events)
        self.assertEqual((validated["description"], validated["unverified"]), ("just sort it out", ["description"]))
        self.assertEqual(validated["requested_slot"], "customer_name")  # not asked a second time

    def test_a_story_told_later_clears_the_doubt(self) -> None:
        slots = read("the app froze while I was selling", slots={"description": "just sort it out",
                                                                  "unverified": ["description"]},
                     asked="customer_name", story=True)
        self.assertEqual(slots["unverified"], [])
        self.assertTrue(slots["description"].endswith("the app froze while I was selling"))


PLACE_RECORD: dict[str, Any] = {"description": "x", "story_details": True, "customer_name": "张三",
                                 "phone": "+8613800138000",
                                 "product": "online_trading",
                                 "incident_time": "2025-06-10", "desired_resolution": "退款"}


class PlaceAndPeople(unittest.TestCase):
    """Point 2: asked once each unless given, and skippable."""

    RECORD = PLACE_RECORD

    def test_asked_once_each_after_the_wish(self) -> None:
        self.assertEqual(next_question(self.RECORD), "place")
        skipped = read("不清楚", slots=self.RECORD, asked="place")
        self.assertEqual(skipped["answered_slots"], ["place"])
        self.assertNotIn("place", skipped)
        self.assertEqual(next_question({**self.RECORD, **skipped}), "people_involved")
        nobody = read("没有", slots={**self.RECORD, **skipped}, asked="people_involved")
        self.assertEqual(nobody["answered_slots"], ["place", "people_involved"])
        self.assertEqual(next_question({**self.RECORD, **skipped, **nobody}), "record_confirmed")

    def test_online_and_named_answers_are_kept(self) -> None:
        self.assertEqual(read("线上", slots=self.RECORD, asked="place")["place"], "线上")
        self.assertEqual(read("in the app", slots=self.RECORD, asked="place")["place"], "in the app")
        self.assertEqual(read("是客户经理王强", slots=self.RECORD, asked="people_involved")["people_involved"],
                         "客户经理王强")
        self.assertIsNone(read("not sure", slots=self.RECORD, asked="people_involved").get("people_involved"))

    def test_more_of_the_story_instead_of_an_answer_ends_the_question(self) -> None:
        slots = read("还有，客服电话也一直打不通", slots={**self.RECORD, "description_told": True},
                     asked="people_involved", story=True)
        self.assertEqual(slots["answered_slots"], ["people_involved"])
        self.assertNotIn("people_involved", slots)
        self.assertTrue(slots["description"].endswith("还有，客服电话也一直打不通"))

    def test_not_asked_when_the_story_gave_them(self) -> None:
        given = {**self.RECORD, "place": "上海浦东营业部", "people_involved": "客户经理王强"}
        self.assertEqual(next_question(given), "record_confirmed")


READ_BACK_RECORD: dict[str, Any] = {
    "description": "我昨天在APP下的买单一直没有成交，损失了很多钱。后来客服也没回", "customer_name": "张三",
    "phone": "+8613800138000", "product": "online_trading", "incident_time": "2025-11-18T09:35",
    "incident_time_text": "11月18日上午9:35", "desired_resolution": "希望尽快查明原因", "language": "zh",
    "answered_slots": ["place", "people_involved"], "requested_slot": "record_confirmed"}
# 2025-11-27 17:30 UTC: a week after the 18th.
WEEK_AFTER_UTC = 1764264600.0


class ReadBack(unittest.TestCase):
    """Point 3: a short summary and "对吗？"; a correction changes its field; then the case is registered."""

    RECORD = READ_BACK_RECORD

    def test_the_summary_masks_the_contact_and_ends_with_a_question(self) -> None:
        _, messages = run(AskForConfirmation(), tracker("没有", slots=self.RECORD, active_loop="complaint_form"))
        said = messages[0]
        self.assertEqual(said["response"], "utter_read_back")
        for part in ("姓名：张三", "+86138****8000", "股票交易", "11月18日上午9:35", "希望尽快查明原因",
                     "我昨天在APP下的买单一直没有成交，损失了很多钱"):
            self.assertIn(part, said["summary"])
        self.assertNotIn("13800138000", said["summary"])
        self.assertNotIn("后来客服也没回", said["summary"])  # one line of what happened
        self.assertIn("对吗", next(v for v in DOMAIN["responses"]["utter_read_back"] if v.get("condition"))["text"])

    def test_yes_registers(self) -> None:
        for text in ("对", "对的，谢谢", "yes that's right"):
            slots = read(text, slots=self.RECORD, asked="record_confirmed", intent="affirm")
            self.assertTrue(slots["record_confirmed"], text)

    def test_a_correction_changes_that_field_and_reads_back_again(self) -> None:
        slots = read("电话错了，是13912345679", slots=self.RECORD, asked="record_confirmed")
        self.assertEqual(slots["phone"], "+8613912345679")
        self.assertNotIn("record_confirmed", slots)
        slots = read("it was the 17th", slots=self.RECORD, asked="record_confirmed", sent_at=WEEK_AFTER_UTC)
        self.assertEqual(slots["incident_time"], "2025-11-17T09:35")
        slots = read("不是股票，是两融", slots=self.RECORD, asked="record_confirmed")
        self.assertEqual(slots["product"], "margin_trading")
        self.assertNotIn("product", read("客户经理", slots=self.RECORD, asked="record_confirmed"))
        slots = read("名字错了，是李思", slots=self.RECORD, asked="record_confirmed")
        self.assertEqual(slots["customer_name"], "李思")

    def test_a_bare_no_asks_what_to_change(self) -> None:
        slots = read("不对", slots=self.RECORD, asked="record_confirmed", intent="deny")
        self.assertEqual(slots["refused_slot"], "record_confirmed")
        _, messages = run(AskForConfirmation(), tracker("不对", slots={**self.RECORD, **slots}))
        self.assertEqual(messages[0]["response"], "utter_ask_correction")

    def test_nobody_is_kept_in_a_loop(self) -> None:
        slots = read("不对", slots={**self.RECORD, "read_backs": 3.0}, asked="record_confirmed", intent="deny")
        self.assertTrue(slots["record_confirmed"])

    def test_no_read_back_by_email(self) -> None:
        self.assertNotIn("record_confirmed", required_slots_for({"channel": "email"}))


class Declines(unittest.TestCase):
    """Point 4: no phone -> an email; neither -> registered anyway; a refusal is never a value."""

    def test_no_phone_then_no_email(self) -> None:
        slots = read("没有", asked="phone", intent="deny")
        self.assertEqual(slots.get("phone_declined"), True)
        self.assertNotIn("phone", slots)
        self.assertEqual(next_question({"description": "x", "story_details": True, "customer_name": "李四",
                                        **slots}), "email")
        slots = read("I don't have one either", slots=slots, asked="email", intent="deny")
        self.assertEqual(slots.get("contact_declined"), True)
        self.assertNotIn("email", slots)
        self.assertEqual(next_question({"description": "x", "story_details": True, "customer_name": "李四",
                                        "phone_declined": True, **slots}), "product")

    def test_a_refusal_that_reaches_validation_is_not_stored(self) -> None:
        events, _ = run(ValidateComplaintForm(), form_tracker("没有", {"phone": "没有"},
                                                              {"reasked_slots": ["phone"]}))
        slots = slot_values(events)
        self.assertIsNone(slots["phone"])
        self.assertTrue(slots["phone_declined"])
        self.assertNotIn("phone_unverified", slots)

    def test_the_record_says_contact_declined(self) -> None:
        _, messages = run(ActionSubmitComplaint(), tracker("对", slots={**RECORD, "phone": None,
                                                                        "contact_declined": True}))
        record = messages[0]["custom"]["record"]
        self.assertEqual((record["phone"], record["email"], record["contact_declined"]), (None, None, True))


class Validation(unittest.TestCase):
    def validate(self, text: str, candidates: dict[str, Any], slots: dict[str, Any] | None = None,
                 intent: str = "inform") -> dict[str, Any]:
        events, _ = run(ValidateComplaintForm(), form_tracker(text, candidates, slots, intent))
        return slot_values(events)

    def test_a_wrong_phone_is_asked_again_once_then_kept_unverified(self) -> None:
        first = self.validate("12345", {"phone": "12345"})
        self.assertEqual((first["phone"], first["refused_slot"], first["reasked_slots"]), (None, "phone", ["phone"]))
        second = self.validate("still 123", {"phone": "still 123"}, {"reasked_slots": ["phone"]})
        self.assertEqual((second["phone"], second["phone_unverified"], second["unverified"]),
                         ("still 123", True, ["phone"]))
        fixed = self.validate("+852 9123 4567", {"phone": "+852 9123 4567"}, {"reasked_slots": ["phone"]})
        self.assertEqual(fixed["phone"], "+85291234567")

    def test_times_products_and_names(self) -> None:
        self.assertRegex(self.validate("上周五", {"incident_time": "上周五"})["incident_time"], r"^\d{4}-\d{2}-\d{2}$")
        refused = self.validate("不记得了", {"incident_time": "不记得了"})
        self.assertEqual((refused["incident_time"], refused["refused_slot"]), (None, "incident_time"))
        kept = self.validate("真不记得了", {"incident_time": "真不记得了"}, {"reasked_slots": ["incident_time"]})
        self.assertEqual((kept["incident_time"], kept["incident_time_text"], kept["unverified"]),
                         ("真不记得了", "真不记得了", ["incident_time"]))
        self.assertEqual(self.validate("Margin trading", {"product": "Margin trading"})["product"], "margin_trading")
        other = self.validate("the thing in the letter", {"product": "the thing in the letter"},
                              {"reasked_slots": ["product"]})
        self.assertEqual((other["product"], other["unverified"]), ("other", ["product"]))
        self.assertEqual(self.validate("嗯", {"customer_name": "嗯"})["refused_slot"], "customer_name")

    def test_an_email_is_enough_contact(self) -> None:
        slots = self.validate("x", {"customer_name": "Mary Chan"}, {"email": "mary@example.com", "description": "x",
                                                                    "story_details": True})
        self.assertEqual(slots["requested_slot"], "product")

    def test_a_suspected_fraud_needs_the_story_a_name_a_contact_the_service_and_when(self) -> None:
        slots = self.validate("13700001111", {"phone": "13700001111"},
                              {"customer_name": "孙丽", "description": "有人盗用我的账户", "story_details": True,
                               "risk_flags": ["fraud"]})
        self.assertEqual(slots["requested_slot"], "product")

    def test_a_request_for_a_person_interrupts_the_form_keeping_what_it_gave(self) -> None:
        events, _ = run(ValidateComplaintForm(), form_tracker("转人工，我叫张三", {"customer_name": "张三"},
                                                              intent="request_human"))
        self.assertIn("action_execution_rejected", [e["event"] for e in events])
        self.assertEqual(slot_values(events)["customer_name"], "张三")


class Times(unittest.TestCase):
    """Point 7: relative dates against the message's time, in the customer's time zone."""

    def test_yesterday_is_counted_on_the_customers_clock(self) -> None:
        # Sent at 17:30 UTC on 10 June: already 11 June in Shanghai, so "yesterday" is 10 June.
        slots = read("昨天", asked="incident_time", sent_at=LATE_EVENING_UTC)
        self.assertEqual(slots["incident_time"], "2025-06-10")
        slots = read("yesterday", asked="incident_time", sent_at=LATE_EVENING_UTC,
                     metadata={"timezone": "Europe/London"})
        self.assertEqual(slots["incident_time"], "2025-06-09")

    def test_a_date_with_a_time_keeps_both(self) -> None:
        slots = read("November 18 at 9:35am", asked="incident_time", sent_at=LATE_EVENING_UTC)
        self.assertEqual(slots["incident_time"], "2024-11-18T09:35")


class TraditionalChinese(unittest.TestCase):
    """Point 8: read as Simplified, answered in Traditional, and the record says so."""

    def test_a_traditional_message_is_understood_and_answered_in_traditional(self) -> None:
        text = "你們這幫騙子！APP昨天閃退了，我的單子沒掛上，眼看著漲上去"
        events, messages = run(ExtractFromMessage(), tracker(text, intent="complain", story=True))
        slots = slot_values(events)
        self.assertEqual((slots["language"], slots["script"], slots["product"]), ("zh", "Hant", "online_trading"))
        self.assertEqual(slots["risk_flags"], ["anger"])
        self.assertEqual(messages[0]["text"], to_traditional(to_simplified(messages[0]["text"])))
        self.assertIn("理解您現在的心情", messages[0]["text"])
        _, messages = run(ActionSubmitComplaint(), tracker("對", slots={**RECORD, "script": "Hant"}))
        self.assertEqual(messages[0]["custom"]["record"]["script"], "Hant")

    def test_every_traditional_response_is_the_conversion_of_the_simplified_one(self) -> None:
        for name, variants in DOMAIN["responses"].items():
            by_script = {c["value"]: v["text"] for v in variants for c in v.get("condition", [])
                         if c["name"] == "script"}
            self.assertEqual(by_script.get("Hant"), to_traditional(by_script["Hans"]), name)


class Wording(unittest.TestCase):
    """Point 10: a question that is not a complaint gets the hotline and an offer to record it."""

    def test_out_of_scope_gives_the_hotline_and_offers_to_record(self) -> None:
        from actions import actions

        with mock.patch.object(actions, "SETTINGS", actions.SETTINGS.__class__(actions.SETTINGS.time_zone, "95521")):
            _, messages = run(ActionOutOfScope(), tracker("what time do you close", intent="out_of_scope"))
        self.assertEqual((messages[0]["response"], messages[0]["hotline"]), ("utter_out_of_scope", " 95521"))
        english = next(v["text"] for v in DOMAIN["responses"]["utter_out_of_scope"] if not v.get("condition"))
        self.assertIn("hotline{hotline}", english)
        self.assertIn("record it", english)

    def test_no_response_says_the_complaint_is_refused(self) -> None:
        refused = r"(?i)无法受理|無法受理|不予受理|cannot accept your complaint"
        for name, variants in DOMAIN["responses"].items():
            for variant in variants:
                self.assertNotRegex(variant["text"], refused, name)


class Asking(unittest.TestCase):
    def test_email_mode_asks_for_everything_missing_in_one_message(self) -> None:
        state = tracker("...", slots={"channel": "email", "language": "en", "description": "my fee is wrong",
                                      "product": "fees_commissions", "requested_slot": "phone"},
                        active_loop="complaint_form")
        events, messages = run(AskForPhone(), state)
        self.assertEqual(len(messages), 1)
        self.assertEqual(messages[0]["response"], "utter_email_missing")
        self.assertEqual(messages[0]["fields"], "your name, a phone number (or email address) we can reach you on, "
                                                "roughly when it happened, what you would like us to do, where it "
                                                "happened (a branch, the app, by phone; leave it out if you are not "
                                                "sure), any of our staff involved (if any)")
        # Listed once: the reply ends those two questions.
        self.assertEqual(slot_values(events)["answered_slots"], ["place", "people_involved"])

    def test_a_refused_value_is_asked_again_with_an_example(self) -> None:
        _, messages = run(AskForPhone(), tracker("12345", slots={"refused_slot": "phone"}))
        self.assertEqual(messages[0]["response"], "utter_invalid_phone")

    def test_time_and_wish_are_asked_together(self) -> None:
        _, messages = run(AskForTime(), tracker("x", slots={"desired_resolution": None}))
        self.assertEqual(messages[0]["response"], "utter_ask_incident_time_and_resolution")
        _, messages = run(AskForTime(), tracker("x", slots={"desired_resolution": "refund"}))
        self.assertEqual(messages[0]["response"], "utter_ask_incident_time")


RECORD: dict[str, Any] = {
    "customer_name": "张三", "phone": "+8613800138000", "account_id": "660012346789", "product": "margin_trading",
    "incident_time": "2025-06-10", "incident_time_text": "昨天", "description": "我的两融账户被强平了",
    "desired_resolution": "希望给个说法", "language": "zh", "risk_flags": ["anger"], "unverified": [],
}


class Payloads(unittest.TestCase):
    def test_case_ready_carries_the_whole_record(self) -> None:
        _, messages = run(ActionSubmitComplaint(), tracker("希望给个说法", slots=RECORD))
        payload = messages[0]["custom"]
        self.assertEqual(payload["event"], "case_ready")
        self.assertEqual(set(payload["record"]), {
            "customer_name", "phone", "email", "account_id", "product", "product_text", "incident_time",
            "incident_time_text", "place", "people_involved", "description", "desired_resolution", "language",
            "script", "contact_declined", "unverified", "phone_unverified", "risk_flags"})
        self.assertEqual(payload["record"]["risk_flags"], ["anger"])
        self.assertEqual((payload["record"]["script"], payload["record"]["contact_declined"]), ("Hans", False))
        self.assertIn("********6789", messages[1]["summary"])
        self.assertNotIn("660012346789", messages[1]["summary"])

    def test_a_suspected_fraud_goes_to_a_person(self) -> None:
        _, messages = run(ActionSubmitComplaint(), tracker("x", slots={**RECORD, "risk_flags": ["fraud"]}))
        self.assertEqual((messages[0]["custom"]["event"], messages[0]["custom"]["reason"]),
                         ("human_requested", "high_risk"))


class FakeGateway(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.headers.get("X-Bot-Token") != "token":
            self.send_response(403)
            self.end_headers()
            return
        if self.path == "/bot/cases/C-250611-7KQ4/status":
            body = json.dumps({"id": "C-250611-7KQ4", "status": "claimed", "respond_by": "2025-06-16T23:59:00+08:00"})
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body.encode())
            return
        self.send_response(404)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


class Status(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.server = ThreadingHTTPServer(("127.0.0.1", 0), FakeGateway)
        threading.Thread(target=cls.server.serve_forever, daemon=True).start()
        cls.url = f"http://127.0.0.1:{cls.server.server_address[1]}"

    @classmethod
    def tearDownClass(cls) -> None:
        cls.server.shutdown()
        cls.server.server_close()

    def ask(self, text: str, language: str, env: dict[str, str]) -> list[dict[str, Any]]:
        with mock.patch.dict(os.environ, env, clear=False):
            return run(ActionCheckStatus(), tracker(text, slots={"language": language}, intent="ask_status"))[1]

    def test_the_status_of_a_case_in_the_customers_language(self) -> None:
        env = {"GATEWAY_URL": self.url, "GATEWAY_BOT_TOKEN": "token"}
        zh = self.ask("我的投诉 c-250611-7kq4 怎么样了", "zh", env)[0]
        self.assertEqual((zh["response"], zh["case_id"], zh["status"]),
                         ("utter_case_status", "C-250611-7KQ4", "投诉处理专员正在处理"))
        self.assertIn("2025年06月16日", zh["deadline"])
        en = self.ask("status of C-250611-7KQ4", "en", env)[0]
        self.assertEqual(en["status"], "being handled by a complaint handler")
        self.assertIn("16 June 2025", en["deadline"])

    def test_unknown_cases_missing_settings_and_a_silent_gateway(self) -> None:
        env = {"GATEWAY_URL": self.url, "GATEWAY_BOT_TOKEN": "token"}
        self.assertEqual(self.ask("C-250611-AAAA", "en", env)[0]["response"], "utter_case_not_found")
        self.assertEqual(self.ask("C-250611-7KQ4", "en", {"GATEWAY_URL": "", "GATEWAY_BOT_TOKEN": ""})[0]["response"],
                         "utter_case_status_unavailable")
        down = {"GATEWAY_URL": "http://127.0.0.1:9", "GATEWAY_BOT_TOKEN": "token"}
        self.assertEqual(self.ask("C-250611-7KQ4", "zh", down)[0]["response"], "utter_case_status_unavailable")
        self.assertEqual(self.ask("查一下进度", "zh", env)[0]["response"], "utter_ask_case_id")


class Domain(unittest.TestCase):
    def test_every_response_has_simplified_traditional_and_english_variants(self) -> None:
        for name, variants in DOMAIN["responses"].items():
            conditioned = [v for v in variants if v.get("condition")]
            self.assertEqual([c["value"] for v in conditioned for c in v["condition"]], ["zh", "Hans", "zh", "Hant"],
                             name)
            self.assertEqual(len(variants), 3, name)


def previous_turn(text: str, intent: str, answered_by: str, slots: dict[str, Any], asked: str,
                  now: str, now_intent: str, confidence: float = 0.8) -> Any:
    """A tracker whose previous message (``text``) was answered by ``answered_by`` while the form asked ``asked``."""
    before = parse_data(text, intent, confidence)
    latest = parse_data(now, now_intent, confidence)
    events = [{"event": "action", "name": "action_listen"}, {"event": "user", "text": text, "parse_data": before},
              {"event": "action", "name": "action_validate_slot_mappings"},
              {"event": "action", "name": answered_by}, {"event": "action", "name": "complaint_form"},
              {"event": "action", "name": "action_listen"}, {"event": "user", "text": now, "parse_data": latest}]
    return tracker(now, {**slots, "requested_slot": asked}, intent=now_intent, confidence=confidence,
                   active_loop="complaint_form" if asked else None, events=events)


class AnswersAreNotInterruptions(unittest.TestCase):
    """What the form asked for, given in a way the NLU takes for a greeting, a question or a request for a
    person, answers the question: nobody is sent to the hotline again and again."""

    def rejected(self, text: str, asked: str, intent: str, slots: dict[str, Any] | None = None) -> bool:
        state = form_tracker(text, {}, {**(slots or {}), "requested_slot": asked}, intent=intent, confidence=0.8)
        events, _ = run(ValidateComplaintForm(), state)
        return "action_execution_rejected" in [e["event"] for e in events]

    def test_a_contact_a_name_or_a_wish_answers_whatever_its_intent(self) -> None:
        slots = read("you can write to me at o.petrova@example.org", asked="phone", intent="out_of_scope",
                     confidence=0.8)
        self.assertEqual(slots["email"], "o.petrova@example.org")
        self.assertFalse(self.rejected("you can write to me at o.petrova@example.org", "phone", "out_of_scope"))
        self.assertEqual(read("Olga Petrova", asked="customer_name", intent="greet", confidence=0.7)["customer_name"],
                         "Olga Petrova")
        self.assertFalse(self.rejected("Olga Petrova", "customer_name", "request_human"))
        self.assertEqual(read("帮我把地址改回来", asked="desired_resolution", intent="out_of_scope",
                              confidence=0.7)["desired_resolution"], "帮我把地址改回来")
        self.assertFalse(self.rejected("帮我把地址改回来", "desired_resolution", "out_of_scope"))
        self.assertFalse(self.rejected("the day before yesterday", "incident_time", "ask_status"))

    def test_contact_details_fill_the_record_whatever_was_asked(self) -> None:
        self.assertFalse(self.rejected("my cell is 303-555-0142", "customer_name", "ask_status"))
        self.assertEqual(read("my cell is 303-555-0142", asked="customer_name", intent="ask_status")["phone"],
                         "+13035550142")

    def test_someone_to_do_something_is_the_wish_not_a_request_for_a_person(self) -> None:
        text = "I'd like someone to check my statement and ring me"
        self.assertFalse(self.rejected(text, "desired_resolution", "request_human"))
        self.assertEqual(read(text, asked="desired_resolution", intent="request_human")["desired_resolution"], text)

    def test_a_wish_that_reads_like_more_story_answers_the_wish_question(self) -> None:
        text = "全部退款，行情那块也得修好"
        slots = read(text, slots={"description": "交易系统卡死了", "description_told": True},
                     asked="desired_resolution", story=True)
        self.assertEqual(slots["desired_resolution"], text)

    def test_the_same_story_told_again_answers_the_question(self) -> None:
        story = "我的卖单昨天一直没成交，系统还显示已撤单"
        slots = read("王海东", slots={"description": story, "description_told": True}, asked="customer_name",
                     story=False)
        self.assertEqual(slots["customer_name"], "王海东")
        again = read(story, slots={"description": story, "description_told": True}, asked="product", story=True)
        self.assertEqual(again["product"], "online_trading")

    def test_a_real_request_for_a_person_or_a_case_number_still_interrupts(self) -> None:
        self.assertTrue(self.rejected("转人工", "desired_resolution", "request_human"))
        self.assertTrue(self.rejected("get me a human", "customer_name", "request_human"))
        self.assertTrue(self.rejected("what about C-250611-7KQ4", "customer_name", "ask_status"))
        self.assertTrue(self.rejected("what time do you close", "customer_name", "out_of_scope"))

    def test_the_button_to_a_person_always_hands_over(self) -> None:
        # The chat's "to a person" button, and the gateway asking for the record when a call is transferred.
        self.assertTrue(self.rejected("/request_human", "description", "request_human"))
        state = previous_turn("/request_human", "request_human", "utter_handoff", {}, "description",
                              "/request_human", "request_human")
        events, _ = run(ValidateComplaintForm(), state)
        self.assertIn("action_execution_rejected", [e["event"] for e in events])

    def test_the_same_question_interrupted_twice_takes_the_second_message_as_the_answer(self) -> None:
        state = previous_turn("my wish is a written statement", "out_of_scope", "action_out_of_scope",
                              {"description": "x"}, "desired_resolution", "my wish is a written statement",
                              "out_of_scope")
        events, _ = run(ValidateComplaintForm(), state)
        self.assertNotIn("action_execution_rejected", [e["event"] for e in events])
        slots = slot_values(run(ExtractFromMessage(), state)[0])
        self.assertEqual(slots["desired_resolution"], "my wish is a written statement")


class ProductOfTheStory(unittest.TestCase):
    """The product comes from the story's most specific word, once; later words do not overwrite it."""

    def test_the_last_product_word_of_a_message_does_not_overwrite_the_first(self) -> None:
        text = "我买的理财亏了两成，赎回还被收了手续费"
        entities = [{"entity": "product", "value": "funds_wealth", "start": 3, "end": 5},
                    {"entity": "product", "value": "fees_commissions", "start": 16, "end": 19}]
        self.assertEqual(read(text, intent="complain", story=True, entities=entities)["product"], "funds_wealth")
        later = read("退还多收的手续费", slots={"product": "funds_wealth"}, asked="desired_resolution",
                     entities=[{"entity": "product", "value": "fees_commissions", "start": 5, "end": 8}])
        self.assertNotIn("product", later)

    def test_a_product_we_do_not_offer_is_other_with_the_customers_words(self) -> None:
        slots = read("A debt collector phones my office every day about a bill that is not mine", intent="complain",
                     story=True)
        self.assertEqual((slots["product"], slots["product_text"]), ("other", "debt collector"))
        slots = read("my car loan", asked="product")
        self.assertEqual((slots["product"], slots["product_text"]), ("other", "my car loan"))
        events, _ = run(ValidateComplaintForm(), form_tracker("my car loan", {"product": "other"},
                                                              {"requested_slot": "product"}))
        self.assertNotIn("unverified", slot_values(events))

    def test_a_product_read_from_the_first_words_is_read_again_from_the_whole_story(self) -> None:
        first = {"description": "申购个基金怎么还倒扣钱", "product": "funds_wealth", "story_details": None}
        more = "周一在APP申购了一只混合基金，另外被收了百分之一点五的申购费，页面上根本没写"
        self.assertIsNone(read(more, slots=first, asked="story_details", story=True)["product"])  # two: asked
        chosen = {**first, "description": "我的钱被扣了", "product": "funds_wealth"}
        self.assertNotIn("product", read(more, slots=chosen, asked="story_details", story=True))
        answered = {**first, "answered_slots": ["product"]}  # chosen by the customer: it stays
        self.assertNotIn("product", read(more, slots=answered, asked="story_details", story=True))
        margin = {"description": "两融怎么回事", "product": "margin_trading", "story_details": None}
        same = read("上周融资买入的票被强平了，维持担保比例明明还够", slots=margin, asked="story_details", story=True)
        self.assertNotIn("product", same)

    def test_an_answer_to_where_adds_to_the_story_but_does_not_change_what_it_is_about(self) -> None:
        told = {"description": "科创板的票挂了限价单一直没成交，后来发现是废单", "product": "online_trading",
                "story_details": True}
        where = read("创业板权限是我在你们中山路营业部开通的，当时就说好了的", slots=told, asked="place", story=True)
        self.assertNotIn("product", where)

    def test_the_place_said_again_at_the_read_back_changes_nothing(self) -> None:
        record = {**READ_BACK_RECORD, "product": "funds_wealth", "place": "手机APP的基金页面"}
        self.assertNotIn("product", read("手机APP的基金页面", slots=record, asked="record_confirmed"))

    def test_a_branch_named_at_the_read_back_is_where_not_what(self) -> None:
        slots = read("南京新街口营业部", slots={**READ_BACK_RECORD, "product": "brokerage_account"},
                     asked="record_confirmed")
        self.assertEqual(slots["place"], "南京新街口营业部")
        self.assertNotIn("product", slots)
        corrected = read("不是APP的问题，是佣金多收了", slots=READ_BACK_RECORD, asked="record_confirmed")
        self.assertEqual(corrected["product"], "fees_commissions")

    def test_a_person_named_at_the_read_back_is_who_not_what(self) -> None:
        slots = read("帮我开户的客户经理陈静", slots={**READ_BACK_RECORD, "product": "fees_commissions"},
                     asked="record_confirmed")
        self.assertNotIn("product", slots)
        when = read("是前天下午去的营业部", slots={**READ_BACK_RECORD, "product": "brokerage_account"},
                    asked="record_confirmed")
        self.assertNotIn("product", when)  # when and where, not what

    def test_more_story_at_the_read_back_is_no_correction(self) -> None:
        text = "后来我又在APP上查了一下，显示资金还在途中"
        slots = read(text, slots=READ_BACK_RECORD, asked="record_confirmed", story=True,
                     entities=[{"entity": "product", "value": "online_trading", "start": 5, "end": 8}])
        self.assertNotIn("product", slots)
        self.assertTrue(slots["description"].endswith(text))

    def test_what_the_customer_did_wrong_in_the_story_corrects_nothing(self) -> None:
        text = "我去营业部问过，柜台说只能自己在手机上弄，密码输错了几次就被锁了，对的"
        slots = read(text, slots=READ_BACK_RECORD, asked="record_confirmed", story=True)
        self.assertNotIn("product", slots)
        self.assertTrue(slots["description"].endswith(text))


class WhenInTheStory(unittest.TestCase):
    def test_a_deadline_or_a_threat_is_not_when_it_happened(self) -> None:
        for text in ("If this is not sorted by tonight I will go to the papers", "平仓价是当天的最低价，太离谱了"):
            self.assertNotIn("incident_time", read(text, intent="complain", story=True), text)

    def test_when_it_came_to_light_or_a_month_alone_leaves_the_day_to_the_customer(self) -> None:
        for story in ("昨天查了一下持仓，发现少了两百股", "刚才看账户余额才知道被扣了两次", "这个月的定投扣了两笔",
                      "I only noticed yesterday that the fee had been taken twice"):
            self.assertNotIn("incident_time", read(story, intent="complain", story=True, sent_at=LATE_EVENING_UTC),
                             story)
        answered = read("上个月", asked="incident_time", sent_at=LATE_EVENING_UTC)
        self.assertEqual(answered["incident_time"], "2025-05")  # asked, a month is the answer

    def test_a_corrected_day_is_the_one_said_not_the_one_denied(self) -> None:
        record = {**PLACE_RECORD, "incident_time_text": "昨天", "answered_slots": ["place", "people_involved"]}
        corrected = read("不是6月8号，是6月5号", slots=record, asked="record_confirmed")["incident_time"]
        self.assertTrue(corrected.endswith("-06-05"), corrected)

    def test_half_a_month_ago_in_the_story_leaves_the_day_to_the_customer(self) -> None:
        story = "大概半个月前在APP上申购的基金一直没确认"
        self.assertNotIn("incident_time", read(story, intent="complain", story=True, sent_at=LATE_EVENING_UTC))
        answered = read("半个月以前吧", asked="incident_time", sent_at=LATE_EVENING_UTC)
        self.assertEqual(answered["incident_time"], "2025-05-27")

    def test_a_story_of_two_days_leaves_which_one_to_the_customer(self) -> None:
        slots = read("去年十月在你们这开的户，前天发现卡里被划走一笔年费", intent="complain", story=True,
                     sent_at=LATE_EVENING_UTC)
        self.assertNotIn("incident_time", slots)
        one_day = read("昨天上午挂的单，昨天下午两点又显示撤单了", intent="complain", story=True,
                       sent_at=LATE_EVENING_UTC)
        self.assertEqual(one_day["incident_time"][:10], "2025-06-10")

    def test_a_clock_said_with_the_day_keeps_its_half_of_the_day(self) -> None:
        slots = read("yesterday at about 3pm", asked="incident_time", sent_at=LATE_EVENING_UTC)
        self.assertEqual(slots["incident_time"], "2025-06-10T15:00")
        slots = read("yesterday evening at 7:30", asked="incident_time", sent_at=LATE_EVENING_UTC)
        self.assertEqual(slots["incident_time"], "2025-06-10T19:30")

    def test_a_time_of_day_said_later_is_added_to_the_day_of_the_story(self) -> None:
        slots = read("昨天上午十点左右，希望赔偿损失", slots={"incident_time": "2025-06-10", "description": "x"},
                     asked="desired_resolution", sent_at=LATE_EVENING_UTC)
        self.assertEqual(slots["incident_time"], "2025-06-10T10:00")
        other_day = read("前天下午三点", slots={"incident_time": "2025-06-10", "description": "x"},
                         asked="desired_resolution", sent_at=LATE_EVENING_UTC)
        self.assertNotIn("incident_time", other_day)

    def test_a_story_that_says_its_day_again_with_a_clock_keeps_the_clock(self) -> None:
        slots = read("昨天收盘前想撤单撤不掉，亏了一千多。就是昨天下午，两点五十分左右的事", intent="complain",
                     story=True, sent_at=LATE_EVENING_UTC)
        self.assertEqual(slots["incident_time"], "2025-06-10T14:50")
        same_sentence = read("我昨天上午，大概十点一刻，在APP上撤单撤不掉", intent="complain", story=True,
                             sent_at=LATE_EVENING_UTC)
        self.assertEqual(same_sentence["incident_time"], "2025-06-10T10:15")
        another_day = read("昨天想撤单撤不掉。前天下午两点五十也是这样", intent="complain", story=True,
                           sent_at=LATE_EVENING_UTC)
        self.assertNotEqual(another_day.get("incident_time"), "2025-06-09T14:50")

    def test_a_suspected_fraud_asks_which_service_and_when_before_a_person_takes_over(self) -> None:
        fraud = {"description": "有人盗用我的账户", "story_details": True, "customer_name": "孙丽",
                 "phone": "+8613700001111", "risk_flags": ["fraud"]}
        self.assertEqual(next_question(fraud), "product")
        self.assertEqual(next_question({**fraud, "product": "brokerage_account"}), "incident_time")
        self.assertIsNone(next_question({**fraud, "product": "brokerage_account", "incident_time": "2025-06-10"}))


class AShortOpeningIsAHeadline(unittest.TestCase):
    """A one-line account typed before any question ("交易软件又卡死了！") is kept, and the customer is asked once
    for more: what exactly happened, when, where, who, how much."""

    def test_a_short_opening_asks_for_the_details_once(self) -> None:
        slots = read("交易软件又卡死了！", intent="complain", story=True)
        self.assertEqual(slots["description"], "交易软件又卡死了！")
        self.assertEqual(next_question(slots), "story_details")
        _, messages = run(AskForStoryDetails(), tracker("x", slots={"language": "zh"}))
        self.assertEqual(messages[0]["response"], "utter_ask_story_details")

    def test_a_story_that_mentions_a_language_is_the_story(self) -> None:
        text = "櫃檯的職員叫我用普通話講，不然不幫我辦，說話的態度也很差"
        slots = read(text, slots={"language": "zh"}, asked="description", story=True)
        self.assertEqual(slots["description"], text)
        self.assertNotIn("language", slots)

    def test_a_threat_typed_first_is_a_headline_too(self) -> None:
        slots = read("I am writing to the regulator today and my solicitor will be contacting your firm",
                     intent="complain", story=True)
        self.assertEqual(next_question(slots), "story_details")

    def test_the_details_join_the_headline(self) -> None:
        told = {"description": "交易软件又卡死了！", "description_told": True}
        slots = read("昨天上午挂的三笔卖单都没成交，界面一直转圈", slots=told, asked="story_details", story=True)
        self.assertEqual(slots["description"], "交易软件又卡死了！\n昨天上午挂的三笔卖单都没成交，界面一直转圈")
        self.assertTrue(slots["story_details"])
        self.assertEqual(next_question({**told, **slots}), "customer_name")

    def test_a_name_given_instead_of_details_is_the_name(self) -> None:
        told = {"description": "Someone sold my shares without asking", "description_told": True}
        slots = read("Kevin Ng", slots=told, asked="story_details")
        self.assertEqual((slots["customer_name"], slots["story_details"]), ("Kevin Ng", True))
        self.assertNotIn("description", slots)

    def test_an_answer_without_details_ends_the_question(self) -> None:
        told = {"description": "交易软件又卡死了！", "description_told": True}
        slots = read("我叫周敏", slots=told, asked="story_details")
        self.assertEqual((slots["customer_name"], slots["story_details"]), ("周敏", True))
        self.assertNotIn("description", slots)
        for answer in ("就这些", "垃圾公司"):
            slots = read(answer, slots=told, asked="story_details")
            self.assertTrue(slots["story_details"])
            self.assertNotIn("description", slots)

    def test_a_full_account_or_an_answer_to_the_story_question_is_not_asked_again(self) -> None:
        long = "我昨天上午在APP上挂了三笔卖单，到收盘都没有成交，界面一直转圈，客服电话也打不通"
        self.assertEqual(next_question(read(long, intent="complain", story=True)), "customer_name")
        slots = read("交易软件又卡死了！", asked="description", story=True)
        self.assertEqual(next_question({**slots, "description_told": True}), "customer_name")
        self.assertNotIn("story_details", required_slots_for({"description": "交易软件又卡死了！",
                                                               "channel": "email"}))


class PeopleAndPlaceAnswers(unittest.TestCase):
    RECORD = PLACE_RECORD

    def test_an_acknowledgement_or_another_fact_is_no_one_and_nowhere(self) -> None:
        for text in ("ok", "好的", "nobody specific", "yes", "有"):
            slots = read(text, slots=self.RECORD, asked="people_involved")
            self.assertNotIn("people_involved", slots, text)
            self.assertEqual(slots["answered_slots"], ["people_involved"], text)
        slots = read("I'd like my card limit restored", slots={**self.RECORD, "desired_resolution": None},
                     asked="people_involved")
        self.assertNotIn("people_involved", slots)
        self.assertNotIn("place", read("nowhere really", slots=self.RECORD, asked="place"))
        self.assertNotIn("place", read("I want the second charge reversed", slots=self.RECORD, asked="place"))
        self.assertNotIn("people_involved", read("2025-03-04", slots=self.RECORD, asked="people_involved"))

    def test_staff_named_later_join_a_bare_role(self) -> None:
        slots = read("那天是陈经理接待的我，他一直不耐烦", slots={"description": "x", "people_involved": "大堂经理"},
                     asked="phone", story=True)
        self.assertEqual(slots["people_involved"], "大堂经理、陈经理")

    def test_staff_in_a_wish_are_not_the_people_involved(self) -> None:
        self.assertNotIn("people_involved", read("希望你们加强员工培训", asked="desired_resolution"))

    def test_a_role_alone_in_the_story_is_asked_about_and_kept_if_no_one_more_is_named(self) -> None:
        story = "客服说这是公司规定，多收的钱不能退"
        told = read(story, intent="complain", story=True)
        self.assertNotIn("people_involved", told)
        record = {**self.RECORD, "description": story}
        self.assertEqual(next_question(record), "place")
        self.assertEqual(read("不知道叫什么", slots=record, asked="people_involved")["people_involved"], "客服")
        self.assertEqual(read("客服小周", slots=record, asked="people_involved")["people_involved"], "客服小周")
        named = read("客服小周说这是公司规定", intent="complain", story=True)
        self.assertEqual(named["people_involved"], "客服小周")

    def test_asked_who_the_answer_is_kept_as_the_customer_said_it(self) -> None:
        answer = "窗口的工作人员，牌子上写着丁雅琴"
        self.assertEqual(read(answer, slots=self.RECORD, asked="people_involved")["people_involved"], answer)
        slots = read("就是理财经理老师宋佳怡", slots={**self.RECORD, "people_involved": "理财经理"},
                     asked="people_involved")
        self.assertEqual(slots["people_involved"], "理财经理老师宋佳怡")

    def test_asked_who_an_answer_heard_as_more_of_the_story_keeps_the_names_it_gives(self) -> None:
        record = {**self.RECORD, "description": "排队排了一个小时，窗口那个男的一直在打电话"}
        slots = read("窗口的男工作人员，胸牌上写着韩志强", slots=record, asked="people_involved", story=True)
        self.assertIn("韩志强", slots["people_involved"])

    def test_asked_where_or_who_an_answer_also_heard_as_story_is_the_answer_as_said(self) -> None:
        record = {**self.RECORD, "description": "改密码改了三次都不成功"}
        for answer, asked in (("你们网站上“修改密码”那个页面", "place"), ("广州天河区体育西那个营业部", "place"),
                              ("接电话的那个职员，他说工号是B2291", "people_involved")):
            slots = read(answer, slots=record, asked=asked, story=True)
            self.assertEqual(slots[asked], answer, answer)

    def test_where_in_words_of_streets_and_landmarks_is_kept_but_more_story_is_not_an_answer(self) -> None:
        record = {**self.RECORD, "description": "销户去了三次都没办成"}
        for answer in ("办卡的那个营业部在杭州西湖区文三路那边", "就在我们村口的超市旁边，临平区"):
            self.assertEqual(read(answer, slots=record, asked="place", story=True)["place"], answer)
        self.assertNotIn("place", read("还有，客服也一直不回消息", slots=record, asked="place", story=True))

    def test_staff_named_by_title_then_by_full_name_in_the_wish(self) -> None:
        slots = read("希望邓佳琪给我道个歉", slots={**self.RECORD, "people_involved": "邓小姐"},
                     asked="desired_resolution")
        self.assertEqual(slots["people_involved"], "邓小姐、邓佳琪")

    def test_a_named_branch_replaces_nothing_when_our_branch_was_unnamed(self) -> None:
        self.assertNotIn("place", read("我要投诉你们营业部", intent="complain"))
        self.assertEqual(read("就是广州天河路营业部的事", slots={"description": "x"}, asked="customer_name",
                              story=True)["place"], "广州天河路营业部")


class ContactsAsTyped(unittest.TestCase):
    def test_a_north_american_number_without_plus_one(self) -> None:
        self.assertEqual(read("my cell is 303-555-0142", asked="phone")["phone"], "+13035550142")

    def test_a_second_refusal_is_never_a_contact(self) -> None:
        slots = read("I told you already, I'm not leaving any contact details", slots={"phone_declined": True},
                     asked="email", intent="deny")
        self.assertTrue(slots["contact_declined"])
        self.assertNotIn("email", slots)
        self.assertNotIn("phone", slots)


class NoCaseNumber(unittest.TestCase):
    def test_no_case_number_twice_starts_a_complaint(self) -> None:
        state = previous_turn("查一下我的投诉", "ask_status", "action_check_status", {"language": "zh"}, None,
                              "没有编号，是新的投诉", "ask_status")
        events, messages = run(ActionCheckStatus(), state)
        self.assertEqual(messages[0]["response"], "utter_complaint_acknowledged")
        self.assertIn("complaint_form", [e["name"] for e in events if e["event"] == "followup"])


if __name__ == "__main__":
    asyncio.set_event_loop_policy(None)
    unittest.main()
