"""Email parsing against real-world mail (``../shared/corpus/email/``, see its README) and mangled MIME.

Every expectation below is one the corpus README states for that file. Python's email package alone
(``BytesParser(policy=policy.default)`` and ``get_body``) gets the files in ``STDLIB_GETS_WRONG`` wrong;
``test_the_stdlib_alone_gets_these_wrong`` keeps that list honest.
"""

from __future__ import annotations

import binascii
import re
import string
from datetime import UTC, datetime
from email import policy
from email.parser import BytesParser
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from channels.email.html_text import html_to_text
from channels.email.parse import (
    CASE_ID_ALPHABET,
    ParsedEmail,
    normalize_subject,
    parse,
    safe_filename,
    to_inbound,
)
from channels.email.quotes import extract_reply
from handoff.ids import ALPHABET, new_case_id

CORPUS = Path(__file__).resolve().parents[4] / "shared" / "corpus" / "email"
HAVE_CORPUS = CORPUS.is_dir()
needs_corpus = pytest.mark.skipif(not HAVE_CORPUS, reason=f"the real-world corpus is not at {CORPUS}")
# Without the corpus the parametrized tests still get one (skipped) case each, so the reason shows.
EML = sorted(p.relative_to(CORPUS).as_posix() for p in CORPUS.rglob("*.eml")) if HAVE_CORPUS else ["missing"]
HTML_REPLIES = sorted(CORPUS.glob("reply-quote/talon_html_replies/*.html")) if HAVE_CORPUS else [CORPUS]

# Python's email package alone, on these files: what it does wrong.
STDLIB_GETS_WRONG = {
    "charset/flanker__charset-gb2312.eml": "raw GB2312 bytes in Subject and From come back as U+FFFD",
    "malformed/mikelmail__invalid_subject_characters.eml": "raw Latin-1 bytes in Subject come back as U+FFFD",
    "bounce/sisimai__lhost-exchange2007-04.eml": "ISO-2022-JP Subject split mid escape sequence stays undecoded",
    "bounce/pystdlib__msg_25.eml": "boundary parameter cut off: no parts, the delivery status is lost",
    "malformed/pystdlib__msg_31.eml": "declared boundary differs from the one used: no parts, no text",
    "malformed/pystdlib__msg_41.eml": "multipart without a boundary: get_body() finds no text",
    "malformed/pystdlib__msg_15.eml": "inner multipart reuses the outer boundary: the GIF after it is lost",
}

MACHINE = {
    "auto-reply/chatwoot__non_utf_encoded_mail.eml": {"auto_reply"},
    "auto-reply/flanker__disposition-notification.eml": {"mdn"},
    "auto-reply/sisimai__rb-issue-368-bug.eml": {"auto_reply", "bounce"},  # the README accepts either
    "auto-reply/sisimai__rfc3834-01.eml": {"auto_reply"},
    "auto-reply/sisimai__rfc3834-02.eml": {"auto_reply"},
    "auto-reply/sisimai__rfc3834-03.eml": {"auto_reply"},
    "auto-reply/sisimai__rfc3834-04.eml": {"auto_reply"},
    "auto-reply/sisimai__rfc3834-05.eml": {"auto_reply"},
    "auto-reply/sisimai__rfc3834-06.eml": {"auto_reply"},
    "bounce/flanker__bounce-broken-mime.eml": {"bounce"},
    "bounce/flanker__bounce-delayed.eml": {"delay"},
    "bounce/flanker__bounce-gmail-invalid-address.eml": {"bounce"},
    "bounce/flanker__bounce-mailbox-full.eml": {"bounce"},
    "bounce/flanker__bounce-zed.eml": {"bounce"},
    "bounce/flanker__complaints-aol.eml": {"arf"},
    "bounce/flanker__complaints-yahoo.eml": {"arf"},
    "bounce/mikelmail__multi_address_bounce1.eml": {"bounce"},
    "bounce/mikelmail__multipart_report_multiple_status.eml": {"bounce"},
    "bounce/mikelmail__report_422.eml": {"delay"},
    "bounce/pystdlib__msg_05.eml": {"bounce"},
    "bounce/pystdlib__msg_16.eml": {"bounce"},
    "bounce/pystdlib__msg_25.eml": {"bounce"},
    "bounce/pystdlib__msg_43.eml": {"bounce"},
    "bounce/sisimai__arf-01.eml": {"arf"},
    "bounce/sisimai__dos__rhost-apple-01.eml": {"bounce"},
    "bounce/sisimai__lhost-exchange2007-04.eml": {"bounce"},
    "bounce/sisimai__lhost-exim-01.eml": {"bounce"},
    "bounce/sisimai__lhost-ezweb-01.eml": {"bounce"},
    "bounce/sisimai__lhost-gmail-01.eml": {"bounce"},
    "bounce/sisimai__lhost-postfix-01.eml": {"bounce"},
    "bounce/sisimai__lhost-qmail-01.eml": {"bounce"},
    "bounce/sisimai__mac__rhost-apple-01.eml": {"bounce"},
    "bounce/sisimai__rhost-tencent-01.eml": {"bounce"},
}

