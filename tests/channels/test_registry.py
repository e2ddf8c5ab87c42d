"""The channel registry: adapters declare themselves, and the rest of the gateway reads the declarations.

Adding a channel is its folder (with its settings class), one line in ``channels.ADAPTERS`` and one among
``ChannelSettings``'s bases: no other module names an adapter's channel or its settings, the app builds whichever
adapters their settings turn on, and ``GET /api/channels`` tells the consoles.
"""

from __future__ import annotations

import ast
import contextlib
import dataclasses
import logging
import re
from collections.abc import AsyncIterator, Iterable, Iterator
from pathlib import Path
from typing import Any, get_type_hints

import pytest
from aiohttp import web
from redis.asyncio import Redis

from channels import ADAPTERS, ChannelSettings
from channels.base import Adapter, Capabilities, ChannelInfo, Inbox
from channels.message import OutboundMessage
from gateway import keys
from gateway.app import build_channels, create_app
from gateway.channel_list import assistant_names, declared, names
from gateway.settings import Settings, SettingsError
from handoff import labels
from handoff.registration import STAFF_CHANNELS
from tests.conftest import PASSWORD, login

ROOT = Path(__file__).resolve().parent.parent.parent
ADAPTER_NAMES = frozenset(adapter.info.name for adapter in ADAPTERS)
CONSOLE_SCRIPTS = ("gateway/console_static/agent.js", "gateway/records_static/records.js")
# Where an adapter's name may still stand as a literal, because there it means something else that is stored
# data and must keep its spelling. Each entry: the file, the names, and what they are there.
EXCEPTIONS: dict[str, tuple[frozenset[str], str]] = {
    "handoff/desk.py": (frozenset({"sms", "email", "webchat"}), "how staff made a return visit: a stored value"),
    "gateway/openapi.py": (frozenset({"sms", "email", "webchat"}), "the return-visit methods, in the API schema"),
    "gateway/router.py": (frozenset({"transcript"}), "the Redis key of an intake's running transcript"),
    "records/synthetic.py": (ADAPTER_NAMES, "seeded synthetic cases: their fixed mix of channel codes"),
    "handoff/cases.py": (frozenset({"email"}), "the customer's email address field"),
    "handoff/registration.py": (frozenset({"email"}), "the customer's email address field"),
    "records/export.py": (frozenset({"email"}), "the customer's email address field"),
    "records/migrations/versions/0001_record_tables.py": (frozenset({"email"}), "the email address column"),
    "gateway/console_static/agent.js": (frozenset({"email"}), "the customer's email address field"),
}


# --- no module outside channels/ names an adapter's channel ------------------------------------------------


