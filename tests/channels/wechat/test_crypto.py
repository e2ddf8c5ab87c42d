"""Safe mode's WXBizMsgCrypt scheme against WeChat's own published samples, in both directions.

Vector 1 is the sample shipped with WeChat's WXBizMsgCrypt code (token QDG6eK); vector 2 the Official Account
sample of the same SDK family (token spamtest). Neither was produced by this code.
"""

from __future__ import annotations

import base64

import pytest

from channels.wechat.crypto import DecryptError, MessageCrypt, is_aes_key, signature
from channels.wechat.messages import parse

SAMPLE_TOKEN, SAMPLE_KEY, SAMPLE_APP_ID = "QDG6eK", "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C", "wx5823bf96d3bd56c7"
SAMPLE_TIMESTAMP, SAMPLE_NONCE = "1409659813", "1372623149"
SAMPLE_MSG_SIGNATURE = "477715d11cdb4164915debcba66cb864d751f3e6"
SAMPLE_ENCRYPT = (
    "RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3QczcdCUpj911L3vg3W/sYYvuJT"
    "s3TUUkSUXxaccAS0qhxchrRYt66wiSpGLYL42aM6A8dTT+6k4aSknmPj48kzJs8qLjvd4Xgpue06DOdnLxAUHzM6+kDZ+HMZfJYuR+LtwGc2hg"
    "f5gsijff0ekUNXZiqATP7PF5mZxZ3Izoun1s4zG4LUMnvw2r+KqCKIw+3IQH03v+BCA9nMELNqbSf6tiWSrXJB3LAVGUcallcrw8V2t9EL4Ehz"
    "JWrQUax5wLVMNS0+rUPA3k22Ncx4XXZS9o0MBH27Bo6BpNelZpS+/uh9KsNlY6bHCmJU9p8g7m3fVKn28H3KDYA5Pl/T8Z1ptDAVe0lXdQ2Yoy"
    "yH2uyPIGHBZZIs2pDBS8R07+qN+E7Q=="
)
SAMPLE_XML = (
    "<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName>\n<FromUserName><![CDATA[mycreate]]></FromUserName>\n"
    "<CreateTime>1409659813</CreateTime>\n<MsgType><![CDATA[text]]></MsgType>\n<Content><![CDATA[hello]]></Content>\n"
    "<MsgId>4561255354251345929</MsgId>\n<AgentID>218</AgentID>\n</xml>"
)
SAMPLE_RANDOM = b"0960688932c47ef1"  # the sample's 16 "random" bytes, as its plaintext carries them

OA_TOKEN, OA_KEY, OA_APP_ID = "spamtest", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", "wx2c2769f8efd9abc2"
OA_TIMESTAMP, OA_NONCE, OA_MSG_SIGNATURE = "1409735669", "1320562132", "5d197aaffba7e9b25a30732f161a50dee96bd5fa"
OA_ENCRYPT = (
    "hyzAe4OzmOMbd6TvGdIOO6uBmdJoD0Fk53REIHvxYtJlE2B655HuD0m8KUePWB3+LrPXo87wzQ1QLvbeUgmBM4x6F8PGHQHFVAFmOD2LdJF9Fr"
    "XpbUAh0B5GIItb52sn896wVsMSHGuPE328HnRGBcrS7C41IzDWyWNlZkyyXwon8T332jisa+h6tEDYsVticbSnyU8dKOIbgU6ux5VTjg3yt+WG"
    "zjlpKn6NPhRjpA912xMezR4kw6KWwMrCVKSVCZciVGCgavjIQ6X8tCOp3yZbGpy0VxpAe+77TszTfRd5RJSVO/HTnifJpXgCSUdUue1v6h0EIB"
    "YYI1BD1DlD+C0CR8e6OewpusjZ4uBl9FyJvnhvQl+q5rv1ixrcpCumEPo5MJSgM9ehVsNPfUM669WuMyVWQLCzpu9GhglF2PE="
)


@pytest.fixture
def sample() -> MessageCrypt:
    return MessageCrypt(SAMPLE_TOKEN, SAMPLE_KEY, SAMPLE_APP_ID)


