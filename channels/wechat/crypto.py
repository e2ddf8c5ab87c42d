"""WeChat's signatures and its safe mode (安全模式) message encryption, the WXBizMsgCrypt scheme.

- ``signature(*parts)``: SHA-1 of the parts sorted and joined; the server check and every webhook carry
  ``signature`` over the token, timestamp and nonce, safe mode also ``msg_signature`` over those and the
  ``Encrypt`` element.
- ``MessageCrypt``: AES-256-CBC with the key base64-decoded from the 43-character EncodingAESKey (plus "="),
  the IV its first 16 bytes, PKCS#7 padding to a 32-byte block, over 16 random bytes, the message's length
  (4 bytes, big-endian), the message and the AppID. A message for another AppID is refused like a broken one.

Guarantees: signatures are compared in constant time; anything that does not decrypt to a well-formed
message for this AppID raises ``DecryptError`` (never a half-read message); tests/channels/wechat/test_crypto.py
checks both directions against WeChat's published sample.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import struct
import time
from xml.sax.saxutils import escape

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from channels.wechat.messages import cdata

BLOCK = 32  # WeChat pads to 32 bytes, not AES's 16
AES_KEY = re.compile(r"[A-Za-z0-9+/]{43}")


class DecryptError(ValueError):
    """The Encrypt element is not a message this account's key and AppID produced."""


def signature(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


def signed(expected_signature: str | None, *parts: str) -> bool:
    return bool(expected_signature) and hmac.compare_digest(signature(*parts), str(expected_signature).lower())


def is_aes_key(value: str) -> bool:
    """True for an EncodingAESKey as WeChat issues them: 43 characters of base64, 32 bytes once decoded."""
    return AES_KEY.fullmatch(value) is not None


class MessageCrypt:
    def __init__(self, token: str, aes_key: str, app_id: str) -> None:
        if not is_aes_key(aes_key):
            raise ValueError("an EncodingAESKey is 43 characters of base64")
        self._token = token
        self._key = base64.b64decode(aes_key + "=")
        self._app_id = app_id.encode()

    def decrypt(self, encrypted: str) -> str:
        """The message XML inside an ``Encrypt`` element."""
        try:
            data = base64.b64decode(encrypted, validate=True)
        except (binascii.Error, ValueError):
            raise DecryptError("Encrypt is not base64") from None
        if not data or len(data) % 16:
            raise DecryptError("Encrypt is not whole AES blocks")
        decryptor = self._cipher().decryptor()
        plain = _unpad(decryptor.update(data) + decryptor.finalize())
        if len(plain) < 20:
            raise DecryptError("the decrypted message is too short")
        (length,) = struct.unpack(">I", plain[16:20])
        message, app_id = plain[20:20 + length], plain[20 + length:]
        if len(message) != length or not hmac.compare_digest(app_id, self._app_id):
            raise DecryptError("the decrypted message is not for this AppID")
        try:
            return message.decode()
        except UnicodeDecodeError:
            raise DecryptError("the decrypted message is not UTF-8") from None

    def encrypt(self, message: str, random_prefix: bytes | None = None) -> str:
        """The base64 ``Encrypt`` value for ``message`` (``random_prefix``: 16 bytes, for known-answer tests)."""
        body = message.encode()
        plain = (random_prefix or os.urandom(16)) + struct.pack(">I", len(body)) + body + self._app_id
        encryptor = self._cipher().encryptor()
        return base64.b64encode(encryptor.update(_pad(plain)) + encryptor.finalize()).decode()

    def verify(self, msg_signature: str | None, timestamp: str, nonce: str, encrypted: str) -> bool:
        return signed(msg_signature, self._token, timestamp, nonce, encrypted)

    def seal(self, reply: str, nonce: str, timestamp: str | None = None) -> str:
        """A reply as safe mode sends it: encrypted, signed, wrapped in <xml><Encrypt/><MsgSignature/>…</xml>."""
        timestamp = timestamp or str(int(time.time()))
        encrypted = self.encrypt(reply)
        sign = signature(self._token, timestamp, nonce, encrypted)
        return (f"<xml><Encrypt>{cdata(encrypted)}</Encrypt><MsgSignature>{cdata(sign)}</MsgSignature>"
                f"<TimeStamp>{escape(timestamp)}</TimeStamp><Nonce>{cdata(nonce)}</Nonce></xml>")

    def _cipher(self) -> Cipher[modes.CBC]:
        return Cipher(algorithms.AES(self._key), modes.CBC(self._key[:16]))


def _pad(data: bytes) -> bytes:
    amount = BLOCK - len(data) % BLOCK
    return data + bytes([amount]) * amount


def _unpad(data: bytes) -> bytes:
    amount = data[-1]
    if not 1 <= amount <= BLOCK or data[-amount:] != bytes([amount]) * amount:
        raise DecryptError("the decrypted message is not padded as WeChat pads")
    return data[:-amount]

