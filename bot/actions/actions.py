"""Custom actions of the complaint intake bot.

The gateway reads two custom payloads from the bot's replies (see bot/README.md): ``case_ready`` when
the complaint record is complete, and ``human_requested`` when the conversation must go to a complaint
handler. Texts come from domain.yml responses so that each one is sent in the customer's language (and,
in Chinese, in the customer's script).

One extraction pass (``action_validate_slot_mappings``, run by Rasa after every customer message) reads
the whole message: whatever the customer volunteers fills its slot, whichever question was asked.
``validate_complaint_form`` then checks the values; a refused value is asked again once, with an
example, and a second refused value is kept and listed as unverified so nobody is stuck in a loop.

The story comes first: the description is the customer's own account of events, decided by the NLU
(components/account_classifier.py), asked for once if the customer has not told it, and every later
account adds to it. Place and people involved are asked once each; the record is read back before it is
registered, and a correction in the customer's own words changes the field it names.
"""

from __future__ import annotations

import logging
import os
import re
import unicodedata
from abc import ABC, abstractmethod
from datetime import datetime
from typing import Any

import aiohttp
from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import ActionExecutionRejected, ActiveLoop, EventType, FollowupAction, Restarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from . import labels
from .chinese import HANS, HANT, script_of, to_traditional
from .extract import (
    CASE_ID,
    PRODUCT_KEYS,
    Find,
    asks_for_a_person,
    asks_for_a_person_now,
    canonical,
    find_accounts,
    find_case_ids,
    find_emails,
    find_names,
    find_people,
    find_phones,
    find_place,
    find_products,
    find_risk_flags,
    find_times,
    find_wish,
    halfwidth,
    is_correction,
    is_no,
    is_online,
    is_outburst,
    is_refusal,
    is_skip,
    is_yes,
    language_request,
    named_again,
    names_someone,
    people_outside_wish,
    product_from_answer,
    sounds_like_a_person,
    sounds_like_a_place,
    split_people,
    story_times,
    tells_a_later_day,
    tells_when_found_out,
    without_negated,
)
from .fields import (
    Resolved,
    mask_account,
    mask_email,
    mask_phone,
    normalize_email,
    normalize_phone,
    resolve_time,
    warm_up,
    with_day_of,
)
from .product_model import LANGUAGES, story_model, story_product, story_product_key
from .risk_words import flag_patterns
from .settings import SETTINGS, time_zone
from .text_checks import (
    DEFAULT_LANGUAGE,
    MAX_NAME_LENGTH,
    clean_name,
    detect_language,
    is_thin_story,
    is_valid_name,
    language_code,
    looks_like_a_name,
    normalize,
)

log = logging.getLogger(__name__)

RECORD_SLOTS = (
    "customer_name", "phone", "email", "account_id", "product", "product_text", "incident_time", "incident_time_text",
    "place", "people_involved", "description", "desired_resolution",
)
# The questions, in the order the form asks them: the story first, then who the customer is and how to reach
# them, then what the story left out, then the read-back.
FORM_SLOTS = ("description", "story_details", "customer_name", "phone", "product", "incident_time",
              "desired_resolution", "place", "people_involved", "record_confirmed")
# A suspected fraud goes to a person as soon as these are known: the story, who the customer is and how to reach
# them, and what a handler needs to route and trace it (which service, when).
URGENT_SLOTS = ("description", "story_details", "customer_name", "phone", "email", "product", "incident_time")
# The questions that ask for the account of events itself: what happened, then anything more to it.
STORY_SLOTS = ("description", "story_details")
# Asked once each: an answer of any kind (不清楚, 线上, 没有, "not sure") ends the question.
ONCE_SLOTS = ("place", "people_involved")
# Channels where nobody reads a read-back before the case opens (the whole email, a finished call).
NO_READ_BACK_CHANNELS = ("email", "transcript")
MAX_READ_BACKS = 3  # then the record is registered as corrected: nobody is kept in a loop
FALLBACK_ACTION = "action_handle_fallback"
# Intents that interrupt the form (a rule answers them, then the form asks its question again) when the
# message gives nothing for the record.
INTERRUPTING_INTENTS = {"request_human", "ask_status", "out_of_scope", "greet", "thank"}
INTERRUPT_CONFIDENCE = 0.55
# What answers an interruption in the middle of the form; the form then asks its question again.
INTERRUPTION_ANSWERS = {"action_out_of_scope", "action_check_status", "utter_greet_in_form",
                        "utter_youre_welcome_in_form"}
# Intents whose text may describe the complaint; other messages only give contact details.
CONTENT_INTENTS = {"complain", "inform", "nlu_fallback", "affirm", "deny"}
# Messages of these intents tell no story, whatever words they share with one ("能帮我看看投诉处理到哪了吗").
NO_STORY_INTENTS = {"ask_status", "out_of_scope", "greet", "goodbye", "thank"}
# An answer to another question adds to the story only when the NLU is this sure it tells what happened.
STORY_IN_ANSWER_CONFIDENCE = 0.8
THREATS = ("regulator", "media", "lawyer")
# Answers that are not names, whatever the question was.
NOT_NAMES = {
    "嗯", "嗯嗯", "好", "好的", "是", "是的", "对", "对的", "行", "可以", "不", "不是", "没有", "不知道", "你好",
    "您好",
    "谢谢", "再见", "什么", "为什么", "干嘛", "ok", "okay", "yes", "yeah", "yep", "no", "nope", "hi", "hello", "hey",
    "thanks", "thank you", "bye", "what", "why", "sure", "fine", "anonymous", "匿名", "不想说", "不告诉你",
}
STATUS_TIMEOUT = aiohttp.ClientTimeout(total=5)
ISO_TIME = re.compile(r"\d{4}(?:-W\d{2}|-\d{2}(?:-\d{2}(?:T\d{2}:\d{2})?)?)?")

SlotValues = dict[str, Any]

warm_up()
flag_patterns()  # the risk rules are read at start: a file that cannot be read stops the action server
for language in LANGUAGES:
    story_model(language)  # learnt at start, not while the first customer waits


# ---------------------------------------------------------------------------------------------------
# Reading the tracker

def message_metadata(tracker: Tracker) -> dict[str, Any]:
    """The gateway's metadata of the latest message; empty when a client sent none."""
    metadata = (tracker.latest_message or {}).get("metadata")
    return metadata if isinstance(metadata, dict) else {}


def contact_field(tracker: Tracker, key: str) -> str | None:
    """A field of metadata.contact (known to SMS and email channels), if present."""
    contact = message_metadata(tracker).get("contact")
    value = contact.get(key) if isinstance(contact, dict) else None
    return normalize(value) if isinstance(value, str) and value.strip() else None


def current_language(tracker: Tracker) -> str:
    return language_code(tracker.get_slot("language")) or DEFAULT_LANGUAGE


def current_script(tracker: Tracker) -> str:
    return HANT if tracker.get_slot("script") == HANT else HANS


def latest_text(tracker: Tracker) -> str:
    return str((tracker.latest_message or {}).get("text") or "")


def latest_intent(tracker: Tracker) -> tuple[str, float]:
    intent = (tracker.latest_message or {}).get("intent") or {}
    return str(intent.get("name") or ""), float(intent.get("confidence") or 0.0)


