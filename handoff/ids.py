"""Case ids that people can read aloud over the phone.

``C-261123-7KQ4``: the receipt date (yymmdd, so a handler sees at once how old a case is) and four
characters from an alphabet without look-alikes (no 0/O, 1/I/L, 5/S, 8/B, U/V).
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime

ALPHABET = "234679ACDEFGHJKMNPQRTWXY"
CASE_ID_PATTERN = re.compile(rf"^C-\d{{6}}-[{ALPHABET}]{{4}}$")


def new_case_id(received_at: datetime) -> str:
    suffix = "".join(secrets.choice(ALPHABET) for _ in range(4))
    return f"C-{received_at:%y%m%d}-{suffix}"


def is_case_id(text: str) -> bool:
    return CASE_ID_PATTERN.match(text) is not None
