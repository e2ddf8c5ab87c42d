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
    ActionSubmitComplaint,
    AskForPhone,
    AskForTime,
    ExtractFromMessage,
    ValidateComplaintForm,
)

from tests.conversation import DOMAIN, run, slot_values, tracker


def form_tracker(text: str, candidates: dict[str, Any], slots: dict[str, Any] | None = None,
                 intent: str = "inform", confidence: float = 0.9) -> Any:
    """The tracker validate_complaint_form gets: the message, then the slot candidates Rasa extracted."""
    message = {"text": text, "intent": {"name": intent, "confidence": confidence}, "entities": [], "metadata": {}}
    events = [{"event": "action", "name": "action_listen"}, {"event": "user", "text": text, "parse_data": message},
              {"event": "action", "name": "complaint_form"}]
    events += [{"event": "slot", "name": k, "value": v} for k, v in candidates.items()]
    return tracker(text, {**(slots or {}), **candidates}, intent=intent, confidence=confidence,
                   active_loop="complaint_form", events=events)


def texts(messages: list[dict[str, Any]]) -> list[str]:
    return [m.get("text") or m.get("response") or "" for m in messages]


class Extraction(unittest.TestCase):
    def test_a_first_message_fills_every_field_it_gives(self) -> None:
        events, _ = run(ExtractFromMessage(), tracker(
            "我要投诉，我叫王芳，电话13912345678，资金账号880012345，上周五下午3点在上海浦东营业部，"
            "客户经理王强推荐的理财产品亏了三成，希望你们给个说法", intent="complain"))
        slots = slot_values(events)
        for key, value in {"customer_name": "王芳", "phone": "+8613912345678", "account_id": "880012345",
                           "incident_time_text": "上周五下午3点", "product": "funds_wealth", "place": "上海浦东营业部",
                           "people_involved": "客户经理王强", "desired_resolution": "希望你们给个说法",
                           "language": "zh"}.items():
            self.assertEqual(slots.get(key), value, key)
        self.assertRegex(slots["incident_time"], r"^\d{4}-\d{2}-\d{2}T15:00$")
        self.assertTrue(slots["description"].startswith("我要投诉，我叫王芳"))

    def test_language_from_metadata_then_from_what_the_customer_writes(self) -> None:
        self.assertEqual(slot_values(run(ExtractFromMessage(), tracker("13800138000", metadata={"language": "zh"}))[0])
                         ["language"], "zh")
        switched = tracker("can we continue in English please", slots={"language": "zh"}, metadata={"language": "zh"})
        self.assertEqual(slot_values(run(ExtractFromMessage(), switched)[0])["language"], "en")
        kept = tracker("John Smith", slots={"language": "zh"}, metadata={"language": "en"})
        self.assertNotIn("language", slot_values(run(ExtractFromMessage(), kept)[0]))  # unchanged: zh

    def test_anger_is_acknowledged_once_in_the_customers_language(self) -> None:
        events, messages = run(ExtractFromMessage(), tracker("你们这帮骗子！！", intent="complain"))
        self.assertEqual(slot_values(events)["risk_flags"], ["anger"])
        self.assertEqual(len(messages), 1)
        self.assertIn("理解您现在的心情", messages[0]["text"])
        _, again = run(ExtractFromMessage(), tracker("垃圾公司", slots={"risk_flags": ["anger"]}, intent="complain"))
        self.assertEqual(again, [])

    def test_threats_are_acknowledged_calmly_and_flagged(self) -> None:
        events, messages = run(ExtractFromMessage(), tracker("I'm going to report you to the FCA and my lawyer",
                                                             intent="complain"))
        self.assertEqual(slot_values(events)["risk_flags"], ["regulator", "lawyer"])
        self.assertIn("free to raise this", messages[0]["text"])

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
        state = tracker("今天天气怎么样", intent="out_of_scope", confidence=0.95, active_loop="complaint_form",
                        slots={"requested_slot": "incident_time"})
        slots = slot_values(run(ExtractFromMessage(), state)[0])
        self.assertNotIn("incident_time", slots)

    def test_the_answer_to_the_question_asked(self) -> None:
        asked = {"requested_slot": "customer_name"}
        slots = slot_values(run(ExtractFromMessage(), tracker("张三 13800138000", slots=asked,
                                                              active_loop="complaint_form"))[0])
        self.assertEqual((slots["customer_name"], slots["phone"]), ("张三", "+8613800138000"))
        asked = {"requested_slot": "incident_time"}
        slots = slot_values(run(ExtractFromMessage(), tracker("上周三，希望尽快把钱退回来", slots=asked,
                                                              active_loop="complaint_form"))[0])
        self.assertEqual((slots["incident_time_text"], slots["desired_resolution"]), ("上周三", "希望尽快把钱退回来"))
        slots = slot_values(run(ExtractFromMessage(), tracker("I don't remember", slots=asked,
                                                              active_loop="complaint_form"))[0])
        self.assertEqual(slots["incident_time"], "I don't remember")  # to be refused, then kept unverified
        slots = slot_values(run(ExtractFromMessage(), tracker("mary@example.com", active_loop="complaint_form",
                                                              slots={"requested_slot": "phone"}))[0])
        self.assertEqual(slots["email"], "mary@example.com")
        self.assertNotIn("phone", slots)


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
        other = self.validate("no idea", {"product": "no idea"}, {"reasked_slots": ["product"]})
        self.assertEqual((other["product"], other["unverified"]), ("other", ["product"]))
        self.assertEqual(self.validate("嗯", {"customer_name": "嗯"})["refused_slot"], "customer_name")

    def test_an_email_is_enough_contact(self) -> None:
        slots = self.validate("x", {"customer_name": "Mary Chan"}, {"email": "mary@example.com"})
        self.assertEqual(slots["requested_slot"], "description")

    def test_a_suspected_fraud_needs_only_a_name_contact_and_story(self) -> None:
        slots = self.validate("13700001111", {"phone": "13700001111"},
                              {"customer_name": "孙丽", "description": "有人盗用我的账户", "risk_flags": ["fraud"]})
        self.assertIsNone(slots["requested_slot"])

    def test_a_request_for_a_person_interrupts_the_form_keeping_what_it_gave(self) -> None:
        events, _ = run(ValidateComplaintForm(), form_tracker("转人工，我叫张三", {"customer_name": "张三"},
                                                              intent="request_human"))
        self.assertIn("action_execution_rejected", [e["event"] for e in events])
        self.assertEqual(slot_values(events)["customer_name"], "张三")