def account_of_events(tracker: Tracker) -> tuple[bool, float]:
    """The NLU's decision (components/account_classifier.py): does the latest message tell what happened?"""
    account = (tracker.latest_message or {}).get("account") or {}
    return bool(account.get("has_account")), float(account.get("confidence") or 0.0)


def requested_slot(tracker: Tracker) -> str | None:
    return tracker.get_slot("requested_slot") if tracker.active_loop_name else None


def is_interruption(tracker: Tracker) -> bool:
    """Does the message turn away from the form's question (a person, a case's status, another question, a
    greeting)? Not when it gives what the question asked for, whatever its intent looked like, nor when the
    same question was turned away from last time: nobody is sent to the hotline again and again."""
    name, confidence = latest_intent(tracker)
    text = latest_text(tracker)
    requested = requested_slot(tracker)
    if requested == "record_confirmed" and is_yes(text):
        return False  # "对的，谢谢" confirms the read-back
    if name not in INTERRUPTING_INTENTS or confidence < INTERRUPT_CONFIDENCE:
        return False
    if text.startswith("/"):
        return True  # a button's payload (or the gateway's own, when a call is transferred) means just that
    if name == "request_human":
        # "I'd like someone to call me back" is what they want, not a handover; "spoke to an agent called Leanne"
        # answers "who was involved?".
        if requested == "people_involved" and sounds_like_a_person(text) and not asks_for_a_person_now(text):
            return False
        return asks_for_a_person(text)
    if name == "ask_status" and find_case_ids(text):
        return True
    if gives_contact_details(text):
        return False  # "my cell is 303-555-0142" fills the record whatever was asked
    return not (requested and (answers_question(tracker, requested, text) or interrupted_last_turn(tracker)))


def gives_contact_details(text: str) -> bool:
    """A phone, an email, an account number or a name the customer introduces."""
    return bool(find_phones(text) or find_emails(text) or find_accounts(text) or find_names(text))


def answers_question(tracker: Tracker, requested: str, text: str) -> bool:
    """Does the message give what the form's question asks for (a contact, a name, a time, a wish...)?"""
    if requested == "customer_name":
        return bool(find_names(text)) or (looks_like_a_name(text) and plausible_name(text))
    if requested in ("phone", "email"):
        return bool(find_phones(text) or find_emails(text)) or is_refusal(text)
    if requested == "incident_time":
        return bool(find_times(text)) and not QUESTION.search(canonical(text))  # not "今天天气怎么样"
    if requested == "product":
        return product_from_answer(text) is not None
    if requested == "desired_resolution":
        return find_wish(text) is not None
    if requested in ONCE_SLOTS:
        return is_skip(text) or is_online(text) or bool(find_place(text) or find_people(text))
    if requested in STORY_SLOTS:
        return account_of_events(tracker)[0]
    return False


QUESTION = re.compile(
    r"[?？]\s*$|吗|呢|怎么样|什么|为什么|(?i:^(?:what|how|why|when|where|who|is|are|can|could|do|does|will)\b)")


def interrupted_last_turn(tracker: Tracker) -> bool:
    """The customer's previous message was answered as an interruption of the form."""
    return any(e.get("event") == "action" and e.get("name") in INTERRUPTION_ANSWERS
               for e in previous_turn_events(tracker))


def resuming(tracker: Tracker) -> bool:
    """True when the form runs again after a rule answered an interruption of this same message."""
    events = tracker.events
    last_user = max((i for i, e in enumerate(events) if e.get("event") == "user"), default=-1)
    return any(e.get("event") == "action" and e.get("name") not in ("complaint_form", "action_listen")
               for e in events[last_user + 1:])


def message_stamp(tracker: Tracker) -> float:
    """Identifies the latest customer message: its timestamp (the number of messages if there is none)."""
    users = [event for event in tracker.events if event.get("event") == "user"]
    stamp = users[-1].get("timestamp") if users else None
    return float(stamp) if stamp is not None else float(len(users))


def message_time(tracker: Tracker) -> datetime:
    """When the latest message was sent, on the customer's clock: relative dates ("yesterday") count from it.

    The zone is the message's ``metadata.timezone`` if it names one, else BOT_TIME_ZONE (Asia/Shanghai).
    """
    zone = time_zone(str(message_metadata(tracker).get("timezone") or "")) or SETTINGS.time_zone
    users = [event for event in tracker.events if event.get("event") == "user"]
    stamp = users[-1].get("timestamp") if users else None
    sent = datetime.fromtimestamp(float(stamp), zone) if stamp is not None else datetime.now(zone)
    return sent.replace(tzinfo=None, microsecond=0)


def is_email(tracker: Tracker) -> bool:
    return tracker.get_slot("channel") == "email"


def entity_values(tracker: Tracker, entity: str) -> list[str]:
    return [str(e.get("value")) for e in (tracker.latest_message or {}).get("entities") or []
            if e.get("entity") == entity and e.get("value") is not None]


def required_slots_for(slots: dict[str, Any]) -> list[str]:
    """The questions this customer still needs, in order.

    A phone, or an email when the customer has none, or neither when they decline both; place and people once
    each; a suspected fraud needs only the story, a name and a contact (a person takes over at once); an email
    or a finished call is registered without a read-back.
    """
    required = list(FORM_SLOTS)
    if slots.get("email") or slots.get("contact_declined"):
        required.remove("phone")
    elif slots.get("phone_declined") and not slots.get("phone"):
        required[required.index("phone")] = "email"
    answered = slots.get("answered_slots") or []
    required = [s for s in required if not (s in ONCE_SLOTS and s in answered)]
    if not needs_story_details(slots):
        required.remove("story_details")
    if "fraud" in (slots.get("risk_flags") or []):
        required = [s for s in required if s in URGENT_SLOTS]
    if slots.get("channel") in NO_READ_BACK_CHANNELS:
        required = [s for s in required if s != "record_confirmed"]
    return required


def needs_story_details(slots: dict[str, Any]) -> bool:
    """A one-line account the customer typed before being asked ("交易软件又卡死了！", or a longer line that is
    mostly a threat): asked once for more, unless nobody can be asked (an email, a finished call)."""
    story = str(slots.get("description") or "")
    # A threat or an outburst is not the story, however many facts the classifier heard in it.
    heated = bool(set(find_risk_flags(story)) & {*THREATS, "anger"})
    return (bool(story) and not slots.get("story_details") and is_thin_story(story, 2 if heated else 1)
            and slots.get("channel") not in NO_READ_BACK_CHANNELS)


def missing_slots(tracker: Tracker) -> list[str]:
    return [s for s in required_slots_for(tracker.slots) if tracker.get_slot(s) is None]


def response_text(domain: DomainDict, response: str, language: str, script: str = HANS) -> str:
    """The text of a response in the given language (and script, for Chinese), straight from the domain."""
    variants = domain.get("responses", {}).get(response, [])
    wanted = {"language": "zh", "script": script} if language == "zh" else None
    for variant in variants:
        if wanted and {c.get("name"): c.get("value") for c in variant.get("condition") or []} == wanted:
            return str(variant.get("text", ""))
    for variant in variants:
        if not variant.get("condition"):
            return str(variant.get("text", ""))
    return ""