SUBJECTS = {
    "charset/flanker__charset-gb2312.eml": "提示：您的企业成员暂时无法登录邮件客户端",
    "charset/lkml__gb2312_outlook_reply_dafu.eml":
        "答复: [RFC PATCHv2] block: set bdi congested when no tag available",
    "charset/mikelmail__japanese.eml": "まみむめも",
    "charset/mikelmail__japanese_iso_2022.eml": "まみむめも",
    "charset/mikelmail__utf8_headers.eml": "Säying Hello",
    "charset/flanker__bilingual-simple.eml": "Simple text. How are you? Как ты поживаешь?",
    "bounce/flanker__complaints-yahoo.eml": "FW:Some subject",
    "bounce/sisimai__lhost-exchange2007-04.eml": "Undeliverable: キジトラ・フラッシュ/ニャーン",
    "auto-reply/sisimai__rfc3834-01.eml": "Away until May 5",
    "auto-reply/sisimai__rfc3834-02.eml": "Automatic reply: Nyaan",
    "auto-reply/sisimai__rfc3834-03.eml": "Auto reply: Nyaan",
    "auto-reply/sisimai__rfc3834-04.eml": "Automatic reply: Nyaan",
    "auto-reply/sisimai__rfc3834-05.eml": "kitununulinitoquekegu",
    "auto-reply/sisimai__rfc3834-06.eml": "AutoRespons :Nyaan?",
    "auto-reply/chatwoot__non_utf_encoded_mail.eml": "أهلين عميلنا الكريم ",
    "auto-reply/sisimai__rb-issue-368-bug.eml": "email bounce notification",
    "reply-quote/mikelmail__raw_email_reply.eml": "Re: Test reply email",
    "reply-quote/pystdlib__msg_33.eml": "Re: Limiting Perl CPU Utilization...",
    "forward/mikelmail__attachment_with_encoded_name.eml": "Fwd: Signed email causes file attachments",
    "forward/pystdlib__msg_46.eml": "GroupwiseForwardingTest",
    "attachment/mikelmail__attachment_pdf.eml": "Another PDF with 🎉 Unicode chars in it 🍿",
    "attachment/mikelmail__content_transfer_encoding_x_uuencode.eml": "PGP Comments on RTO West Release of Dec. 14",
    "html-only/flanker__long-links.eml": "Please enjoy this mega long link",
    "malformed/mikelmail__bad_encoded_subject.eml": "TEST",
    "malformed/mikelmail__invalid_subject_characters.eml":
        "Formação FrenetikPolis: Mega Campanha Final Verão | Cursos de Setembro",
    "misc/sisimai__is-not-bounce-01.eml": "にゃんこ",
}

SENDERS = {
    "charset/flanker__charset-gb2312.eml": ("腾讯企业邮箱", "10000@qq.com"),
    "charset/lkml__gb2312_outlook_reply_dafu.eml": ("黄朝阳 (Zhaoyang Huang)", "zhaoyang.huang@unisoc.com"),
    "charset/mikelmail__utf8_headers.eml": ("Jöhn Doe", "jdöe@mächine.example"),
    "auto-reply/chatwoot__non_utf_encoded_mail.eml": ("متجر سوق نت", "example@gmail.com"),
    "bounce/pystdlib__msg_43.eml": ("MAILER DAEMON", ""),
    "malformed/mikelmail__invalid_subject_characters.eml": ("Formação Frenetikpolis", "info@formacaofrenetik.info"),
}

# The whole body as text, exactly.
TEXTS = {
    "charset/mikelmail__japanese_iso_2022.eml": "すみません。",
    "charset/mikelmail__japanese_shift_jis.eml":
        "あいうえお\n\nこのメールはテスト用のメールです。\n\n今後ともよろしくお願い申し上げます！",
    "charset/mikelmail__ks_c_5601-1987.eml": "스티해",
    "charset/mikelmail__utf8_headers.eml": "body",
    "charset/flanker__bilingual-simple.eml": "This line is in English\nА эта линия по-русски.",
    "auto-reply/sisimai__rfc3834-03.eml": "I'm only sleeping.",
    "auto-reply/chatwoot__non_utf_encoded_mail.eml": "أنظروا، أنا أحتاجها فقط لتقوم بالتدقيق في مقالتي الشخصية",
    "reply-quote/mikelmail__raw_email_reply.eml": "Message body",
    "reply-quote/pystdlib__msg_33.eml": "part 1",
    "forward/flanker__enclosed.eml": "Hello",
    "forward/sisimai__is-not-bounce-02.eml": "it shouldn't be considered as bounce",
    "forward/mikelmail__attachment_message_rfc822.eml": "This is the first part.",
    "attachment/flanker__attached-pdf.eml": "Test - body content",
    "malformed/flanker__missing-final-boundary.eml": "Some body",
    "malformed/pystdlib__msg_15.eml": "Some removed test.",
    "malformed/pystdlib__msg_31.eml": "message 1\n\nmessage 2",
    "malformed/pystdlib__msg_41.eml": "Blah blah blah",
    "misc/sisimai__is-not-bounce-01.eml": "にゃーーーーーーーーーーー",
}