def test_wechats_sample_message_is_verified_and_decrypted(sample: MessageCrypt) -> None:
    assert signature(SAMPLE_TOKEN, SAMPLE_TIMESTAMP, SAMPLE_NONCE, SAMPLE_ENCRYPT) == SAMPLE_MSG_SIGNATURE
    assert sample.verify(SAMPLE_MSG_SIGNATURE, SAMPLE_TIMESTAMP, SAMPLE_NONCE, SAMPLE_ENCRYPT)
    assert sample.decrypt(SAMPLE_ENCRYPT) == SAMPLE_XML
    fields = parse(sample.decrypt(SAMPLE_ENCRYPT).encode())
    assert (fields["FromUserName"], fields["Content"], fields["MsgId"]) == ("mycreate", "hello", "4561255354251345929")


def test_the_official_account_sample_is_verified_and_decrypted() -> None:
    crypt = MessageCrypt(OA_TOKEN, OA_KEY, OA_APP_ID)
    assert crypt.verify(OA_MSG_SIGNATURE, OA_TIMESTAMP, OA_NONCE, OA_ENCRYPT)
    fields = parse(crypt.decrypt(OA_ENCRYPT).encode())
    assert (fields["FromUserName"], fields["Content"]) == ("oyORnuP8q7ou2gfYjqLzSIWZf0rs", "abcdteT")


def test_encrypting_with_the_samples_random_bytes_gives_the_samples_ciphertext(sample: MessageCrypt) -> None:
    assert sample.encrypt(SAMPLE_XML, SAMPLE_RANDOM) == SAMPLE_ENCRYPT


def test_a_wrong_signature_or_another_token_is_not_verified(sample: MessageCrypt) -> None:
    assert not sample.verify("0" * 40, SAMPLE_TIMESTAMP, SAMPLE_NONCE, SAMPLE_ENCRYPT)
    assert not sample.verify(None, SAMPLE_TIMESTAMP, SAMPLE_NONCE, SAMPLE_ENCRYPT)
    assert not sample.verify(SAMPLE_MSG_SIGNATURE, SAMPLE_TIMESTAMP, "1372623150", SAMPLE_ENCRYPT)
    other = MessageCrypt("another-token", SAMPLE_KEY, SAMPLE_APP_ID)
    assert not other.verify(SAMPLE_MSG_SIGNATURE, SAMPLE_TIMESTAMP, SAMPLE_NONCE, SAMPLE_ENCRYPT)


def test_a_message_for_another_app_id_is_refused() -> None:
    with pytest.raises(DecryptError, match="AppID"):
        MessageCrypt(SAMPLE_TOKEN, SAMPLE_KEY, "wx0000000000000000").decrypt(SAMPLE_ENCRYPT)


@pytest.mark.parametrize("encrypted", [
    "not base64 at all!",
    "",
    base64.b64encode(b"fifteen bytes!!").decode(),  # not whole blocks
    base64.b64encode(bytes(64)).decode(),  # whole blocks, but not WeChat's padding once decrypted
    SAMPLE_ENCRYPT[:-30] + "A" * 26 + "==",  # the last block altered
    SAMPLE_ENCRYPT[:64],  # cut short
])
def test_anything_that_does_not_decrypt_cleanly_is_a_decrypt_error(sample: MessageCrypt, encrypted: str) -> None:
    with pytest.raises(DecryptError):
        sample.decrypt(encrypted)


def test_a_chinese_reply_round_trips_and_its_length_counts_bytes(sample: MessageCrypt) -> None:
    reply = "<xml><Content><![CDATA[您好，我们已收到您的投诉。]]></Content></xml>"
    assert sample.decrypt(sample.encrypt(reply)) == reply
    assert sample.encrypt(reply) != sample.encrypt(reply), "16 fresh random bytes each time"


def test_a_sealed_reply_is_signed_and_decrypts_back(sample: MessageCrypt) -> None:
    reply = "<xml><Content><![CDATA[this is a test]]></Content></xml>"
    fields = parse(sample.seal(reply, "1372623149", "1409659813").encode())
    assert (fields["TimeStamp"], fields["Nonce"]) == ("1409659813", "1372623149")
    assert sample.verify(fields["MsgSignature"], fields["TimeStamp"], fields["Nonce"], fields["Encrypt"])
    assert sample.decrypt(fields["Encrypt"]) == reply


def test_only_43_characters_of_base64_are_an_encoding_aes_key() -> None:
    assert is_aes_key(SAMPLE_KEY)
    for bad in ("", SAMPLE_KEY[:42], SAMPLE_KEY + "=", SAMPLE_KEY[:42] + "-", "密" * 43):
        assert not is_aes_key(bad), bad
    with pytest.raises(ValueError):
        MessageCrypt(SAMPLE_TOKEN, SAMPLE_KEY[:42], SAMPLE_APP_ID)
