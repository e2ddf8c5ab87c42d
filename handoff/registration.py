"""A complaint registered by staff: a walk-in, a letter, the branch's comment book, a call they took, a
regulator's referral. The same checks as the bot's (phonenumbers, email-validator, dates), each refusal naming
the field, so nothing half-valid reaches the record.

``registration(body, org, now)`` turns the API's JSON into the arguments of ``CaseStore.create``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from handoff.cases import CaseError
from handoff.org import Org

STAFF_CHANNELS = ("in_person", "letter", "comment_book", "phone", "referral")
PRODUCTS = ("brokerage_account", "online_trading", "margin_trading", "funds_wealth", "ipo_subscription",
            "bank_securities_transfer", "fees_commissions", "dividends_corporate_actions", "branch_service", "other")
PHONE_REGION = "CN"  # a number without a country code is a mainland number, as the bot reads it
LATE_AFTER = timedelta(hours=1)  # a received_at further back than this needs a reason
OLDEST = timedelta(days=366)  # further back is not a late registration but a new complaint about an old matter
MAX_TEXT = 10_000
MAX_SCAN_BYTES = 700 * 1024  # a scanned letter or form, within the API's 1 MB body


class InvalidField(CaseError):
    def __init__(self, name: str, why: str) -> None:
        super().__init__(f"'{name}': {why}")
        self.field = name


@dataclass(frozen=True, slots=True)
class Registration:
    channel: str
    language: str
    unit: str
    received_at: datetime
    customer: dict[str, Any]
    complaint: dict[str, Any]
    preliminary_opinion: str | None
    late_reason: str | None = None
    attachment: tuple[dict[str, Any], bytes] | None = field(default=None)  # the entry, and the content


def registration(body: dict[str, Any], org: Org, now: datetime, zone: str = "Asia/Shanghai") -> Registration:
    channel = _choice(body, "channel", STAFF_CHANNELS)
    language = _choice(body, "language", ("zh", "en"))
    unit = _text(body, "unit") or org.head_office.id
    if unit not in org:
        raise InvalidField("unit", f"no unit {unit!r} (GET /api/units lists them)")
    received_at = _moment(body.get("received_at"), "received_at", zone) or now
    if received_at > now + timedelta(minutes=1):
        raise InvalidField("received_at", "is in the future")
    if received_at < now - OLDEST:
        raise InvalidField("received_at", "is more than a year ago: register it as received today, and say in the "
                                          "description when it first came in")
    late_reason = _text(body, "late_reason")
    if received_at < now - LATE_AFTER and not late_reason:
        raise InvalidField("late_reason", "a complaint received earlier than now needs the reason it is "
                                          "registered late")
    return Registration(channel, language, unit, received_at, _customer(body.get("customer")),
                        _complaint(body.get("complaint"), now, zone), _text(body, "preliminary_opinion"),
                        late_reason, _attachment(body.get("attachment")))


def _attachment(value: Any) -> tuple[dict[str, Any], bytes] | None:
    """A scanned letter or form: ``{"name", "content_type", "content_base64"}``, kept by content hash."""
    if value is None:
        return None
    given = _object(value, "attachment")
    try:
        content = base64.b64decode(str(given.get("content_base64") or ""), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidField("attachment.content_base64", "is the file in base64") from None
    if not content:
        raise InvalidField("attachment.content_base64", "is the file in base64")
    if len(content) > MAX_SCAN_BYTES:
        raise InvalidField("attachment", f"is at most {MAX_SCAN_BYTES // 1024} KB")
    name = _text(given, "name", "attachment.name") or "scan"
    content_type = _text(given, "content_type", "attachment.content_type") or "application/octet-stream"
    digest = hashlib.sha256(content).hexdigest()
    entry = {"name": name[:255], "content_type": content_type[:255], "size": len(content),
             "url": f"attachment:{digest}"}
    return entry, content


def _customer(value: Any) -> dict[str, Any]:
    given = _object(value, "customer")
    phone = _text(given, "phone", "customer.phone")
    email = _text(given, "email", "customer.email")
    account = _text(given, "account_id", "customer.account_id")
    if account and not re.fullmatch(r"[0-9A-Za-z-]{4,32}", account):
        raise InvalidField("customer.account_id", "is 4-32 letters, digits or '-'")
    return {
        "name": _text(given, "name", "customer.name"),
        "phone": _phone(phone) if phone else None,
        "email": _email(email) if email else None,
        "account_id": account,
        "contact_declined": given.get("contact_declined") is True,
    }


def _complaint(value: Any, now: datetime, zone: str) -> dict[str, Any]:
    given = _object(value, "complaint")
    description = _text(given, "description", "complaint.description")
    if not description:
        raise InvalidField("complaint.description", "is required: what happened, in the customer's words")
    product = _text(given, "product", "complaint.product")
    if product and product not in PRODUCTS:
        raise InvalidField("complaint.product", f"is one of {', '.join(PRODUCTS)}")
    incident = _text(given, "incident_time", "complaint.incident_time")
    if incident:
        moment = _moment(incident, "complaint.incident_time", zone)
        if moment is not None and moment > now + timedelta(minutes=1):
            raise InvalidField("complaint.incident_time", "is in the future")
    return {
        "description": description,
        "product": product,
        "incident_time": incident,
        "incident_time_text": _text(given, "incident_time_text", "complaint.incident_time_text") or incident,
        "place": _text(given, "place", "complaint.place"),
        "people_involved": _text(given, "people_involved", "complaint.people_involved"),
        "desired_resolution": _text(given, "desired_resolution", "complaint.desired_resolution"),
    }


def _phone(text: str) -> str:
    compact = re.sub(r"[\s\-().]", "", text)
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    try:
        number = phonenumbers.parse(compact, PHONE_REGION)
    except phonenumbers.NumberParseException:
        number = None
    international = compact.startswith("+") and not compact.startswith("+86")
    if number is None or not re.fullmatch(r"\+?[0-9]{7,15}", compact) or not (
            phonenumbers.is_valid_number(number) or (international and phonenumbers.is_possible_number(number))):
        raise InvalidField("customer.phone", f"{text!r} is not a phone number (a mainland mobile, or +country)")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _email(text: str) -> str:
    try:
        return str(validate_email(text, check_deliverability=False).normalized)
    except EmailNotValidError as exc:
        raise InvalidField("customer.email", str(exc)) from None


def _moment(value: Any, name: str, zone: str) -> datetime | None:
    """An ISO 8601 date or date and time (a date alone is its start; no zone is the desk's own)."""
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise InvalidField(name, "is an ISO 8601 date or date and time, e.g. 2026-11-18T09:35")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        try:
            day = date.fromisoformat(value)
        except ValueError:
            raise InvalidField(name, "is an ISO 8601 date or date and time, e.g. 2026-11-18T09:35") from None
        moment = datetime(day.year, day.month, day.day)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(zone))
    return moment.astimezone(UTC)


def _choice(body: dict[str, Any], name: str, choices: tuple[str, ...]) -> str:
    value = body.get(name)
    if value not in choices:
        raise InvalidField(name, f"is one of {', '.join(choices)}")
    return str(value)


def _object(value: Any, name: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidField(name, "is a JSON object")
    return value


def _text(given: dict[str, Any], key: str, name: str | None = None) -> str | None:
    value = given.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidField(name or key, "is text")
    if len(value) > MAX_TEXT:
        raise InvalidField(name or key, f"is at most {MAX_TEXT} characters")
    return value.strip() or None
