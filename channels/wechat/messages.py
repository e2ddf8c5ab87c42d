"""WeChat's message XML: read with entities off, turned into the gateway's words, and the passive reply written.

Guarantees:
- a document with a DOCTYPE (so with any entity: XXE, "billion laughs") or that is not well-formed is refused
  with ``BadXml`` before anything is read from it; only the predefined entities (&amp; …) and CDATA are read;
- text, voice (its ``Recognition`` is the customer's words), image, video, location and link messages become
  words and attachment metadata; any other type is left to the caller (``customer_words`` gives None), never
  an error.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping

from channels.message import Attachment

REQUIRED = ("ToUserName", "FromUserName", "CreateTime", "MsgType")
# OpenIDs are 28 characters of base64url; the bound keeps Redis keys and logs sane whatever comes in.
_OPENID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_NUMBER = re.compile(r"[0-9]{1,20}")


class BadXml(ValueError):
    """The body is not a WeChat message document; the text says why, for the 400."""


class _DoctypeRefused(Exception):
    pass


class _NoDoctype(ET.TreeBuilder):
    """A tree builder that stops at a DOCTYPE: entities can only be declared there."""

    def doctype(self, name: str, pubid: str, system: str) -> None:
        raise _DoctypeRefused


def parse(body: bytes) -> dict[str, str]:
    """The text of each top-level element of a WeChat ``<xml>`` document, by name (the first of a repeated one)."""
    parser = ET.XMLParser(target=_NoDoctype())
    try:
        parser.feed(body)
        root = parser.close()
    except _DoctypeRefused:
        raise BadXml("a DOCTYPE is not allowed in a WeChat message (entities are refused)") from None
    except ET.ParseError as exc:
        raise BadXml(f"the body is not well-formed XML ({exc})") from None
    if root.tag != "xml":
        raise BadXml(f"a WeChat message is an <xml> document, not <{root.tag[:40]}>")
    fields: dict[str, str] = {}
    for child in root:
        fields.setdefault(str(child.tag), child.text or "")
    return fields


def check_message(fields: Mapping[str, str]) -> None:
    """Refuse (``BadXml``) a message without the fields every WeChat message has, or with impossible ones."""
    missing = [name for name in REQUIRED if not fields.get(name, "").strip()]
    if missing:
        raise BadXml(f"the message has no {', '.join(missing)}")
    if not _OPENID.fullmatch(fields["FromUserName"]):
        raise BadXml("FromUserName is not an OpenID")
    if not _NUMBER.fullmatch(fields["CreateTime"].strip()):
        raise BadXml("CreateTime is not a number")
    if "MsgId" in fields and not _NUMBER.fullmatch(fields["MsgId"].strip()):
        raise BadXml("MsgId is not a number")


def message_id(fields: Mapping[str, str]) -> str:
    """WeChat's id for telling retries apart: MsgId, or for events (which have none) their time and name."""
    if msg_id := fields.get("MsgId", "").strip():
        return msg_id
    return f"{fields['MsgType'].strip()}:{fields.get('Event', '').strip()[:40]}:{fields['CreateTime'].strip()}"


def customer_words(fields: Mapping[str, str]) -> tuple[str, tuple[Attachment, ...]] | None:
    """What the customer said and sent, for the message types the gateway reads; None for any other."""
    kind, media = fields["MsgType"].strip(), fields.get("MediaId", "").strip()
    if kind == "text":
        return fields.get("Content", ""), ()
    if kind == "voice":
        heard = fields.get("Recognition", "").strip()
        audio = fields.get("Format", "amr").strip().lower() or "amr"
        return heard, (Attachment(f"voice-{media}.{audio}", f"audio/{audio}", 0, text=heard or None),)
    if kind == "image":
        return "", (Attachment(f"image-{media}.jpg", "image/jpeg", 0, url=fields.get("PicUrl") or None),)
    if kind in ("video", "shortvideo"):
        return "", (Attachment(f"{kind}-{media}.mp4", "video/mp4", 0),)
    if kind == "location":
        label = fields.get("Label", "").strip()
        where = f"{label} ({fields.get('Location_X', '')}, {fields.get('Location_Y', '')})".strip()
        return label, (Attachment("location", "text/plain", 0, text=where),)
    if kind == "link":
        parts = [fields.get(name, "").strip() for name in ("Title", "Description", "Url")]
        url = parts[2] or None
        return "\n".join(p for p in parts if p), (Attachment(parts[0] or "link", "text/html", 0, url=url),)
    return None


def text_reply(fields: Mapping[str, str], content: str, create_time: int) -> str:
    """A passive reply: a text message back to the sender (FromUserName and ToUserName swapped)."""
    return (f"<xml><ToUserName>{cdata(fields['FromUserName'])}</ToUserName>"
            f"<FromUserName>{cdata(fields['ToUserName'])}</FromUserName><CreateTime>{create_time}</CreateTime>"
            f"<MsgType><![CDATA[text]]></MsgType><Content>{cdata(content)}</Content></xml>")


def cdata(text: str) -> str:
    """``text`` as a CDATA section; a "]]>" inside it is split across two sections."""
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"