# talon's test_standard_replies: the reply with quoted history removed (signature kept), exactly.
TALON_REPLIES = {
    "reply-quote/talon__android.eml": "Hello",
    "reply-quote/talon__aol.eml": "Hello",
    "reply-quote/talon__apple_mail.eml": "Hello",
    "reply-quote/talon__comcast.eml": "Hello",
    "reply-quote/talon__gmail.eml": "Hello",
    "reply-quote/talon__hotmail.eml": "Hello",
    "reply-quote/talon__iphone.eml": "Hello\n\nSent from my iPhone",
    "reply-quote/talon__outlook.eml": "Hello",
    "reply-quote/talon__sparrow.eml": "Hello \n\n-- \nxxx\nSent with Sparrow (http://www.sparrowmailapp.com/?sig)",
    "reply-quote/talon__thunderbird.eml": "Hello",
    "reply-quote/talon__yahoo.eml": "Hello",
}

# The new text of a reply: history and signature removed, exactly.
NEW_TEXTS = {
    **{name: "Hello" for name in TALON_REPLIES},
    "charset/lkml__gb2312_outlook_reply_dafu.eml":
        "ok. What i am trying to solve is introducing reclaim throttle when excessive number of IOs consume all "
        "tags on hwctx. It is could be introduced by page thrashing or access of mapped lib files.",
    "charset/mikelmail__japanese.eml": "かきくえこ",
    "reply-quote/chatwoot__mail_with_quote.eml": "Yes, I am providing you step how to reproduce this issue",
}

ATTACHMENTS = {
    "attachment/mikelmail__attachment_pdf.eml": [("broken.pdf", "application/pdf")],
    "attachment/mikelmail__attachment_nonascii_filename.eml": [("ciële.txt", "text/plain")],
    "attachment/mikelmail__japanese_attachment.eml": [("てすと.txt", "text/plain")],
    "attachment/mikelmail__content_transfer_encoding_x_uuencode.eml":
        [("PGP_Cmts_on_12-14-01_Pkg.doc", "application/msword")],
    "attachment/flanker__attached-pdf.eml": [("test.pdf", "application/pdf")],
    "attachment/pystdlib__msg_07.eml": [("dingusfish.gif", "image/gif")],
    "malformed/pystdlib__msg_15.eml": [("xx.gif", "image/gif")],
    "charset/openbmc__big5_qp_signed_reply.eml": [],  # the OpenPGP signature is not a customer's attachment
}


TAG = re.compile(r"<(?!https?://)[^>]*>")  # an HTML tag, not a link's address shown as <https://...>


def load(name: str) -> bytes:
    return (CORPUS / name).read_bytes()


def parsed(name: str) -> ParsedEmail:
    return parse(load(name))


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


# ------------------------------------------------------------------------------------ the whole corpus


@needs_corpus
def test_corpus_has_every_file_the_readme_lists() -> None:
    listed = {*MACHINE, *SUBJECTS, *TEXTS, *TALON_REPLIES, *NEW_TEXTS, *ATTACHMENTS, *STDLIB_GETS_WRONG}
    assert len(EML) == 82
    assert listed <= set(EML)
    assert len(HTML_REPLIES) == 9


@needs_corpus
@pytest.mark.parametrize("name", EML)
def test_every_message_parses_without_losing_it(name: str) -> None:
    raw = load(name)
    result = parse(raw)
    assert "parse_error" not in result.defects
    assert result.raw_size == len(raw)
    assert result.message_id
    assert result.text == result.text.rstrip() and not result.text.startswith("\n")
    assert to_inbound(result, "complaints@example.com").message_id == result.message_id


@needs_corpus
@pytest.mark.parametrize("name", EML)
def test_machine_mail_is_classified_and_everything_else_is_a_customer(name: str) -> None:
    assert parsed(name).kind in MACHINE.get(name, {"customer"})


@needs_corpus
@pytest.mark.parametrize("name", sorted(SUBJECTS))
def test_subject(name: str) -> None:
    assert parsed(name).subject == SUBJECTS[name]


@needs_corpus
@pytest.mark.parametrize("name", sorted(SENDERS))
def test_sender(name: str) -> None:
    result = parsed(name)
    assert (result.from_name, result.from_address) == SENDERS[name]


@needs_corpus
@pytest.mark.parametrize("name", sorted(TEXTS))
def test_body_text(name: str) -> None:
    assert parsed(name).text == TEXTS[name]


@needs_corpus
@pytest.mark.parametrize("name", sorted(TALON_REPLIES))
def test_reply_without_quoted_history(name: str) -> None:
    assert parsed(name).reply_text == TALON_REPLIES[name]


@needs_corpus
@pytest.mark.parametrize("name", sorted(NEW_TEXTS))
def test_new_text_without_history_or_signature(name: str) -> None:
    assert parsed(name).new_text == NEW_TEXTS[name]


@needs_corpus
@pytest.mark.parametrize("path", HTML_REPLIES, ids=lambda p: p.name)
def test_html_reply_fragments(path: Path) -> None:
    expected = squash("Hi. I am fine.\n\nThanks,\nAlex")
    assert squash(extract_reply(path.read_text("utf-8"), html=True).reply) == expected
    as_mail = parse(b"Content-Type: text/html; charset=utf-8\r\n\r\n" + path.read_bytes())
    assert as_mail.text_source == "html"
    assert squash(as_mail.new_text) == expected


