"""The mail test servers (tests/support/mail_servers.py): a real Dovecot and an SMTP sink behave as promised."""

from __future__ import annotations

import asyncio
import imaplib
import socket
import ssl
import time
from email.message import EmailMessage

import aioimaplib
import aiosmtplib
import pytest

# Load the fixtures as a plugin; register the module for assertion rewriting first, since it is imported here too.

pytest.register_assert_rewrite("tests.support.mail_servers")

from tests.support.mail_servers import (  # noqa: E402
    Dovecot,
    MailUser,
    SmtpSink,
    crlf,
    imap_utf7_decode,
    imap_utf7_encode,
    new_user,
)

RAW = (
    "From: Wang Fang <wang.fang@example.org>\n"
    "To: complaints@example.test\n"
    "Subject: =?utf-8?b?5oqV6K+J77ya6LSm5oi35Ya757uT?=\n"
    "Message-ID: <c1@example.org>\n"
    "MIME-Version: 1.0\n"
    "Content-Type: text/plain; charset=utf-8\n"
    "Content-Transfer-Encoding: 8bit\n"
    "\n"
    "我的账户被冻结了。\r\n"
    "Line with a bare CR\rand trailing spaces   \n"
    ".a line starting with a dot\n"
).encode()


def email_message(subject: str = "Complaint reply", to: str = "wang.fang@example.org") -> EmailMessage:
    message = EmailMessage()
    message["From"] = "complaints@example.test"
    message["To"] = to
    message["Subject"] = subject
    message.set_content("您好，我们已收到您的投诉。\n")
    return message


# ------------------------------------------------------------------------------------------------------- Dovecot


def test_plain_port_offers_starttls_and_refuses_login_before_it(dovecot: Dovecot, mailbox: MailUser) -> None:
    with imaplib.IMAP4(dovecot.host, dovecot.imap_port, timeout=10) as conn:
        assert conn.welcome.startswith(b"* OK")
        assert "STARTTLS" in conn.capabilities
        if not dovecot.refuses_plaintext:
            pytest.skip("127.0.0.2 unusable here: Dovecot counts loopback as secure and allows LOGIN without TLS")
        assert "LOGINDISABLED" in conn.capabilities
        with pytest.raises(imaplib.IMAP4.error):
            conn.login(mailbox.name, mailbox.password)


def test_starttls_login_and_capabilities(dovecot: Dovecot, mailbox: MailUser) -> None:
    with imaplib.IMAP4(dovecot.host, dovecot.imap_port, timeout=10) as conn:
        conn.starttls(dovecot.ssl_context())
        assert "AUTH=PLAIN" in conn.capabilities and "AUTH=LOGIN" in conn.capabilities
        conn.login(mailbox.name, mailbox.password)
        status, data = conn.capability()
        assert status == "OK"
        capabilities = set(data[0].decode().split())
        assert {"IDLE", "MOVE", "UIDPLUS"} <= capabilities


def test_implicit_tls_login_needs_the_certificate_trusted(dovecot: Dovecot, mailbox: MailUser) -> None:
    assert dovecot.ca_file.is_file()
    with imaplib.IMAP4_SSL(dovecot.host, dovecot.imaps_port, ssl_context=dovecot.ssl_context(), timeout=10) as conn:
        assert conn.login(mailbox.name, mailbox.password)[0] == "OK"
    with pytest.raises(ssl.SSLCertVerificationError):
        imaplib.IMAP4_SSL(dovecot.host, dovecot.imaps_port, ssl_context=ssl.create_default_context(), timeout=10)
    unverified = ssl.create_default_context()
    unverified.check_hostname = False
    unverified.verify_mode = ssl.CERT_NONE
    with imaplib.IMAP4_SSL(dovecot.host, dovecot.imaps_port, ssl_context=unverified, timeout=10) as conn:
        assert conn.login(mailbox.name, mailbox.password)[0] == "OK"


