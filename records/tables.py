"""The tables of the system of record: cases, their messages and audit events, the purges, the handlers'
accounts with the audit trail of every change made to them, and when each unit's monthly register was produced.

Redis is the working store; these tables are what compliance relies on for five years. A case row keeps the
columns that search and reports filter and count on, and the whole case document as the API shows it (without
messages and events, which have tables of their own). Times are stored in UTC.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Index, Integer, LargeBinary, Numeric, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

UtcDateTime = DateTime(timezone=True)
# Made by migration 0002, outside the models: an expression index, and PostgreSQL's trigram index for search.
SEARCH_INDEX_NAMES = frozenset({"ix_cases_email_lower", "ix_cases_search_text_trgm"})


def managed_by_models(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    """For Alembic's comparison of database and models: leave out the search indexes the models do not declare."""
    return not (type_ == "index" and reflected and compare_to is None and name in SEARCH_INDEX_NAMES)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, datetime: UtcDateTime}


class CaseRow(Base):
    __tablename__ = "cases"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    channel: Mapped[str] = mapped_column(String(16), index=True)
    language: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16), index=True)
    priority: Mapped[str] = mapped_column(String(8))
    risk_grade: Mapped[str] = mapped_column(String(8), index=True)
    risk_score: Mapped[int] = mapped_column(Integer)
    product: Mapped[str | None] = mapped_column(String(64), index=True)
    handoff_reason: Mapped[str | None] = mapped_column(String(64))
    customer_name: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(64), index=True)
    email: Mapped[str | None] = mapped_column(String(320), index=True)
    account_id: Mapped[str | None] = mapped_column(String(64), index=True)
    assignee: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[str | None] = mapped_column(String(32))
    satisfaction: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(index=True)
    updated_at: Mapped[datetime]
    acknowledge_by: Mapped[datetime | None]
    respond_by: Mapped[datetime | None]
    # When a handler first claimed it, first answered it (resolve), and closed it: for handling-time reports.
    acknowledged_at: Mapped[datetime | None]
    answered_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    # Lower-cased description, names, contacts and the customer's words, for free-text search.
    search_text: Mapped[str] = mapped_column(Text, default="")
    document: Mapped[dict[str, Any]]
    # For the register (记录表) and the quarterly analysis (migration 0006): when the complaint came in (every
    # deadline and the unit's monthly register count from it), the unit that received it, the department that
    # handles it, its nature, the staff involved, whether a return visit saw the corrective measures carried
    # out (None: no measures), the compensation of the answer given, and a handler's "typical case" flag.
    received_at: Mapped[datetime | None] = mapped_column(index=True)
    unit: Mapped[str | None] = mapped_column(String(64), index=True)
    department: Mapped[str | None] = mapped_column(String(64), index=True)
    nature: Mapped[str | None] = mapped_column(String(32), index=True)
    staff_involved: Mapped[str | None] = mapped_column(String(200), index=True)
    measures_verified: Mapped[bool | None] = mapped_column(Boolean)
    compensation_amount: Mapped[Decimal | None] = mapped_column(Numeric(18, 2))
    compensation_currency: Mapped[str | None] = mapped_column(String(3))
    typical: Mapped[bool] = mapped_column(Boolean, default=False)


class MessageRow(Base):
    __tablename__ = "case_messages"

    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime | None]
    sender: Mapped[str] = mapped_column(String(16))  # the message's "from": customer, bot, agent, system
    channel: Mapped[str | None] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text, default="")
    document: Mapped[dict[str, Any]]  # the whole entry, attachments' metadata included


class EventRow(Base):
    __tablename__ = "case_events"
    __table_args__ = (Index("ix_case_events_action_at", "action", "at"),)

    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    before: Mapped[str | None] = mapped_column(String(16))
    after: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str | None] = mapped_column(Text)


class PurgeRow(Base):
    """A retention purge: what, when, by whom, how many. Purges are themselves never purged."""

    __tablename__ = "purges"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime]
    by: Mapped[str] = mapped_column(String(64))
    cutoff: Mapped[datetime]
    cases: Mapped[int] = mapped_column(Integer)
    messages: Mapped[int] = mapped_column(Integer)
    events: Mapped[int] = mapped_column(Integer)
    case_ids: Mapped[dict[str, Any]]  # {"ids": [...]}: exactly which records went


class AttachmentRow(Base):
    """A file a customer sent, once however many messages carried it: named by the SHA-256 of its content."""

    __tablename__ = "attachments"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    content_type: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(Integer)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    stored_at: Mapped[datetime]


class CaseAttachmentRow(Base):
    """Which case holds which file, under the name it came with; purged with the case."""

    __tablename__ = "case_attachments"

    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True)
    sha256: Mapped[str] = mapped_column(ForeignKey("attachments.sha256"), primary_key=True, index=True)
    name: Mapped[str] = mapped_column(String(255), primary_key=True)


class AccountRow(Base):
    """A complaint handler's account. ``revision`` grows with every change (the working store in Redis only
    takes a newer one); ``epoch`` grows when the password is reset or the account disabled, ending its sessions."""

    __tablename__ = "accounts"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))
    languages: Mapped[dict[str, Any]]  # {"desks": ["zh", "en"]}
    password_hash: Mapped[str] = mapped_column(String(256))
    unit: Mapped[str] = mapped_column(String(64), default="hq")  # the unit the handler works in (ORG_FILE)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    revision: Mapped[int] = mapped_column(Integer, default=1)
    epoch: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class AccountEventRow(Base):
    """Who changed whose account, when, and what (never a password or its hash). Kept like the purges."""

    __tablename__ = "account_events"
    __table_args__ = (Index("ix_account_events_target_at", "target", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    target: Mapped[str] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]]  # {"before": {...}, "after": {...}}


class CannedReplyRow(Base):
    """An answer template supervisors approved, for handlers to start from (checked for forbidden phrases)."""

    __tablename__ = "canned_replies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    language: Mapped[str] = mapped_column(String(8))
    title: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    by: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime]


class RegisterRunRow(Base):
    """A unit's monthly register (记录表) produced as a file: which unit and month, in what format, by whom, when,
    how many cases. Head office is alerted when a unit's month has none by the third trading day after it."""

    __tablename__ = "register_runs"
    __table_args__ = (Index("ix_register_runs_month_unit", "month", "unit"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    unit: Mapped[str] = mapped_column(String(64))
    month: Mapped[str] = mapped_column(String(7))  # 2026-11
    format: Mapped[str] = mapped_column(String(8))
    by: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime]
    cases: Mapped[int] = mapped_column(Integer)