@needs_corpus
@pytest.mark.parametrize("name", sorted(ATTACHMENTS))
def test_attachment_names_and_types(name: str) -> None:
    assert [(a.name, a.content_type) for a in parsed(name).attachments] == ATTACHMENTS[name]


# ------------------------------------------------------------------------------------ file by file


@needs_corpus
def test_gb2312_html_only_notice() -> None:
    result = parsed("charset/flanker__charset-gb2312.eml")
    assert result.text_source == "html"
    assert result.text.startswith("尊敬的管理员：")
    assert not TAG.search(result.text) and "font-size" not in result.text


@needs_corpus
def test_damaged_gb18030_is_accepted_and_flagged() -> None:
    result = parsed("charset/flanker__charset-gb2312-1.eml")
    assert result.kind == "customer"
    assert "undecodable" in result.defects
    assert result.text


@needs_corpus
def test_chinese_outlook_reply_threading_and_prefix() -> None:
    result = parsed("charset/lkml__gb2312_outlook_reply_dafu.eml")
    assert result.normalized_subject == "[RFC PATCHv2] block: set bdi congested when no tag available"
    assert result.in_reply_to == "281b7645-5ce3-0339-78d9-bbc737e4c50e@kernel.dk"
    assert "王科 (Ke Wang)" in [a.name for a in result.to]
    assert result.list_id is not None  # a list post: Precedence: bulk does not make it an auto-reply


@needs_corpus
def test_big5_flowed_signed_reply() -> None:
    result = parsed("charset/openbmc__big5_qp_signed_reply.eml")
    attribution = "On 2/17/21 11:11 PM, David Wang (王振宇) wrote:"
    assert attribution in result.text.split("\n")
    assert result.new_text == result.text[:result.text.index(attribution)].strip()
    assert "Johnathan Mantey" not in result.new_text
    assert result.to[0].name == "David Wang (王振宇)"


@needs_corpus
def test_japanese_signature_is_kept_in_text_and_cut_from_new_text() -> None:
    result = parsed("charset/mikelmail__japanese.eml")
    assert result.text.startswith("かきくえこ\n\n-- \n")


@needs_corpus
def test_rfc3464_bounces_report_each_recipient() -> None:
    zed = parsed("bounce/flanker__bounce-zed.eml").report
    assert zed is not None and zed.status == "5.1.1"
    assert [r.recipient for r in zed.recipients] == [
        "asdfasdfasdfasdfasdfasdfewrqertrtyrthsfgdfgadfqeadvxzvz@gmail.com"]
    assert (zed.diagnostic or "").startswith(
        "smtp; 550-5.1.1 The email account that you tried to reach does not exist")

    full = parsed("bounce/flanker__bounce-mailbox-full.eml").report
    assert full is not None and full.status == "5.2.2" and "user MAILBOX FULL" in (full.diagnostic or "")

    multi = parsed("bounce/mikelmail__multi_address_bounce1.eml").report
    assert multi is not None and len(multi.recipients) == 5
    assert {r.status for r in multi.recipients} == {"5.1.1"}

    banned = parsed("bounce/pystdlib__msg_43.eml").report
    assert banned is not None and len(banned.recipients) == 25
    assert {r.status for r in banned.recipients} == {"5.7.1"}

    postfix = parsed("bounce/sisimai__lhost-postfix-01.eml").report
    assert postfix is not None and postfix.status == "5.1.1"
    assert postfix.recipients[0].recipient == "r@p351355.pool.example.ne.jp"
    assert postfix.recipients[0].original_recipient == "kijitora@example.org"
    assert (postfix.diagnostic or "").startswith("x-unix; procmail")

    tencent = parsed("bounce/sisimai__rhost-tencent-01.eml").report
    assert tencent is not None and tencent.recipients[0].recipient == "nekochan@qq.example.cn"
    assert "550 Ip frequency limited" in (tencent.diagnostic or "")


@needs_corpus
def test_odd_rfc3464_reports() -> None:
    ucla = parsed("bounce/pystdlib__msg_16.eml").report
    assert ucla is not None and ucla.status == "5.0.0"
    assert ucla.recipients[0].diagnostic == "recipient reached disk quota"

    hops = parsed("bounce/pystdlib__msg_25.eml").report
    assert hops is not None and hops.status == "5.4.6"

    two_parts = parsed("bounce/mikelmail__multipart_report_multiple_status.eml").report
    assert two_parts is not None and two_parts.status == "5.3.0"

    exchange = parsed("bounce/sisimai__lhost-exchange2007-04.eml").report
    assert exchange is not None and exchange.status == "5.7.1"
    assert "RESOLVER.RST.AuthRequired" in (exchange.diagnostic or "")


@needs_corpus
def test_delays_are_not_final_failures() -> None:
    delayed = parsed("bounce/flanker__bounce-delayed.eml")
    assert delayed.kind == "delay" and delayed.report is not None and delayed.report.status == "4.0.0"
    warning = parsed("bounce/mikelmail__report_422.eml")
    assert warning.kind == "delay" and warning.report is not None and warning.report.status == "4.2.2"
    assert warning.report.recipients[0].action == "delayed"