def in_script(text: str, tracker: Tracker) -> str:
    """Text composed by an action (labels, a summary), in Traditional characters for a Traditional customer."""
    return to_traditional(text) if current_language(tracker) == "zh" and current_script(tracker) == HANT else text


# ---------------------------------------------------------------------------------------------------
# Reading a message

def plausible_name(text: str) -> bool:
    name = clean_name(text)
    if not is_valid_name(name) or name.lower().strip("!！.。?？~") in NOT_NAMES:
        return False
    if re.search(r"[0-9@#?？!！]", name):
        return False
    if re.search(r"[\u4e00-\u9fff]", name):
        return len(name) <= 8
    return len(name.split()) <= 5


def _strip_finds(text: str, finds: list[Any]) -> str:
    for find in sorted(finds, key=lambda f: f.start, reverse=True):
        text = text[: find.start] + text[find.end:]
    return text.strip(" ,，。.;；:：")


def own_words(text: str) -> str:
    """The customer's text as typed (their punctuation kept), on one line."""
    return " ".join(text.split())


def _enough_words(text: str) -> bool:
    if re.search(r"[\u4e00-\u9fff]", text):
        return len(re.findall(r"\w", text)) >= 3
    return len(text.split()) >= 2


def signature_name(text: str) -> str | None:
    """The name an email is signed with ("Regards,\\nJohn Smith", "此致\\n敬礼\\n张三")."""
    lines = [line.strip() for line in halfwidth(text).splitlines() if line.strip()]
    for i, line in enumerate(lines[:-1]):
        if re.fullmatch(r"(?i)(?:best |kind |warm )?regards,?|sincerely,?|yours sincerely,?|yours faithfully,?|"
                        r"thanks,?|thank you,?|many thanks,?|cheers,?|best,?|敬礼[!！]?|此致|谢谢[!！]?", line):
            candidate = re.sub(r"(?:敬上|谨上|上)$", "", lines[i + 1]).strip(" ,，")
            if plausible_name(candidate) and len(candidate) <= 40 and not re.search(r"敬礼", candidate):
                return clean_name(candidate)
    # A name alone on the last line: "张伟", "-- John Smith".
    last = re.sub(r"(?:敬上|谨上)$", "", lines[-1].lstrip("-—– ")).strip(" ,，") if len(lines) >= 2 else ""
    if re.fullmatch(r"[\u4e00-\u9fff·]{2,4}|[A-Z][a-z'\-]+(?: [A-Z][a-z'\-]+){0,2}", last) and plausible_name(last):
        return last
    return None


def tells_story(tracker: Tracker, requested: str | None) -> bool:
    """Does this message add to the customer's account of events?

    The NLU decides (components/account_classifier.py); an answer to another question must be clearly a
    story, so a wish or a place given as asked is not taken for one; an outburst that names nothing is not one.
    """
    has_account, confidence = account_of_events(tracker)
    intent, _ = latest_intent(tracker)
    if not has_account or intent in NO_STORY_INTENTS or is_outburst(latest_text(tracker)):
        return False
    return told_as_story(requested) or confidence >= STORY_IN_ANSWER_CONFIDENCE


def told_as_story(requested: str | None) -> bool:
    """Is a message said with no question open, or to one asking for the story, rather than to another?"""
    return requested is None or requested in STORY_SLOTS


def add_to_story(story: str | None, words: str) -> str:
    """Later details are added to the account, never replace it."""
    if not story:
        return words
    if words in story:
        return story
    return f"{story}\n{words}"


def read_message(tracker: Tracker) -> SlotValues:
    """Slot values the latest message gives, whatever question was asked (candidates, checked later)."""
    raw_text = latest_text(tracker).strip()
    # Full-width letters and digits as ASCII; line breaks kept (an email's sentences and signature).
    text = "" if raw_text.startswith("/") else unicodedata.normalize("NFKC", raw_text)
    intent, _ = latest_intent(tracker)
    interrupting = is_interruption(tracker)
    requested = requested_slot(tracker)
    email_mode = is_email(tracker)
    # More of the story at the read-back adds to it; only a message that says so corrects the record.
    more_story = (requested == "record_confirmed" and not interrupting and tells_story(tracker, requested)
                  and not is_correction(text))
    correcting = requested == "record_confirmed" and not interrupting and not more_story
    now = message_time(tracker)
    found: SlotValues = {}

    # Payloads ("/inform{...}") carry the product as an entity; in a customer's text, the words are read below.
    if raw_text.startswith("/"):
        for product in entity_values(tracker, "product"):
            if product in PRODUCT_KEYS:
                found["product"] = product
    if not text or language_request(text):
        return found  # "can we speak English?" answers no question

    # Contact details and account numbers: from any message that is not a question about something else.
    if not (interrupting and intent in ("ask_status", "out_of_scope")):
        emails, accounts, cases = find_emails(text), find_accounts(text), find_case_ids(text)
        phones = find_phones(text)
        if emails:
            email = normalize_email(emails[-1].value)
            if email:
                found["email"] = email
        if accounts:
            found["account_id"] = accounts[-1].value
        if phones:
            found["phone"] = normalize_phone(phones[-1].value, tracker.get_slot("script")) or phones[-1].value
        names = find_names(text)
        if names and plausible_name(names[0].value):
            found["customer_name"] = clean_name(names[0].value)
        elif email_mode and not tracker.get_slot("customer_name"):
            signed = signature_name(raw_text)
            if signed:
                found["customer_name"] = signed
        structured = [*emails, *accounts, *cases, *phones, *names]
    else:
        structured = []

    # A request for a person keeps what else the message says ("they froze it on 2 November. get me a person").
    content = (intent in CONTENT_INTENTS or intent == "request_human" or (requested is not None and not interrupting)
               or email_mode)
    if content:
        found.update(read_details(tracker, text, raw_text, requested, correcting, now))
    if tells_story(tracker, requested) or (email_mode and account_of_events(tracker)[0]):
        words = raw_text if email_mode else own_words(raw_text)
        found["description"] = add_to_story(tracker.get_slot("description"), words)
        found["description_told"] = True
        if requested in STORY_SLOTS:
            found["story_details"] = True  # asked for the story: no "tell me more" after the answer
        if told_as_story(requested):
            # An answer to another question ("港股通权限是在北京路营业部开的" for where) adds to the story but does
            # not decide what it is about.
            found.update(product_of_whole_story(tracker, found["description"], found))
    if requested and not interrupting:
        found.update(answer_to_question(tracker, requested, text, raw_text, found, structured, now))
    return found


def product_of_whole_story(tracker: Tracker, story: str, found: SlotValues) -> SlotValues:
    """A product read from the first words of a story is read again from the whole of it: "赎回个基金扣我这么多！"
    names a fund, the account that follows names the redemption fee too, and which one the complaint is about is
    then the customer's to say (the form asks), as it is when the product model reads the whole as another
    service (product_model.py). A product the customer chose or corrected stays."""
    recorded = tracker.get_slot("product")
    if (not recorded or "product" in found or recorded != story_product_key(tracker.get_slot("description") or "")
            or "product" in (tracker.get_slot("answered_slots") or [])):
        return {}
    whole = story_product(story)
    if whole is None:
        return {"product": None}
    return {"product": whole[0]} if whole[0] != recorded and whole[0] != "other" else {}


