"""Text that comes in at an edge (a customer's message, a handler's reply), made safe to keep before it is kept.

Two characters can pass JSON and Python and still break the record later, leaving a message half-written: a NUL,
which PostgreSQL refuses in text, and a surrogate code point (half of a UTF-16 pair, sent as the JSON escape
``"\\ud800"``), which cannot be written as UTF-8 at all, so Redis, the database and every socket refuse it.
``clean_text`` refuses both with a reason fit to show the sender. Other control characters (C0 except tab,
newline and carriage return; DEL; C1) are invisible and mean nothing in a complaint: they are dropped.

Every edge that takes text calls ``clean_text`` before recording anything, and answers ``UnsafeText`` with a
clear refusal (the web chat's ``bad_message`` error frame, a 422 from the API).
"""

from __future__ import annotations

import re

_REFUSED = re.compile("[\x00\ud800-\udfff]")
_INVISIBLE = re.compile("[\x01-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


class UnsafeText(ValueError):
    """Text with a character that cannot be stored; the message says which and where, for the sender."""


def clean_text(text: str) -> str:
    """``text`` without invisible control characters; UnsafeText if it holds a NUL or a lone surrogate."""
    refused = _REFUSED.search(text)
    if refused is not None:
        where = f"character {refused.start() + 1}"
        if refused.group() == "\x00":
            raise UnsafeText(f"The text has a NUL character ({where}), which cannot be stored; "
                             "please remove it and send again.")
        raise UnsafeText(f"The text has half of a UTF-16 surrogate pair ({where}), which is not a character; "
                         "please send it again as proper text.")
    return _INVISIBLE.sub("", text)