@needs_corpus
def test_bounces_written_for_people() -> None:
    expected = {
        "bounce/flanker__bounce-gmail-invalid-address.eml":
            ("awfawfawfawfawfaw@someserverhere.com", "550 5.1.0 Recipient rejected"),
        "bounce/sisimai__lhost-gmail-01.eml": ("userunknown@example.jp", "550 5.1.1 "),
        "bounce/sisimai__lhost-qmail-01.eml": ("kijitora@example.ne.jp", "550 Unknown user"),
        "bounce/sisimai__lhost-exim-01.eml": ("kijitora@example.ed.jp", "550 5.7.0"),
        "bounce/sisimai__lhost-ezweb-01.eml": ("this-message-rejected-by-the-domain-filter@ezweb.ne.jp", ""),
    }
    for name, (recipient, diagnostic) in expected.items():
        report = parsed(name).report
        assert report is not None, name
        assert [r.recipient for r in report.recipients] == [recipient], name
        assert (report.diagnostic or "").startswith(diagnostic), name
    gmail = parsed("bounce/sisimai__lhost-gmail-01.eml").report
    assert gmail is not None and (gmail.diagnostic or "").endswith("User Unknown")
    qmail = parsed("bounce/sisimai__lhost-qmail-01.eml").report
    assert qmail is not None and qmail.status == "5.5.0"


@needs_corpus
def test_bare_cr_copy_gives_the_same_bounce_as_the_crlf_copy() -> None:
    crlf = parsed("bounce/sisimai__dos__rhost-apple-01.eml")
    bare_cr = parsed("bounce/sisimai__mac__rhost-apple-01.eml")
    assert crlf.report is not None and crlf.report.status == "5.1.6"
    assert [r.recipient for r in crlf.report.recipients] == ["kijitora@example.jp"]
    assert bare_cr.report == crlf.report
    assert (bare_cr.kind, bare_cr.subject, bare_cr.text) == (crlf.kind, crlf.subject, crlf.text)


@needs_corpus
def test_abuse_reports() -> None:
    aol = parsed("bounce/flanker__complaints-aol.eml").report
    assert aol is not None and aol.feedback_type == "abuse" and aol.source_ip == "173.193.210.34"
    yahoo = parsed("bounce/flanker__complaints-yahoo.eml").report
    assert yahoo is not None and yahoo.feedback_type == "abuse"
    sisimai = parsed("bounce/sisimai__arf-01.eml").report
    assert sisimai is not None and sisimai.feedback_type == "abuse" and sisimai.reported_domain == "example.ed.jp"


@needs_corpus
def test_read_receipt_names_the_message_it_is_about() -> None:
    report = parsed("auto-reply/flanker__disposition-notification.eml").report
    assert report is not None and report.original_message_id == "199509192301.23456@example.org"
    assert report.disposition is not None and report.disposition.endswith("displayed")


@needs_corpus
def test_auto_replies() -> None:
    assert "zukünftig" in parsed("auto-reply/sisimai__rfc3834-05.eml").text
    assert parsed("auto-reply/sisimai__rfc3834-04.eml").text  # the windows-1252 travel notice


@needs_corpus
def test_forwards_are_customer_messages_with_the_original_attached() -> None:
    enclosed = parsed("forward/flanker__enclosed.eml")
    inner = enclosed.attached_messages[0]
    assert (inner.subject, inner.from_name, inner.from_address) == ("Thanks!", "Kirk Douglas", "dan@example.com")

    not_bounce = parsed("forward/sisimai__is-not-bounce-02.eml").attached_messages[0]
    assert (not_bounce.subject, not_bounce.from_name) == ("original", "André Brás")

    pdf = parsed("forward/mikelmail__attachment_message_rfc822.eml").attached_messages[0]
    assert (pdf.subject, pdf.from_name) == ("Another PDF", "Test Tester")
    assert [a.name for a in pdf.attachments] == ["broken.pdf"]

    assert parsed("forward/pystdlib__msg_06.eml").attached_messages[0].subject == "testing"
    groupwise = parsed("forward/pystdlib__msg_46.eml")
    assert groupwise.attached_messages and groupwise.attached_messages[0].text


@needs_corpus
def test_rfc2231_name_in_the_wrong_charset_gives_a_lossy_name() -> None:
    (attachment,) = parsed("forward/mikelmail__attachment_with_encoded_name.eml").attachments
    assert attachment.name.startswith("01 Quien Te Dij") and attachment.name.endswith(". Pitbull.mp3")
    assert attachment.content_type == "application/octet-stream"


@needs_corpus
def test_html_only_messages() -> None:
    links = parsed("html-only/flanker__long-links.eml")
    assert links.text_source == "html" and "longurlmaker.com" in links.text and not TAG.search(links.text)
    assert parsed("html-only/pystdlib__msg_40.eml").text_source == "html"