def read_details(
    tracker: Tracker, text: str, raw_text: str, requested: str | None, correcting: bool, now: datetime
) -> SlotValues:
    """When, which product, where, who and what the customer wants, as far as the message says.

    At the read-back (``correcting``) what the message names replaces what was recorded: "电话错了，是139…",
    "it was the 17th", "不是基金，是两融".
    """
    found: SlotValues = {}
    answering_when = requested == "incident_time" or correcting
    said = without_negated(text) if correcting else text  # "不是8号，是5号": what it is, not what it is not
    times = find_times(said) if answering_when else story_times(text)
    # Answering when, the whole answer from its first time on: a clock or a day said after it belongs to it.
    resolved = resolve_time(said[times[0].start:] if answering_when else times[0].value, now) if times else None
    if not answering_when and resolved and (resolved.precision not in ("day", "minute") or resolved.approximate
                                            or tells_when_found_out(text, times) or tells_a_later_day(text)
                                            or not one_day_told(resolved, times[1:], now)):
        # "这个月扣了两笔", "半个月前" (which day?), "今天对账发现…" (when it came to light),
        # "三月份销户了，昨天又被扣了管理费" (which day?): when it happened is for the customer to say, and the form
        # asks.
        resolved = None
    if not answering_when and resolved:
        resolved = with_its_time_of_day(resolved, text, times, now)
    recorded_time = tracker.get_slot("incident_time")
    # "昨天上午" in the story, "昨天上午十点" later: the time of day is added to the same day.
    finer = bool(resolved and resolved.precision == "minute" and recorded_time
                 and resolved.iso().startswith(f"{recorded_time}T"))
    if times and resolved and (not recorded_time or requested == "incident_time" or correcting or finer):
        iso = resolved.iso()
        if correcting and resolved.precision == "day":
            iso = with_day_of(tracker.get_slot("incident_time"), iso)  # "the 17th": the time of day stays
        found["incident_time"] = iso
        found["incident_time_text"] = times[0].value
    place = find_place(without_negated(text) if correcting else text)
    if correcting:
        # Only a product named ("不是基金，是两融") corrects it; a cue word ("客户经理") may be about something else,
        # and a branch named is where it happened ("深圳福田营业部"), not the service. A message naming several
        # (more of the story), a person ("给我开户的客户经理") or a time ("上周五去的营业部") changes it only if it
        # says what is wrong.
        probe = without_negated(text)
        for where in (place, tracker.get_slot("place")):
            probe = probe.replace(where, " ") if where else probe
        named = find_products(probe)
        answers_another = bool(find_people(probe) or find_times(probe))
        if named and (is_correction(text) or (len({n.value for n in named}) == 1 and not answers_another)):
            found["product"] = named[0].value
    elif not tracker.get_slot("product") and requested != "product" and not is_outburst(text):
        product = story_product(text)  # an outburst names nothing, however the customer says they were treated
        if product:
            found["product"] = product[0]
            if product[1]:
                found["product_text"] = product[1]  # a product we do not offer, in the customer's words
    if place and (not tracker.get_slot("place") or correcting):
        found["place"] = place
    if requested != "customer_name" and latest_intent(tracker)[0] != "request_human":
        people = people_outside_wish(text)
        recorded = tracker.get_slot("people_involved")
        again = named_again(recorded, text)  # "陈小姐" in the story, "要求陈怡君道歉" later: her full name
        if again:
            people = with_more_people(people or "", "、".join(again))
        if (people and not recorded and requested != "people_involved" and not correcting and not names_someone(text)
                and "people_involved" not in (tracker.get_slot("answered_slots") or [])):
            people = None  # "客服说是规定": a role alone, and the form asks who it was (answer_once keeps the role)
        if people and (not recorded or correcting):
            found["people_involved"] = people
        elif people and recorded:
            more = with_more_people(recorded, people)
            if more != recorded:
                found["people_involved"] = more
    wish = find_wish(raw_text)
    if wish and (not tracker.get_slot("desired_resolution") or correcting):
        # "上周五 希望修复系统" answers both questions: the time is not part of the wish.
        lead = find_times(wish)
        if lead and lead[0].start == 0:
            wish = wish[lead[0].end:].lstrip(" ,，、;；")
        found["desired_resolution"] = wish
    return found


def one_day_told(first: Resolved, others: list[Find], now: datetime) -> bool:
    """Do all the times a story tells fit one day ("上个月" and "11月20号上午" do; "三月" and "昨天" do not)?"""
    return all(first.may_be_the_day_of(other) for find in others if (other := resolve_time(find.value, now)))


def with_its_time_of_day(day: Resolved, text: str, later: list[Find], now: datetime) -> Resolved:
    """The time of day a story says in the sentence of its day ("12月1号上午，十点左右转的"), or where it says
    the day again ("上周一开盘那会…，上周一早上，9点31分左右开始闪退的")."""
    if day.precision != "day":
        return day
    for find in later:
        sentence = re.split(r"[。！？!?\n]", text[find.start:], maxsplit=1)[0]
        finer = resolve_time(sentence, now)
        if finer and finer.precision == "minute" and finer.at.date() == day.at.date():
            return finer
    return day


def with_more_people(recorded: str, people: str) -> str:
    """Staff named later join those named before ("大堂经理" then "陈经理"), once each; a later mention that says
    more of one named before ("投顾" then "投顾老师孙浩") takes its place."""
    listed = split_people(recorded)
    new = [p for p in split_people(people) if not any(p in known for known in listed)]
    if not new:
        return recorded
    kept = [known for known in listed if not any(known in p for p in new)]
    separator = "、" if re.search(r"[\u4e00-\u9fff]", recorded + people) else ", "
    return separator.join([*kept, *new])