def _field_names(tree: ast.AST) -> set[int]:
    """The string constants that name a field rather than hold a value: dict keys, subscripts, ``.get("x")``,
    and docstrings (prose)."""
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            found.update(id(key) for key in node.keys if key is not None)
        elif isinstance(node, ast.Subscript):
            found.add(id(node.slice))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get":
            found.update(id(arg) for arg in node.args[:1])
        elif isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            first = node.body[0] if node.body else None
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def python_literals(path: Path, watched: Iterable[str]) -> Iterator[tuple[int, str]]:
    """Where the module holds one of ``watched`` as a whole string literal (as a value, not a field name)."""
    wanted = set(watched)
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    skip = _field_names(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and node.value in wanted and id(node) not in skip:
            yield node.lineno, str(node.value)


def script_literals(path: Path, watched: Iterable[str]) -> Iterator[tuple[int, str]]:
    """Where the script holds one of ``watched`` as a whole quoted string."""
    wanted = set(watched)
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        for match in re.finditer(r"""(['"`])([\w-]+)\1""", line):
            if match.group(2) in wanted:
                yield number, match.group(2)


def named_outside_channels(root: Path, watched: frozenset[str]) -> list[str]:
    found = []
    for package in ("gateway", "handoff", "records"):
        for path in sorted((root / package).rglob("*.py")):
            found += [f"{path.relative_to(root)}:{line} {name!r}" for line, name in python_literals(path, watched)]
    for script in CONSOLE_SCRIPTS:
        found += [f"{script}:{line} {name!r}" for line, name in script_literals(root / script, watched)]
    return found


def _excepted(finding: str) -> bool:
    place, _, name = finding.partition(" ")
    allowed = EXCEPTIONS.get(place.partition(":")[0])
    return allowed is not None and name.strip("'") in allowed[0]


def test_no_module_outside_channels_names_an_adapters_channel() -> None:
    assert [f for f in named_outside_channels(ROOT, ADAPTER_NAMES) if not _excepted(f)] == []


def test_every_exception_is_still_needed() -> None:
    found = named_outside_channels(ROOT, ADAPTER_NAMES)
    for path, (allowed, why) in EXCEPTIONS.items():
        named = {f.partition(" ")[2].strip("'") for f in found if f.startswith(f"{path}:")}
        assert named, f"{path} ({why}) no longer names a channel: drop the exception"
        assert allowed == ADAPTER_NAMES or named == allowed, f"{path} ({why}) names only {sorted(named)}"


def test_the_check_sees_a_value_and_passes_a_field_name(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text('"""About sms."""\nX = ("sms", 1)\nY = {"sms": 1}\nZ = d.get("sms") or d["sms"]\n'
                      'if c == "sms":\n    pass\n', encoding="utf-8")
    assert list(python_literals(module, {"sms"})) == [(2, "sms"), (5, "sms")]
    script = tmp_path / "s.js"
    script.write_text("var a = 'sms';\nvar b = 'vm_sms';\nif (c === \"sms\") {}\n", encoding="utf-8")
    assert list(script_literals(script, {"sms"})) == [(1, "sms"), (3, "sms")]


# --- the declarations --------------------------------------------------------------------------------------


def test_each_adapter_declares_a_unique_name_its_titles_and_what_turns_it_on() -> None:
    infos = [adapter.info for adapter in ADAPTERS]
    assert len({info.name for info in infos}) == len(infos)
    fields = {f.metadata["env"] for f in dataclasses.fields(Settings)}
    for info in infos:
        assert info.title_zh and info.title_en, info
        assert set(info.needs) <= fields, info  # named as the environment spells them
    assert not set(ADAPTER_NAMES) & set(STAFF_CHANNELS)


def settings_class(adapter: Adapter[ChannelSettings]) -> type:
    """The class of the settings an adapter is built from: what its ``from_settings`` takes."""
    found: type = get_type_hints(adapter.from_settings)["settings"]
    return found


def env_names(settings: type) -> set[str]:
    return {f.metadata["env"] for f in dataclasses.fields(settings)}


def test_each_adapter_is_turned_on_by_settings_of_its_own_and_the_registry_combines_them() -> None:
    for adapter in ADAPTERS:
        own = settings_class(adapter)
        assert dataclasses.is_dataclass(own) and issubclass(ChannelSettings, own), adapter.info.name
        assert set(adapter.info.needs) <= env_names(own), adapter.info.name
        assert "__slots__" not in vars(own), f"{own.__name__}: slotted bases cannot be combined"


def test_the_gateways_settings_module_names_no_channel_setting() -> None:
    """A channel's settings are declared in its folder: adding one leaves gateway/settings.py alone."""
    text = (ROOT / "gateway" / "settings.py").read_text(encoding="utf-8")
    channel_names = set().union(*(env_names(settings_class(adapter)) for adapter in ADAPTERS))
    assert channel_names, "the adapters declare their settings"
    assert sorted(name for name in channel_names if re.search(rf"\b{name}\b", text)) == []
    assert env_names(ChannelSettings) <= env_names(Settings)


def test_a_channels_own_check_runs_with_the_gateways(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="WECHAT_AES_KEY"):
        Settings.from_env({"WECHAT_AES_KEY": "short"})
    settings = Settings.from_env({}, data_dir=tmp_path)
    with pytest.raises(SettingsError, match="WECHAT_AES_KEY"):
        dataclasses.replace(settings, wechat_aes_key="k" * 44)
    with pytest.raises(SettingsError, match="SMS_REPLY_WAIT"):
        dataclasses.replace(settings, sms_reply_wait=-1.0)
    assert dataclasses.replace(settings, wechat_aes_key="k" * 43).wechat_aes_key == "k" * 43


def test_capabilities_say_which_channels_survey_come_after_the_fact_and_cannot_be_answered_later() -> None:
    can = {adapter.info.name: adapter.info.capabilities for adapter in ADAPTERS}
    assert {name for name, c in can.items() if c.survey} == {"webchat", "sms", "email", "wechat"}
    assert {name for name, c in can.items() if c.batch} == {"transcript"}
    assert {name for name, c in can.items() if not c.answer_later} == {"voice", "transcript"}
    assert {name: c.reply_deadline for name, c in can.items() if c.reply_deadline} == {"wechat": 5.0}


def test_the_staff_ways_in_have_names_and_the_register_assistants_leave_out_transcripts() -> None:
    assert set(labels.STAFF_CHANNELS) == set(STAFF_CHANNELS)
    assert set(names(declared())) == set(ADAPTER_NAMES) | set(STAFF_CHANNELS)
    assert set(assistant_names(declared())) == set(ADAPTER_NAMES) - {"transcript"}


# --- the app builds what the settings turn on --------------------------------------------------------------


TWILIO = {"twilio_account_sid": "AC" + "0" * 32, "twilio_auth_token": "token"}
EMAIL = {"imap_host": "imap.example.com", "imap_user": "desk", "smtp_host": "smtp.example.com",
         "mail_from": "desk@example.com"}
WECHAT = {"wechat_token": "token", "wechat_app_id": "wx1", "wechat_app_secret": "secret"}


@pytest.mark.parametrize(("given", "on"), [
    ({}, {"webchat"}),
    (TWILIO, {"webchat", "sms", "voice"}),
    ({"transcripts_token": "t"}, {"webchat", "transcript"}),
    (EMAIL, {"webchat", "email"}),
    ({**EMAIL, "mail_from": ""}, {"webchat"}),
    (WECHAT, {"webchat", "wechat"}),
    ({**TWILIO, **EMAIL, **WECHAT, "transcripts_token": "t"}, set(ADAPTER_NAMES)),
])
def test_only_the_channels_whose_settings_are_present_are_on(given: dict[str, Any], on: set[str]) -> None:
    built, off = build_channels(Settings(**given), ADAPTERS)
    assert set(built) == on and set(off) == set(ADAPTER_NAMES) - on
    assert all(channel.name == name for name, channel in built.items())
    if "email" in off:
        assert off["email"] == "set IMAP_HOST, IMAP_USER, SMTP_HOST and MAIL_FROM to turn it on"


async def test_the_start_says_which_channels_are_off_and_what_turns_them_on(
    aiohttp_client: Any, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="gateway.app"):
        await aiohttp_client(create_app(dataclasses.replace(settings, transcripts_token="t")))
    said = caplog.text
    assert "channels on: transcript, webchat" in said
    assert "channel sms is off: set TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN to turn it on" in said
    assert "channel wechat is off: set WECHAT_TOKEN, WECHAT_APP_ID and WECHAT_APP_SECRET to turn it on" in said


# --- GET /api/channels --------------------------------------------------------------------------------------


async def test_the_channel_list_is_every_adapter_in_order_then_the_staff_ways_in(
    aiohttp_client: Any, settings: Settings
) -> None:
    app = create_app(settings)
    client = await aiohttp_client(app)
    assert (await client.get("/api/channels")).status == 401
    await app[keys.AGENTS].add("ann", PASSWORD, "agent")
    listed = (await (await client.get("/api/channels", headers=await login(client, "ann"))).json())["channels"]
    assert [c["name"] for c in listed] == [a.info.name for a in ADAPTERS] + list(STAFF_CHANNELS)
    chat = listed[0]
    assert chat == {"name": "webchat", "title": {"zh": "网页在线", "en": "web chat"}, "adapter": True, "on": True,
                    "capabilities": {"survey": True, "batch": False, "answer_later": True, "reply_deadline": None,
                                     "writes_to_phone": False}}
    assert {c["name"] for c in listed if c["adapter"] and c["on"]} == {"webchat"}
    letter = next(c for c in listed if c["name"] == "letter")
    assert letter == {"name": "letter", "title": {"zh": "来信", "en": "letter"}, "adapter": False, "on": True,
                      "capabilities": None}


# --- a new adapter is one class and one line --------------------------------------------------------------


class Pigeon:
    """A channel no module of the gateway knows: served once it is in the list the app is given."""

    name = "pigeon"
    info = ChannelInfo(name, "飞鸽", "carrier pigeon", needs=("PIGEON_LOFT",), capabilities=Capabilities())

    def __init__(self) -> None:
        self.sent: list[OutboundMessage] = []

    @classmethod
    def from_settings(cls, settings: ChannelSettings) -> Pigeon:
        return cls()

    def routes(self) -> list[web.AbstractRouteDef]:
        return [web.get("/channels/pigeon", self._loft)]

    async def _loft(self, request: web.Request) -> web.Response:
        return web.Response(text="coo")

    @contextlib.asynccontextmanager
    async def running(self, redis: Redis, inbox: Inbox) -> AsyncIterator[None]:
        yield

    async def send(self, message: OutboundMessage) -> None:
        self.sent.append(message)


async def test_an_adapter_in_the_list_is_served_and_listed_without_touching_another_file(
    aiohttp_client: Any, settings: Settings
) -> None:
    app = create_app(settings, adapters=(*ADAPTERS, Pigeon))
    client = await aiohttp_client(app)
    assert await (await client.get("/channels/pigeon")).text() == "coo"
    await app[keys.AGENTS].add("ann", PASSWORD, "agent")
    listed = (await (await client.get("/api/channels", headers=await login(client, "ann"))).json())["channels"]
    pigeon = next(c for c in listed if c["name"] == "pigeon")
    assert pigeon["title"] == {"zh": "飞鸽", "en": "carrier pigeon"} and pigeon["on"] is True