@needs_corpus
def test_malformed_messages_degrade_gracefully() -> None:
    express = parsed("malformed/flanker__outlook-express.eml")
    assert express.text == "" and len(express.attachments) == 1 and express.attachments[0].size > 0
    false_multipart = parsed("malformed/flanker__false-multipart.eml")
    assert "multipart_without_parts" in false_multipart.defects
    madness = parsed("malformed/mikelmail__encoding_madness.eml")
    assert (madness.reply_to[0].name, madness.reply_to[0].address) == ("KLAUS- HÄNSCHEL", "")
    spam = parsed("malformed/mikelmail__content_transfer_encoding_text-html.eml")
    assert "bad_transfer_encoding" in spam.defects and "qualified for the lowest rate" in spam.text


@needs_corpus
def test_threading_headers() -> None:
    reply = parsed("reply-quote/mikelmail__raw_email_reply.eml")
    assert reply.in_reply_to == "348F04F142D69C21-291E56D292BC@xxxx.net"
    assert reply.references == ("473FF3B8.9020707@xxx.org", "348F04F142D69C21-291E56D292BC@xxxx.net")
    chatwoot = parsed("reply-quote/chatwoot__mail_with_quote.eml")
    assert chatwoot.in_reply_to == "0100017b5d8efc70-c7f18809-aa55-48f6-91fd-b626092ed8b3-000000@email.amazonses.com"


@needs_corpus
@pytest.mark.parametrize("name", sorted(STDLIB_GETS_WRONG))
def test_the_stdlib_alone_gets_these_wrong(name: str) -> None:
    message = BytesParser(policy=policy.default).parsebytes(load(name))
    body = message.get_body(("plain", "html"))
    stdlib = (str(message["subject"] or ""), body.get_content().strip() if body else "",
              sorted(str(p.get_filename()) for p in message.iter_attachments()))
    ours = parsed(name)
    assert stdlib != (ours.subject, ours.text, sorted(a.name for a in ours.attachments)), STDLIB_GETS_WRONG[name]


# ------------------------------------------------------------------------------------ built by hand


def test_case_tag_and_prefixes() -> None:
    raw = b"Subject: =?utf-8?B?5Zue5aSNOiBSRTo=?= [C-250101-7KQ4] Re: my complaint\r\n\r\nhi"
    result = parse(raw)
    assert result.case_tag == "C-250101-7KQ4"
    assert result.normalized_subject == "my complaint"
    assert normalize_subject("转发: FW: 答复：RE[2]: Fwd: 账户问题") == "账户问题"
    assert parse(b"Subject: [C-250101-7KQ0] look-alike\r\n\r\nx").case_tag is None


def test_every_case_id_the_desk_makes_is_a_case_tag_and_a_look_alike_never_is() -> None:
    # The channel spells the ids' alphabet itself (channels import nothing of the desk): held to handoff/ids.py here.
    assert CASE_ID_ALPHABET == ALPHABET
    made = {new_case_id(datetime(2026, 11, 23, tzinfo=UTC)) for _ in range(200)}
    for case_id in made:
        assert parse(f"Subject: Re: [{case_id}] fee\r\n\r\nx".encode()).case_tag == case_id
    for character in sorted(set(string.ascii_uppercase + string.digits) - set(ALPHABET)):
        assert parse(f"Subject: [C-261123-7KQ{character}] x\r\n\r\nx".encode()).case_tag is None


def test_gb2312_declared_text_is_read_as_gb18030() -> None:
    # 镕 and 𠮷 are not in GB2312 (镕 is GBK, 𠮷 four-byte GB18030), but GB2312-labelled mail carries them.
    body = "朱镕基 𠮷野家 投诉".encode("gb18030")
    raw = b"Subject: " + "账户问题".encode("gb18030") + b"\r\nContent-Type: text/plain; charset=GB2312\r\n\r\n" + body
    result = parse(raw)
    assert (result.subject, result.text) == ("账户问题", "朱镕基 𠮷野家 投诉")


def test_an_smtputf8_sender_keeps_an_intact_address_whatever_charset_the_text_declares() -> None:
    # RFC 6532: the headers of mail to or from 张伟@example.cn are UTF-8, even when the body is GB2312.
    raw = ("From: 张伟 <张伟@example.cn>\r\nSubject: 投诉\r\nContent-Type: text/plain; charset=gb2312\r\n\r\n"
           .encode() + "你好".encode("gb2312"))
    result = parse(raw)
    assert (result.from_name, result.from_address, result.subject, result.text) == (
        "张伟", "张伟@example.cn", "投诉", "你好")
    assert to_inbound(result, "complaints@example.test").contact.email == "张伟@example.cn"


def test_an_internationalised_domain_is_read_in_its_own_script() -> None:
    result = parse(b"From: Zhang <zhang@XN--FSQU00A.xn--fiqs8s>\r\nTo: a@xn--mchine-bua.example\r\n\r\nhi")
    assert result.from_address == "zhang@例子.中国" and result.to[0].address == "a@mächine.example"
    assert parse(b"From: a@xn--zz.example\r\n\r\nhi").from_address == "a@xn--zz.example"  # not IDNA: as written


def test_unknown_charset_falls_back_and_says_so() -> None:
    result = parse("Content-Type: text/plain; charset=x-nonsense\r\n\r\n退款".encode())
    assert result.text == "退款" and "unknown_charset" in result.defects