def answer_to_question(
    tracker: Tracker, requested: str, text: str, raw_text: str, found: SlotValues, structured: list[Any],
    now: datetime,
) -> SlotValues:
    """The whole message as the answer to the question the form asked, when nothing more specific fits."""
    if requested == "record_confirmed":
        return answer_to_read_back(tracker, text, found)
    if (found.get("description") not in (None, tracker.get_slot("description"))
            and requested not in (*STORY_SLOTS, "desired_resolution", *ONCE_SLOTS)
            and not answers_question(tracker, requested, text)):
        # More of the story instead of an answer: the question is asked again (once: the same words again are the
        # answer, and whatever answers "what would you like us to do?" is the wish).
        return {}
    if requested == "description":
        # Asked once: what the customer answers is kept, marked unverified when it tells no story; contact
        # details alone ("我叫李雷", "my number is ...") answer another question.
        if "description" in found or not text.strip() or only_details(text, structured):
            return {}
        return {"description": raw_text if is_email(tracker) else own_words(raw_text), "story_details": True}
    if requested == "story_details":
        # "Could you tell me more?" is asked once: whatever the answer, the question has had its turn; an outburst
        # ("垃圾公司") says how they feel, not what happened, and details alone answer another question.
        ended = is_skip(text) or is_no(text) or is_outburst(text)
        if "description" in found or only_details(text, structured) or ended:
            return {"story_details": True}
        if looks_like_a_name(text) and plausible_name(text) and not tracker.get_slot("customer_name"):
            return {"story_details": True, "customer_name": clean_name(text)}  # a name given instead
        words = raw_text if is_email(tracker) else own_words(raw_text)
        return {"story_details": True, "description": add_to_story(tracker.get_slot("description"), words)}
    if requested in ONCE_SLOTS:
        return answer_once(tracker, requested, text, raw_text, found)
    if requested in ("phone", "email") and not found.get("phone") and not found.get("email") and is_refusal(text):
        # A refusal is an answer, never a value: no phone -> ask for an email; neither -> register anyway.
        return {"phone_declined": True} if requested == "phone" else {"contact_declined": True}
    if requested == "desired_resolution" and not is_email(tracker):
        # The whole answer to "what would you like us to do?", in the customer's words.
        return {requested: own_words(raw_text)} if text.strip() else {}
    if requested in found or (requested == "phone" and "email" in found):
        return {}
    angry = "anger" in find_risk_flags(text)
    rest = _strip_finds(text, structured)
    text = normalize(text)
    if is_email(tracker):
        # An email reply is read, not taken whole: only a short line answers a question directly.
        if requested == "customer_name" and len(rest) <= 40 and "\n" not in rest.strip() and plausible_name(rest):
            return {"customer_name": clean_name(rest)}
        if requested == "desired_resolution" and _enough_words(rest):
            return {"desired_resolution": rest}
        return {}
    if requested == "customer_name":
        if angry or not rest:
            return {}
        return {"customer_name": clean_name(rest) if plausible_name(rest) else rest}
    if requested in ("phone", "email"):
        return {} if angry or not rest else {requested: text}
    if requested == "product":
        if angry:
            return {}
        product = product_from_answer(text)
        # Marked answered: the customer's choice, which more of the story does not read again.
        return {"product": product or text, "product_text": own_words(raw_text),
                "answered_slots": answered_with(tracker, "product")}
    if requested == "incident_time":
        times = find_times(text)
        if not times:
            # "I don't remember" is a (refused) answer; "please refund me" answered the other half of the question.
            if angry or "desired_resolution" in found:
                return {}
            return {"incident_time": text, "incident_time_text": own_words(raw_text)}
        answer: SlotValues = {}
        if not tracker.get_slot("desired_resolution") and "desired_resolution" not in found:
            # The question asked for both: what is left after the time is the wish.
            left = _strip_finds(text, times)
            filler = re.fullmatch(r"(?:大概|大约|应该是|好像是|差不多|about|around)", left)
            if left and _enough_words(left) and not filler:
                answer["desired_resolution"] = left
        if "incident_time" not in found:
            answer.update(incident_time=times[0].value, incident_time_text=times[0].value)
        return answer
    return {}


_DETAIL_LABELS = re.compile(
    r"我叫|我的名字[是叫]?|名字|姓名|本人|我是|联系方式|电话号码|电话|手机号码?|手机|号码|邮箱|电子邮件|资金账[号户]|账号|是|为|"
    r"(?i:\b(?:my|name|is|phone|mobile|number|email|e-mail|account|and|call me on|call me at|reach me at|i'm|i am|"
    r"this is)\b)"
)


def only_details(text: str, structured: list[Any]) -> bool:
    """A message that gives a name, a phone, an email or an account number and nothing else."""
    return bool(structured) and not re.search(r"\w", _DETAIL_LABELS.sub(" ", _strip_finds(text, structured)))


ANOTHER_QUESTIONS_ANSWER = ("desired_resolution", "incident_time", "phone", "email", "customer_name", "account_id")


# How an answer to "who was it?" or "where?" may start: "是客户经理王强", "有，柜员小李", "是在浦东营业部".
_ANSWER_LEAD = re.compile(r"^(?:有的?|有一个|有个)?[，,]?\s*(?:就是|应该是|好像是|大概是|可能是|是)?(?:在|于)?")


def answered_with(tracker: Tracker, slot: str) -> list[str]:
    """The questions answered so far (``answered_slots``), this one among them."""
    answered = list(tracker.get_slot("answered_slots") or [])
    return answered if slot in answered else [*answered, slot]


def answer_once(tracker: Tracker, requested: str, text: str, raw_text: str, found: SlotValues) -> SlotValues:
    """Where it happened, who was involved: any answer ends the question (不清楚, 线上, 没有, "not sure")."""
    answer: SlotValues = {"answered_slots": answered_with(tracker, requested)}
    roles = people_outside_wish(tracker.get_slot("description") or "") if requested == "people_involved" else None
    if roles and not tracker.get_slot(requested) and requested not in found:
        answer[requested] = roles  # the staff the story named by role stay when the answer names no one more
    another_answer = any(field in found for field in ANOTHER_QUESTIONS_ANSWER) or bool(find_wish(raw_text))
    names_it = requested in found or (requested == "place" and (is_online(text) or sounds_like_a_place(text))) or (
        requested == "people_involved" and sounds_like_a_person(text))
    if another_answer or not re.search(
            r"\w", _strip_finds(text, [*find_times(text), *find_phones(text), *find_emails(text)])):
        return answer  # a wish, a time or a contact given instead (a wish said twice too): no one and nowhere
    if not names_it and (is_skip(text) or "anger" in find_risk_flags(text)):
        return answer  # nothing to record, and not asked again
    if not names_it and "description" in found:
        return answer  # more of the story told instead: the question has had its turn
    # Asked where or who, the answer is kept as the customer said it: their words say it better than what is found
    # in them ("北京朝阳区望京那个营业部", "柜台的工作人员，工牌上写的沈丽"), also when the NLU hears more of the
    # story in it ("开户的营业部在深圳福田区那边"); the staff named before stay.
    words = _ANSWER_LEAD.sub("", own_words(raw_text)) or own_words(raw_text)
    if requested == "people_involved":
        words = with_more_people(tracker.get_slot(requested) or "", words)
    return {**answer, requested: words}


def answer_to_read_back(tracker: Tracker, text: str, found: SlotValues) -> SlotValues:
    """"对吗？" answered: yes registers the record; a correction changes its field and the record is read back
    again; a bare no asks what to change. After MAX_READ_BACKS the record is registered as it stands."""
    recorded = {slot: tracker.get_slot(slot) for slot in RECORD_SLOTS}
    corrected = any(value is not None and value != recorded.get(slot)
                    for slot, value in found.items() if slot in RECORD_SLOTS and slot != "description")
    read_backs = int(tracker.get_slot("read_backs") or 0)
    intent, _ = latest_intent(tracker)
    if not corrected and (is_yes(text) or (intent == "affirm" and not is_no(text))):
        return {"record_confirmed": True}
    if read_backs >= MAX_READ_BACKS:
        return {"record_confirmed": True}
    if not corrected and (is_no(text) or intent == "deny"):
        return {"refused_slot": "record_confirmed"}  # "which part should I change?"
    return {}


