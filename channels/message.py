"""The one vocabulary every channel speaks: normalized inbound and outbound messages.

Adapters translate a provider's request into an ``InboundMessage`` and deliver an ``OutboundMessage``;
nothing provider-specific crosses this line. Both are immutable and round-trip through JSON so they can
be recorded in Redis before a provider is acknowledged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

Sender = Literal["customer", "bot", "agent", "system"]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Contact:
    """What a channel knows about the customer before anyone asks (SMS number, email From)."""

    name: str | None = None
    phone: str | None = None
    email: str | None = None

    def to_dict(self) -> dict[str, str | None]:
        return {"name": self.name, "phone": self.phone, "email": self.email}

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Contact:
        data = data or {}
        return cls(name=data.get("name"), phone=data.get("phone"), email=data.get("email"))


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file that came with a message: where it is (``url``), or, for small text such as a call
    transcript, the ``text`` itself."""

    name: str
    content_type: str
    size: int
    url: str | None = None
    text: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "content_type": self.content_type, "size": self.size, "url": self.url,
                "text": self.text}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Attachment:
        return cls(data["name"], data["content_type"], int(data["size"]), data.get("url"), data.get("text"))


@dataclass(frozen=True, slots=True)
class Button:
    title: str
    payload: str

    def to_dict(self) -> dict[str, str]:
        return {"title": self.title, "payload": self.payload}


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """A customer's message as received on any channel.

    ``conversation_key`` addresses the thread within its channel (a web chat session id, a phone number,
    an email thread); ``message_id`` is the provider's own id, the key for deduplicating retries.
    ``command`` is set when the channel itself asks for something instead of passing on words: "handoff"
    means the customer must go to a person now (a caller the bot cannot hear), "hangup" that the customer is
    gone (a call ended) and the intake becomes a case as it stands, "note" a machine's word on the record.
    """

    channel: str
    conversation_key: str
    message_id: str
    text: str
    received_at: datetime = field(default_factory=utc_now)
    language: str | None = None
    contact: Contact = field(default_factory=Contact)
    attachments: tuple[Attachment, ...] = ()
    command: str | None = None

    @property
    def conversation_id(self) -> str:
        return f"{self.channel}:{self.conversation_key}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "channel": self.channel,
            "conversation_key": self.conversation_key,
            "message_id": self.message_id,
            "command": self.command,
            "text": self.text,
            "received_at": self.received_at.isoformat(),
            "language": self.language,
            "contact": self.contact.to_dict(),
            "attachments": [a.to_dict() for a in self.attachments],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> InboundMessage:
        return cls(
            channel=data["channel"],
            conversation_key=data["conversation_key"],
            message_id=data["message_id"],
            text=data["text"],
            received_at=datetime.fromisoformat(data["received_at"]),
            language=data.get("language"),
            contact=Contact.from_dict(data.get("contact")),
            attachments=tuple(Attachment.from_dict(a) for a in data.get("attachments", ())),
            command=data.get("command"),
        )


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    """Something to deliver to a customer on the channel of their conversation.

    ``case_id``/``case_status`` announce a case to the customer; ``automatic`` marks text the customer
    did not get from a person (bot and holding replies), which channels such as email label as such.
    ``in_reply_to`` is the provider id of the inbound message this answers, so a channel that replies
    inside the provider's own request (TwiML) can pick up exactly the answers to that request. ``once`` names
    what the delivery stands for (a router step and the message it answers): delivered again with the same
    name after a fault, a channel that keeps what it sent (the web chat's stream) adds nothing.
    """

    channel: str
    conversation_key: str
    text: str
    sender: Sender
    buttons: tuple[Button, ...] = ()
    case_id: str | None = None
    case_status: str | None = None
    automatic: bool = True
    in_reply_to: str | None = None
    sent_at: datetime = field(default_factory=utc_now)
    once: str | None = None

    @property
    def conversation_id(self) -> str:
        return f"{self.channel}:{self.conversation_key}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "channel": self.channel,
            "conversation_key": self.conversation_key,
            "text": self.text,
            "sender": self.sender,
            "in_reply_to": self.in_reply_to,
            "buttons": [b.to_dict() for b in self.buttons],
            "case_id": self.case_id,
            "case_status": self.case_status,
            "automatic": self.automatic,
            "sent_at": self.sent_at.isoformat(),
            "once": self.once,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OutboundMessage:
        return cls(
            channel=data["channel"],
            conversation_key=data["conversation_key"],
            text=data["text"],
            sender=data["sender"],
            buttons=tuple(Button(b["title"], b["payload"]) for b in data.get("buttons", ())),
            case_id=data.get("case_id"),
            case_status=data.get("case_status"),
            automatic=data.get("automatic", True),
            in_reply_to=data.get("in_reply_to"),
            sent_at=datetime.fromisoformat(data["sent_at"]),
            once=data.get("once"),
        )