def test_uuencoded_attachment_and_rfc2231_continuations() -> None:
    payload = bytes(range(256)) * 3
    uu = b"begin 644 data.bin\r\n" + b"".join(
        binascii.b2a_uu(payload[i:i + 45]) for i in range(0, len(payload), 45)) + b"`\r\nend\r\n"
    raw = (b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nfiles\r\n"
           b"--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: x-uuencode\r\n"
           b"Content-Disposition: attachment;\r\n filename*0*=utf-8''%E5%AF%B9%E8%B4%A6;\r\n filename*1=\".txt\"\r\n"
           b"\r\n" + uu + b"--b--\r\n")
    (attachment,) = parse(raw).attachments
    assert attachment.name == "对账.txt" and attachment.content == payload


@pytest.mark.parametrize(("header", "kind"), [
    (b"Auto-Submitted: auto-replied", "auto_reply"),
    (b"Auto-Submitted: no", "customer"),
    (b"X-Autoreply: yes", "auto_reply"),
    (b"X-Autorespond: on vacation", "auto_reply"),
    (b"Precedence: junk", "auto_reply"),
    (b"Precedence: bulk\r\nList-Id: <complaints.lists.example.com>", "customer"),
    (b"X-Apple-Action: VACATION", "auto_reply"),
    (b"Message-ID: <ABC-vac@icloud.example>", "auto_reply"),
    (b"X-Auto-Response-Suppress: All\r\nSubject: =?utf-8?B?6Ieq5Yqo5Zue5aSNOiDmipXor4k=?=", "auto_reply"),
    (b"From: MAILER-DAEMON@mx.example\r\nSubject: Mail delivery failed", "bounce"),
    (b"From: MAILER-DAEMON@mx.example\r\nSubject: Fwd: Mail delivery failed", "customer"),
])
def test_machine_signals(header: bytes, kind: str) -> None:
    assert parse(header + b"\r\n\r\nplease call me back").kind == kind


def test_chinese_outlook_header_block_is_history() -> None:
    body = ("我的账户被冻结了，请尽快处理。\n\n"
            "发件人: 客服 <service@example.com>\n发送时间: 2024年5月1日 10:00\n收件人: 张三\n主题: 回复: 投诉\n\n"
            "您好，请提供账户号码。")
    assert extract_reply(body).new_text == "我的账户被冻结了，请尽快处理。"


def test_chinese_attribution_and_inline_answers_are_kept() -> None:
    body = ("在 2024年5月1日 10:00，客服 <service@example.com> 写道：\n> 请提供账户号码。\n12345678\n"
            "> 事情发生在什么时候？\n昨天下午\n")
    assert extract_reply(body).new_text == "12345678\n\n昨天下午"


def test_attachment_names_cannot_escape_a_folder() -> None:
    assert safe_filename("../../etc/passwd", "x") == "passwd"
    assert safe_filename("C:\\Windows\\system32\\evil.exe", "x") == "evil.exe"
    assert safe_filename("..", "fallback.bin") == "fallback.bin"
    assert safe_filename("invoice\u202efdp.exe", "x") == "invoice_fdp.exe"
    raw = (b'Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nsee file\r\n'
           b'--b\r\nContent-Type: application/pdf; name="../../x.pdf"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
           b'QUJDREVGR0g=\r\n--b--\r\n')
    small = parse(raw, max_attachment_bytes=3)
    (attachment,) = small.attachments
    assert (attachment.name, attachment.size, attachment.content, attachment.truncated) == ("x.pdf", 8, b"ABC", True)
    assert not parse(raw).attachments[0].truncated


def test_html_drops_scripts_and_styles_and_keeps_where_links_go() -> None:
    html = "<html><head><style>p{color:red}</style></head><body><script>alert(1)</script><p>Hi</p></body></html>"
    assert html_to_text(html) == "Hi"
    links = '<p>See <a href="https://bank.example/tx/1">this trade</a> and <a href="https://x.example">https://x.example</a>'
    assert html_to_text(links) == "See this trade <https://bank.example/tx/1> and https://x.example"
    assert html_to_text("<ul><li>one<li>two</ul><table><tr><td>a</td><td>b</td></tr></table>") == "- one\n- two\na b"


def test_a_forward_keeps_what_it_forwards() -> None:
    raw = ("Subject: Fwd: your statement\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
           "The fee below is wrong.\r\n\r\n---------- Forwarded message ---------\r\nFrom: Bank <s@bank.example>\r\n"
           "Date: Mon, 1 Jan 2024\r\nSubject: your statement\r\nTo: me@example.com\r\n\r\nFee: 300.00\r\n")
    result = parse(raw.encode())
    assert result.kind == "customer"
    assert result.new_text.startswith("The fee below is wrong.") and result.new_text.endswith("Fee: 300.00")
    unmarked = parse(raw.replace("Fwd: ", "").encode())
    assert unmarked.new_text.endswith("Fee: 300.00")


def test_missing_message_id_is_derived_from_the_bytes() -> None:
    first, again = parse(b"Subject: x\r\n\r\nbody"), parse(b"Subject: x\r\n\r\nbody")
    assert first.message_id_derived and first.message_id == again.message_id
    assert first.message_id != parse(b"Subject: x\r\n\r\nbody!").message_id