def language_of_turn(tracker: Tracker) -> str:
    """The customer's language: what this message is written in, else the gateway's metadata on the first
    message, else the language so far. A customer who switches language is followed; a message with no
    language of its own (an email address, digits, a date, "ok", an emoji, a name given when asked for one)
    never switches it."""
    text = latest_text(tracker)
    so_far = language_code(tracker.get_slot("language"))
    from_metadata = language_code(message_metadata(tracker).get("language"))
    detected = language_request(text) or detect_language(text)
    if detected and not language_request(text) and so_far and requested_slot(tracker) in (
            "customer_name", "place", "people_involved") and plausible_name(text) and len(clean_name(text)) <= 4:
        detected = None  # "王芳" as the answer to "May I have your name?" is a name, not a switch to Chinese
    return detected or so_far or from_metadata or DEFAULT_LANGUAGE


def script_of_turn(tracker: Tracker, language: str) -> str | None:
    """Traditional or Simplified characters, from what this message shows, else as so far."""
    if language != "zh":
        return tracker.get_slot("script")
    text = latest_text(tracker)
    told = None if text.startswith("/") else script_of(halfwidth(text))
    return told or tracker.get_slot("script") or HANS


def retry_once(tracker: Tracker, slot: str) -> SlotValues | None:
    """Refuses a slot's value the first time (its question comes again, with an example); None after that.

    A customer is never trapped in a loop: the caller keeps the second value and marks it unverified.
    """
    reasked = list(tracker.get_slot("reasked_slots") or [])
    if slot in reasked:
        return None
    return {slot: None, "reasked_slots": [*reasked, slot], "refused_slot": slot}


def keep_unverified(tracker: Tracker, slot: str, value: Any) -> SlotValues:
    unverified = list(tracker.get_slot("unverified") or [])
    return {slot: value, "unverified": unverified if slot in unverified else [*unverified, slot]}


def verified(tracker: Tracker, slot: str) -> list[str]:
    return [s for s in tracker.get_slot("unverified") or [] if s != slot]


# ---------------------------------------------------------------------------------------------------
# The record and the two payloads

def build_record(tracker: Tracker) -> dict[str, Any]:
    """The complaint record as the gateway expects it; unfilled fields are None."""
    record: dict[str, Any] = {slot: tracker.get_slot(slot) for slot in RECORD_SLOTS}
    record["language"] = current_language(tracker)
    record["script"] = current_script(tracker) if record["language"] == "zh" else None
    record["contact_declined"] = bool(tracker.get_slot("contact_declined")) and not (
        tracker.get_slot("phone") or tracker.get_slot("email"))
    record["unverified"] = list(tracker.get_slot("unverified") or [])
    record["phone_unverified"] = bool(tracker.get_slot("phone_unverified"))
    record["risk_flags"] = list(tracker.get_slot("risk_flags") or [])
    return record


def one_line(text: str, limit: int = 60) -> str:
    """The first sentence of the story, shortened to fit on one line."""
    line = " ".join(str(text).split())
    first = re.match(r"[^。！？!?\n]*[。！？!?]?", line)
    line = (first.group() if first and len(first.group()) >= 6 else line).rstrip("。.")
    return line if len(line) <= limit else line[: limit - 1] + "…"


def summary(tracker: Tracker, language: str, read_back: bool = False) -> str:
    """The record in a line: name, masked contact and account, service, when; with the story and the wish
    for the read-back."""
    names = labels.SUMMARY[language]
    colon = "：" if language == "zh" else ": "
    parts = []
    slots = ["customer_name", "phone", "email", "account_id", "product", "incident_time"]
    if read_back:
        slots += ["place", "people_involved", "description", "desired_resolution"]
    for slot in slots:
        value = tracker.get_slot(slot)
        if not value:
            if slot == "phone" and tracker.get_slot("contact_declined") and not tracker.get_slot("email"):
                parts.append(f"{names['contact']}{colon}{labels.CONTACT_DECLINED[language]}")
            continue
        if slot == "phone":
            value = mask_phone(value)
        elif slot == "email":
            value = mask_email(value)
        elif slot == "account_id":
            value = mask_account(value)
        elif slot == "product":
            value = labels.PRODUCTS[language].get(value, value)
            words = tracker.get_slot("product_text")
            if tracker.get_slot("product") == "other" and words:
                value = f"{value} ({words})"
        elif slot == "incident_time":
            words = tracker.get_slot("incident_time_text")
            value = f"{words} ({value})" if words and words != value else value
        elif slot == "description":
            value = one_line(value)
        parts.append(f"{names[slot]}{colon}{value}")
    return in_script(labels.SEPARATOR[language].join(parts), tracker)


def fresh_start(tracker: Tracker) -> list[EventType]:
    """Forget the finished intake but keep talking in the customer's language, on the same channel.

    A restart, not only a reset of the slots: Rasa then reads this conversation's history from here on, so a
    sender that is reused for intake after intake does not make every later turn slower.
    """
    return [Restarted(), SlotSet("language", current_language(tracker)), SlotSet("script", current_script(tracker)),
            SlotSet("channel", tracker.get_slot("channel")), SlotSet("extracted_message", message_stamp(tracker)),
            FollowupAction("action_listen")]


def hand_over(
    dispatcher: CollectingDispatcher, tracker: Tracker, reason: str, response: str
) -> list[EventType]:
    """Tells the gateway to queue the conversation for a person, with what is known so far."""
    dispatcher.utter_message(
        json_message={"event": "human_requested", "reason": reason, "record": build_record(tracker)}
    )
    dispatcher.utter_message(response=response)
    events: list[EventType] = [ActiveLoop(None)] if tracker.active_loop_name else []
    return events + fresh_start(tracker)


def previous_turn_events(tracker: Tracker) -> list[dict[str, Any]]:
    """The events between the customer's previous message and the latest one."""
    events = tracker.applied_events()
    turns = [i for i, event in enumerate(events) if event.get("event") == "user"]
    return events[turns[-2] + 1: turns[-1]] if len(turns) >= 2 else []


def is_hand_over(event: dict[str, Any]) -> bool:
    custom = (event.get("data") or {}).get("custom") if event.get("event") == "bot" else None
    return isinstance(custom, dict) and custom.get("event") == "human_requested"


def previous_turn_was_fallback(tracker: Tracker) -> bool:
    """True if the previous message was not understood either, and was not already handed over."""
    events = previous_turn_events(tracker)
    fell_back = any(e.get("event") == "action" and e.get("name") == FALLBACK_ACTION for e in events)
    return fell_back and not any(is_hand_over(e) for e in events)


# ---------------------------------------------------------------------------------------------------
# Actions