class Asking(unittest.TestCase):
    def test_email_mode_asks_for_everything_missing_in_one_message(self) -> None:
        state = tracker("...", slots={"channel": "email", "language": "en", "description": "my fee is wrong",
                                      "product": "fees_commissions", "requested_slot": "phone"},
                        active_loop="complaint_form")
        _, messages = run(AskForPhone(), state)
        self.assertEqual(len(messages), 1)
        self.assertEqual(messages[0]["response"], "utter_email_missing")
        self.assertEqual(messages[0]["fields"], "your name, a phone number (or email address) we can reach you on, "
                                                "roughly when it happened, what you would like us to do")

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
            "customer_name", "phone", "email", "account_id", "product", "incident_time", "incident_time_text", "place",
            "people_involved", "description", "desired_resolution", "language", "unverified", "phone_unverified",
            "risk_flags"})
        self.assertEqual(payload["record"]["risk_flags"], ["anger"])
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
    def test_every_response_has_a_chinese_and_an_english_variant(self) -> None:
        for name, variants in DOMAIN["responses"].items():
            conditioned = [v for v in variants if v.get("condition")]
            self.assertEqual([c["value"] for v in conditioned for c in v["condition"]], ["zh"], name)
            self.assertEqual(len(variants), 2, name)


if __name__ == "__main__":
    asyncio.set_event_loop_policy(None)
    unittest.main()