def test_inbound_message_keys_the_thread_by_its_root() -> None:
    root = parse(b"Message-ID: <a@x>\r\nFrom: Li Lei <li@example.cn>\r\nSubject: complaint\r\n\r\nhello")
    reply = parse(b"Message-ID: <c@x>\r\nIn-Reply-To: <b@x>\r\nReferences: <a@x> <b@x>\r\n"
                  b"From: li@example.cn\r\n\r\nmore\r\n\r\nOn Mon, 1 Jan 2024, Desk <desk@x> wrote:\r\n> question")
    first, second = to_inbound(root, "Complaints@Example.com"), to_inbound(reply, "complaints@example.com")
    assert first.channel == "email" and first.conversation_key == second.conversation_key
    assert first.contact.name == "Li Lei" and first.contact.email == "li@example.cn"
    assert second.text == "more" and second.message_id == "c@x"


# ------------------------------------------------------------------------------------ mangled MIME

MANGLE_SETTINGS = settings(max_examples=150, deadline=None, database=None,
                           suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def assert_nothing_lost(raw: bytes) -> None:
    result = parse(raw)
    assert result.raw_size == len(raw)
    assert result.message_id
    assert "parse_error" not in result.defects, result.defects
    assert result.kind in ("customer", "auto_reply", "bounce", "delay", "arf", "mdn")
    for attachment in result.attachments:
        assert attachment.name and "/" not in attachment.name and "\\" not in attachment.name
        assert len(attachment.content) <= attachment.size


@MANGLE_SETTINGS
@given(st.binary(max_size=4096))
def test_random_bytes(raw: bytes) -> None:
    assert_nothing_lost(raw)


@MANGLE_SETTINGS
@given(st.lists(st.sampled_from([
    b"Content-Type: multipart/mixed; boundary=b\r\n", b"Content-Type: multipart/alternative\r\n",
    b"Content-Type: text/plain; charset=gb2312\r\n", b"Content-Type: message/rfc822\r\n",
    b"Content-Type: multipart/report; report-type=delivery-status; boundary=b\r\n",
    b"Content-Transfer-Encoding: base64\r\n", b"Content-Transfer-Encoding: quoted-printable\r\n",
    b"Content-Transfer-Encoding: x-uuencode\r\n", b"Subject: =?iso-2022-jp?B?GyRCJS0lOCVI?=\r\n",
    b"Subject: =?x-unknown?Q?=E4=B8?= =?utf-8?B?5Lit==?=\r\n", b"From: \xd6\xd0 <a@b>\r\n", b"\r\n", b"--b\r\n",
    b"--b--\r\n", b"=E4=B8=AD=\r\n", b"5Lit5paH\r\n", b"begin 644 x\r\n", b"<p>hi<blockquote>q</blockquote>\r\n",
    b"> quoted\r\n", b"On Mon, 1 Jan 2024, X <x@y> wrote:\r\n", b"\xff\xfe\x00", b"\r", b"\n",
]), max_size=60))
def test_mime_shaped_noise(pieces: list[bytes]) -> None:
    assert_nothing_lost(b"".join(pieces))


def corpus_messages() -> st.SearchStrategy[bytes]:
    return st.sampled_from(EML).map(load) if HAVE_CORPUS else st.just(b"Subject: x\r\n\r\nno corpus here")


@st.composite
def mangled(draw: st.DrawFn) -> bytes:
    """A real message with a few of the ways mail gets damaged in transit or by broken software."""
    raw = draw(corpus_messages())
    for _ in range(draw(st.integers(1, 3))):
        operation = draw(st.sampled_from(["truncate", "overwrite", "token", "line_endings", "duplicate"]))
        at = draw(st.integers(0, len(raw)))
        if operation == "truncate":
            raw = raw[:at]
        elif operation == "overwrite":
            raw = raw[:at] + draw(st.binary(min_size=1, max_size=64)) + raw[at + draw(st.integers(0, 64)):]
        elif operation == "token":
            old = draw(st.sampled_from([b"boundary=", b"charset=", b"base64", b"quoted-printable", b"\n--",
                                        b"?B?", b"?Q?", b"=?", b"multipart/", b"Content-Type:", b"\n\n", b"\r\n\r\n"]))
            new = draw(st.sampled_from([b"", b"x", b"boundary=", b"\xff\xfe", b"?=", b"--", b"\r", b"gb2312",
                                        b"multipart/mixed", b"=?utf-8?B?", b"\n--x--\n"]))
            raw = raw.replace(old, new, draw(st.integers(1, 3)))
        elif operation == "line_endings":
            raw = raw.replace(b"\r\n", b"\n").replace(b"\n", draw(st.sampled_from([b"\r", b"\r\n", b"\n\r"])))
        else:
            end = min(len(raw), at + draw(st.integers(1, 400)))
            raw = raw[:at] + raw[at:end] * 2 + raw[end:]
    return raw


@needs_corpus
@MANGLE_SETTINGS
@given(mangled())
def test_mangled_corpus_messages(raw: bytes) -> None:
    assert_nothing_lost(raw)