class ExtractFromMessage(Action):
    """Runs after every customer message: language, channel, risk flags and every record field it gives."""

    def name(self) -> str:
        return "action_validate_slot_mappings"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        stamp = message_stamp(tracker)
        if tracker.get_slot("extracted_message") == stamp:
            return []  # Rasa runs the extraction again when a form starts: this message is done
        values: SlotValues = {"extracted_message": stamp}
        # Only what changed: every event makes the conversation's history longer.
        language = language_of_turn(tracker)
        script = script_of_turn(tracker, language)
        channel = message_metadata(tracker).get("channel") or tracker.get_slot("channel")
        for slot, value in (("language", language), ("script", script), ("channel", channel), ("refused_slot", None)):
            if tracker.get_slot(slot) != value:
                values[slot] = value
                tracker.slots[slot] = value

        text = latest_text(tracker)
        known = list(tracker.get_slot("risk_flags") or [])
        new_flags = [] if text.startswith("/") else [f for f in find_risk_flags(text) if f not in known]
        if new_flags:
            values["risk_flags"] = known + new_flags
            tracker.slots["risk_flags"] = values["risk_flags"]

        values.update(read_message(tracker))
        values.update(self._prefill_contact(tracker, values))
        if values.get("description_told") and "description" in (tracker.get_slot("unverified") or []):
            values["unverified"] = verified(tracker, "description")  # the story came after all

        # Rasa renders responses with the slots as they were before this action: the first message's
        # language is not set yet, so the text is taken from the domain in the language just found.
        calm = ("utter_urgent_fraud" if "fraud" in new_flags
                else "utter_calm_threat" if any(flag in THREATS for flag in new_flags)
                else "utter_calm_anger" if "anger" in new_flags else None)
        if calm:
            dispatcher.utter_message(text=response_text(domain, calm, language, script or HANS))
        return [SlotSet(slot, value) for slot, value in values.items()]

    @staticmethod
    def _prefill_contact(tracker: Tracker, values: SlotValues) -> SlotValues:
        """Contacts the channel knows (an SMS sender's number, an email's From): used, never asked again."""
        prefill: SlotValues = {}
        phone = contact_field(tracker, "phone")
        if phone and not tracker.get_slot("phone") and "phone" not in values and normalize_phone(phone):
            prefill["phone"] = normalize_phone(phone)
        email = contact_field(tracker, "email")
        if email and not tracker.get_slot("email") and "email" not in values and normalize_email(email):
            prefill["email"] = normalize_email(email)
        name = contact_field(tracker, "name")
        if name and not tracker.get_slot("customer_name") and "customer_name" not in values and plausible_name(name):
            prefill["customer_name"] = clean_name(name)
        return prefill