def test_wrong_password_is_refused_without_slowing_the_next_login(dovecot: Dovecot, mailbox: MailUser) -> None:
    for _ in range(3):
        began = time.monotonic()
        with (imaplib.IMAP4_SSL(dovecot.host, dovecot.imaps_port, ssl_context=dovecot.ssl_context()) as conn,
              pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED")):
            conn.login(mailbox.name, "not-the-password")
        assert time.monotonic() - began < 1.0  # Dovecot answers queued failures twice a second
    began = time.monotonic()
    with imaplib.IMAP4_SSL(dovecot.host, dovecot.imaps_port, ssl_context=dovecot.ssl_context()) as conn:
        assert conn.login(mailbox.address.upper(), mailbox.password)[0] == "OK"  # full address, any case
    assert time.monotonic() - began < 0.5  # no per-IP penalty after the failures


def test_new_users_and_password_changes_need_no_reload(dovecot: Dovecot) -> None:
    users = [new_user(dovecot) for _ in range(3)]
    for user in users:
        with dovecot.session(user.name):
            pass
    dovecot.add_user(users[0].name, "a-new-password")
    with (imaplib.IMAP4_SSL(dovecot.host, dovecot.imaps_port, ssl_context=dovecot.ssl_context()) as conn,
          pytest.raises(imaplib.IMAP4.error)):
        conn.login(users[0].name, users[0].password)
    with pytest.raises(ValueError):
        dovecot.add_user("Bad:Name", "x")


def test_deliver_then_list_messages_gives_the_same_bytes(mailbox: MailUser) -> None:
    assert mailbox.address == f"{mailbox.name}@example.test"
    assert mailbox.list_messages() == []
    first = mailbox.deliver(RAW)
    second = mailbox.deliver(RAW.replace(b"c1@", b"c2@"), flags=["\\Seen", "\\Flagged"])
    assert second > first
    messages = mailbox.list_messages()
    assert [(m.uid, m.flags) for m in messages] == [(first, ()), (second, ("\\Flagged", "\\Seen"))]
    uid, flags, raw = messages[0]  # a StoredMessage unpacks like a tuple
    assert (uid, flags) == (first, ())
    assert raw == crlf(RAW)
    assert raw.replace(b"\r\n", b"\n") == RAW.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    assert messages[0].message["Subject"] == "投诉：账户冻结"
    assert mailbox.list_messages()[0].flags == ()  # listing does not mark messages read


def test_folders_are_created_by_the_client_not_the_server(dovecot: Dovecot, mailbox: MailUser) -> None:
    assert mailbox.folders() == ["INBOX"]
    with pytest.raises(imaplib.IMAP4.error):
        mailbox.list_messages("Processed")
    mailbox.deliver(RAW, folder="Processed")
    mailbox.deliver(RAW, folder="已处理/2024")
    assert mailbox.folders() == sorted(["INBOX", "Processed", "已处理", "已处理/2024"])
    assert len(mailbox.list_messages("已处理/2024")) == 1
    with dovecot.session(mailbox.name) as conn:  # the same names the way a client sees them on the wire
        listed = [item for item in conn.list('""', '"*"')[1] if isinstance(item, bytes)]
        assert rb'(\HasNoChildren) "/" &XfJZBHQG-/2024' in listed
        assert rb'(\Noselect \HasChildren) "/" &XfJZBHQG-' in listed  # a parent made on the way


def test_modified_utf7_folder_names() -> None:
    assert imap_utf7_encode("台北/日本語") == "&U,BTFw-/&ZeVnLIqe-"  # RFC 3501's example
    assert imap_utf7_encode("已处理") == "&XfJZBHQG-"
    for name in ("INBOX", "A & B", "已处理", "Ärger/投诉 2024", "&"):
        assert imap_utf7_decode(imap_utf7_encode(name)) == name


async def test_aioimaplib_client_gets_an_idle_push_on_delivery(dovecot: Dovecot, mailbox: MailUser) -> None:
    client = aioimaplib.IMAP4_SSL(host=dovecot.host, port=dovecot.imaps_port, ssl_context=dovecot.ssl_context())
    await client.wait_hello_from_server()
    assert (await client.login(mailbox.name, mailbox.password)).result == "OK"
    selected = await client.select("INBOX")
    assert selected.result == "OK"
    assert b"0 EXISTS" in selected.lines
    idle = await client.idle_start(timeout=10)
    began = time.monotonic()
    await asyncio.to_thread(mailbox.deliver, RAW)
    push = await client.wait_server_push(timeout=5)
    assert b"1 EXISTS" in push
    assert time.monotonic() - began < 3
    client.idle_done()
    assert (await asyncio.wait_for(idle, 5)).result == "OK"
    fetched = await client.uid("fetch", "1:*", "(UID FLAGS)")
    assert fetched.result == "OK"
    await client.logout()


def test_kill_and_restart_keep_the_mail(fresh_dovecot: Dovecot) -> None:
    server = fresh_dovecot
    user = new_user(server)
    uid = user.deliver(RAW)
    ports = (server.imap_port, server.imaps_port)
    open_session = imaplib.IMAP4_SSL(server.host, server.imaps_port, ssl_context=server.ssl_context(), timeout=5)
    open_session.login(user.name, user.password)

    server.kill()
    assert not server.running
    assert server._group_members() == []
    with pytest.raises((OSError, imaplib.IMAP4.abort)):
        open_session.noop()
    with pytest.raises(ConnectionRefusedError), socket.create_connection((server.host, server.imaps_port), timeout=2):
        pass

    server.restart()
    assert (server.imap_port, server.imaps_port) == ports
    assert [(m.uid, m.raw) for m in user.list_messages()] == [(uid, crlf(RAW))]
    assert user.deliver(RAW) > uid
    server.stop()
    assert server._group_members() == []


def test_private_server_options() -> None:
    with Dovecot(separator=".", auto_create=("Processed", "Quarantine")) as server:
        user = new_user(server)
        assert user.folders() == ["INBOX", "Processed", "Quarantine"]
        user.deliver(RAW, folder="Processed.2024")
        with server.session(user.name) as conn:
            assert any(b'"." "Processed.2024"' in item or b'"." Processed.2024' in item
                       for item in conn.list('""', '"*"')[1] if isinstance(item, bytes))
    assert not server.root.exists()


# ------------------------------------------------------------------------------------------------------ SMTP sink


async def test_sink_receives_a_message(smtp_sink: SmtpSink) -> None:
    errors, response = await aiosmtplib.send(email_message(), hostname=smtp_sink.host, port=smtp_sink.port)
    assert errors == {} and response.startswith("2.0.0")
    [received] = await smtp_sink.wait_for(1)
    assert received.mail_from == "complaints@example.test"
    assert received.rcpt_tos == ["wang.fang@example.org"]
    assert received.message["Subject"] == "Complaint reply"
    assert received.message.get_content() == "您好，我们已收到您的投诉。\n"
    assert received.raw.startswith(b"From: complaints@example.test\r\n")
    assert received.login is None
    with pytest.raises(TimeoutError):
        await smtp_sink.wait_for(2, timeout=0.2)


async def test_sink_requires_and_checks_auth() -> None:
    with SmtpSink(username="gateway", password="s3cret") as sink:
        with pytest.raises(aiosmtplib.SMTPResponseException) as refused:
            await aiosmtplib.send(email_message(), hostname=sink.host, port=sink.port)
        assert refused.value.code == 530
        with pytest.raises(aiosmtplib.SMTPAuthenticationError) as wrong:
            await aiosmtplib.send(email_message(), hostname=sink.host, port=sink.port,
                                  username="gateway", password="wrong")
        assert wrong.value.code == 535
        await aiosmtplib.send(email_message(), hostname=sink.host, port=sink.port,
                              username="gateway", password="s3cret")
        [received] = await sink.wait_for(1)
        assert received.login == "gateway"
        *failed, succeeded = sink.auth_attempts  # aiosmtplib tries PLAIN, then LOGIN, before giving up
        assert failed and all(login == "gateway" and not ok for _, login, ok in failed)
        assert succeeded[1:] == ("gateway", True)


async def test_sink_down_refuses_and_up_accepts_on_the_same_port(smtp_sink: SmtpSink) -> None:
    port = smtp_sink.port
    smtp_sink.down()
    assert not smtp_sink.is_up
    with pytest.raises(aiosmtplib.SMTPConnectError):
        await aiosmtplib.send(email_message(), hostname=smtp_sink.host, port=port, timeout=5)
    smtp_sink.up()
    assert smtp_sink.port == port
    await aiosmtplib.send(email_message(), hostname=smtp_sink.host, port=port, timeout=5)
    assert len(await smtp_sink.wait_for(1)) == 1


async def test_sink_fail_next_answers_451_once(smtp_sink: SmtpSink) -> None:
    smtp_sink.fail_next(1)
    with pytest.raises(aiosmtplib.SMTPResponseException) as failed:
        await aiosmtplib.send(email_message("first"), hostname=smtp_sink.host, port=smtp_sink.port)
    assert failed.value.code == 451
    assert "try again later" in failed.value.message
    await aiosmtplib.send(email_message("second"), hostname=smtp_sink.host, port=smtp_sink.port)
    [accepted] = await smtp_sink.wait_for(1)
    assert accepted.message["Subject"] == "second"
    assert [m.message["Subject"] for m in smtp_sink.refused] == ["first"]


@pytest.mark.parametrize("tls", ["starttls", "implicit"])
async def test_sink_over_tls(tls: str) -> None:
    with SmtpSink(username="gateway", password="s3cret", tls=tls) as sink:  # type: ignore[arg-type]
        await aiosmtplib.send(email_message(), hostname=sink.host, port=sink.port, username="gateway",
                              password="s3cret", use_tls=tls == "implicit", start_tls=tls == "starttls",
                              tls_context=sink.ssl_context())
        [received] = await sink.wait_for(1)
        assert received.login == "gateway"
        if tls == "starttls":  # AUTH only after STARTTLS
            with pytest.raises(aiosmtplib.SMTPException):
                await aiosmtplib.send(email_message(), hostname=sink.host, port=sink.port, username="gateway",
                                      password="s3cret", start_tls=False)