class ValidateComplaintForm(FormValidationAction):
    """Checks names, phones, descriptions, products and times, once each message has been read."""

    def name(self) -> str:
        return "validate_complaint_form"

    async def required_slots(
        self, domain_slots: list[str], dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[str]:
        return required_slots_for(tracker.slots)

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        events = await super().run(dispatcher, tracker, domain)
        if is_interruption(tracker) and not resuming(tracker):
            # A request for a person, a status or an unrelated question: a rule answers it (keeping what
            # the message gave), then the form asks its question again.
            events.append(ActionExecutionRejected("complaint_form"))
        else:
            # Keeps the form running even when the message filled nothing it requires (an email instead of
            # a phone, an angry outburst): the form asks its question again.
            events.append(SlotSet("extracted_message", tracker.get_slot("extracted_message")))
        return events

    async def validate_customer_name(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> SlotValues:
        name = clean_name(str(slot_value))
        if plausible_name(name):
            return {"customer_name": name}
        return retry_once(tracker, "customer_name") or keep_unverified(
            tracker, "customer_name", normalize(str(slot_value))[:MAX_NAME_LENGTH])

    async def validate_phone(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> SlotValues:
        phone = normalize_phone(str(slot_value), tracker.get_slot("script"))
        if phone:
            return {"phone": phone, "phone_declined": False, "contact_declined": False}
        if tracker.get_slot("email"):
            return {"phone": None}  # an email is enough to reach the customer
        if is_refusal(str(slot_value)):
            return {"phone": None, "phone_declined": True}  # a refusal is never stored as a number
        retry = retry_once(tracker, "phone")
        if retry:
            return retry
        # Kept but flagged, so a complaint handler checks the number before calling: the digits typed, not the
        # words around them ("我的電話是63528190").
        typed = re.search(r"\+?[0-9][0-9 \-]{4,}[0-9]", halfwidth(str(slot_value)))
        kept = typed.group() if typed else normalize(str(slot_value))[:40]
        return {**keep_unverified(tracker, "phone", kept), "phone_unverified": True}

    async def validate_email(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> SlotValues:
        email = normalize_email(str(slot_value))
        if email:
            return {"email": email, "contact_declined": False}
        if is_refusal(str(slot_value)):
            return {"email": None, "contact_declined": True}  # neither phone nor email: registered anyway
        retry = retry_once(tracker, "email")
        if retry:
            return retry
        return {"email": None, "contact_declined": True, **keep_unverified(tracker, "email", None)}

    async def validate_description(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> SlotValues:
        description = str(slot_value).strip()
        if tracker.get_slot("description_told"):
            return {"description": description}
        # Asked once and answered without an account of events: kept in the customer's words, for a handler
        # to ask about.
        return keep_unverified(tracker, "description", description)

    async def validate_story_details(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> SlotValues:
        return {"story_details": True if slot_value else None}

    async def validate_product(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> SlotValues:
        product = str(slot_value) if slot_value in PRODUCT_KEYS else product_from_answer(str(slot_value))
        if product:
            return {"product": product}
        # Nothing fits: "other", with the customer's own words kept (product_text, set when it was read).
        return retry_once(tracker, "product") or keep_unverified(tracker, "product", "other")

    async def validate_incident_time(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> SlotValues:
        words = tracker.get_slot("incident_time_text") or str(slot_value)
        if ISO_TIME.fullmatch(str(slot_value)):
            return {"incident_time": str(slot_value), "incident_time_text": words}  # resolved when it was read
        resolved = resolve_time(str(slot_value), message_time(tracker))
        if resolved:
            return {"incident_time": resolved.iso(), "incident_time_text": words}
        retry = retry_once(tracker, "incident_time")
        if retry:
            return {**retry, "incident_time_text": None}
        return {**keep_unverified(tracker, "incident_time", normalize(words)), "incident_time_text": normalize(words)}

    async def validate_desired_resolution(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> SlotValues:
        wish = own_words(str(slot_value))
        return {"desired_resolution": wish or None}

    async def validate_record_confirmed(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> SlotValues:
        return {"record_confirmed": True if slot_value else None}


class AskForSlot(Action, ABC):
    """Asks for a slot of the complaint form in the customer's language.

    In email mode the one reply lists every missing field; a refused value is asked again with an example.
    """

    @property
    @abstractmethod
    def slot(self) -> str: ...

    def name(self) -> str:
        return f"action_ask_{self.slot}"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        language = current_language(tracker)
        if is_email(tracker):
            missing = missing_slots(tracker) or [self.slot]
            fields = labels.LIST_SEPARATOR[language].join(labels.FIELDS[language][s] for s in missing)
            dispatcher.utter_message(response="utter_email_missing", fields=in_script(fields, tracker))
            # Where and who are listed once: the reply ends those questions, whatever it says.
            listed = [s for s in missing if s in ONCE_SLOTS]
            answered = list(tracker.get_slot("answered_slots") or [])
            return [SlotSet("answered_slots", [*answered, *listed])] if listed else []
        if tracker.get_slot("refused_slot") == self.slot:
            dispatcher.utter_message(response=f"utter_invalid_{self.slot}")
        elif self.slot == "incident_time" and tracker.get_slot("desired_resolution") is None:
            dispatcher.utter_message(response="utter_ask_incident_time_and_resolution")
        else:
            dispatcher.utter_message(response=f"utter_ask_{self.slot}")
        return []


class AskForName(AskForSlot):
    slot = "customer_name"


class AskForPhone(AskForSlot):
    slot = "phone"


class AskForDescription(AskForSlot):
    slot = "description"


class AskForProduct(AskForSlot):
    slot = "product"


class AskForTime(AskForSlot):
    slot = "incident_time"


class AskForResolution(AskForSlot):
    slot = "desired_resolution"


class AskForStoryDetails(AskForSlot):
    """After a one-line account: what exactly happened, when, where, who, how much? Asked once."""

    slot = "story_details"


class AskForEmail(AskForSlot):
    """After "no phone": is there an email address instead?"""

    slot = "email"


class AskForPlace(AskForSlot):
    slot = "place"


class AskForPeople(AskForSlot):
    slot = "people_involved"


class AskForConfirmation(AskForSlot):
    """The read-back: name, masked contact, service, when, the story in a line, the wish; 对吗？"""

    slot = "record_confirmed"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        if tracker.get_slot("refused_slot") == self.slot:
            dispatcher.utter_message(response="utter_ask_correction")
            return []
        language = current_language(tracker)
        dispatcher.utter_message(response="utter_read_back", summary=summary(tracker, language, read_back=True))
        return [SlotSet("read_backs", float(int(tracker.get_slot("read_backs") or 0) + 1))]


class ActionAcknowledgeComplaint(Action):
    """An apology for the trouble, and the contact details the channel gave, so they are not asked again."""

    def name(self) -> str:
        return "action_acknowledge_complaint"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        dispatcher.utter_message(response="utter_complaint_acknowledged")
        if tracker.get_slot("contact_confirmed"):
            return []
        phone, email = contact_field(tracker, "phone"), contact_field(tracker, "email")
        known = tracker.get_slot("phone") if phone and tracker.get_slot("phone") == normalize_phone(phone) else None
        contact = mask_phone(known) if known else None
        if not contact and email and tracker.get_slot("email") == normalize_email(email):
            contact = mask_email(tracker.get_slot("email"))
        if contact:
            dispatcher.utter_message(response="utter_contact_confirmed", contact=contact)
            return [SlotSet("contact_confirmed", True)]
        return []


class ActionSubmitComplaint(Action):
    """Hands the finished record to the gateway, which opens the case and adds its number."""

    def name(self) -> str:
        return "action_submit_complaint"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        if "fraud" in (tracker.get_slot("risk_flags") or []):
            return hand_over(dispatcher, tracker, "high_risk", "utter_handoff_high_risk")
        dispatcher.utter_message(json_message={"event": "case_ready", "record": build_record(tracker)})
        language = current_language(tracker)
        dispatcher.utter_message(response="utter_complaint_recorded", summary=summary(tracker, language))
        return fresh_start(tracker)


class ActionOutOfScope(Action):
    """A question that is not a complaint: the hotline (SERVICE_HOTLINE), and an offer to record a complaint."""

    def name(self) -> str:
        return "action_out_of_scope"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        response = "utter_out_of_scope_in_form" if tracker.active_loop_name else "utter_out_of_scope"
        hotline = f" {SETTINGS.hotline}" if SETTINGS.hotline else ""
        dispatcher.utter_message(response=response, hotline=hotline)
        return []


class ActionRequestHuman(Action):
    """The customer asked for a person, in or outside the complaint form."""

    def name(self) -> str:
        return "action_request_human"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        return hand_over(dispatcher, tracker, "customer_request", "utter_handoff")


class ActionHandleFallback(Action):
    """Asks to rephrase once; a second message in a row that is not understood goes to a person."""

    def name(self) -> str:
        return FALLBACK_ACTION

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        # Also the policies' core fallback, for which no rule predicts listening next.
        listen = FollowupAction("action_listen")
        if previous_turn_was_fallback(tracker):
            return hand_over(dispatcher, tracker, "fallback", "utter_handoff_fallback")
        dispatcher.utter_message(response="utter_default")
        return [listen]


class ActionCheckStatus(Action):
    """Tells a customer the status of the case whose number they give, from the gateway's bot API."""

    def name(self) -> str:
        return "action_check_status"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        found = entity_values(tracker, "case_id") or [
            m.group() for m in CASE_ID.finditer(halfwidth(latest_text(tracker)))]
        if not found and not tracker.active_loop_name and asked_for_case_number(tracker):
            # Asked for the number and given none again ("没有，这是新的投诉"): a new complaint, not a status.
            dispatcher.utter_message(response="utter_complaint_acknowledged")
            return [FollowupAction("complaint_form")]
        if not found:
            dispatcher.utter_message(response="utter_ask_case_id")
            return []
        case_id, language = found[0].upper(), current_language(tracker)
        answer = await fetch_status(case_id)
        if answer is None:
            dispatcher.utter_message(response="utter_case_status_unavailable")
        elif answer.get("status") == "not_found":
            dispatcher.utter_message(response="utter_case_not_found", case_id=case_id)
        else:
            status = str(answer.get("status"))
            deadline = ""
            respond_by = answer.get("respond_by")
            if respond_by and status in ("queued", "claimed", "reopened", "collecting"):
                deadline = response_text(domain, "utter_case_deadline", language).format(
                    date=format_date(str(respond_by), language))
            dispatcher.utter_message(response="utter_case_status", case_id=case_id,
                                     status=labels.STATUSES[language].get(status, status), deadline=deadline)
        return []


def asked_for_case_number(tracker: Tracker) -> bool:
    """The previous message was a status question without a case number, so the bot asked for one."""
    return any(e.get("event") == "action" and e.get("name") == "action_check_status"
               for e in previous_turn_events(tracker))


async def fetch_status(case_id: str) -> dict[str, Any] | None:
    """GET {GATEWAY_URL}/bot/cases/{id}/status; {"status": "not_found"} on 404, None if it cannot be asked."""
    base, token = os.environ.get("GATEWAY_URL", "").rstrip("/"), os.environ.get("GATEWAY_BOT_TOKEN", "")
    if not base or not token:
        log.warning("case status asked, but GATEWAY_URL or GATEWAY_BOT_TOKEN is not set")
        return None
    try:
        async with aiohttp.ClientSession(timeout=STATUS_TIMEOUT) as session, session.get(
            f"{base}/bot/cases/{case_id}/status", headers={"X-Bot-Token": token}
        ) as response:
            if response.status == 404:
                return {"status": "not_found"}
            if response.status != 200:
                log.warning("case status lookup answered %s", response.status)
                return None
            body = await response.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        log.warning("case status lookup failed: %s", type(exc).__name__)
        return None
    return body if isinstance(body, dict) and body.get("status") else None


def format_date(value: str, language: str) -> str:
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return value
    return f"{when:%Y年%m月%d日}" if language == "zh" else f"{when.day} {when:%B %Y}"
