"""Text made safe at the edge: refused when it cannot be stored, invisible controls dropped."""

from __future__ import annotations

import json

import pytest

from channels.text import UnsafeText, clean_text


def test_ordinary_text_in_any_script_is_kept_as_it_is() -> None:
    text = "我的账户被强制平仓\tMy account 😀\r\nLine two — café"
    assert clean_text(text) == text


@pytest.mark.parametrize(("sent", "kept"), [
    ("bell\x07 here", "bell here"),
    ("esc\x1b[31mred", "esc[31mred"),
    ("del\x7f and \x85next line", "del and next line"),
    ("\x01\x02\x03", ""),
])
def test_invisible_control_characters_are_dropped(sent: str, kept: str) -> None:
    assert clean_text(sent) == kept


def test_a_nul_is_refused_and_the_reason_says_where() -> None:
    with pytest.raises(UnsafeText, match=r"NUL.*character 4"):
        clean_text("abc\x00def")


def test_a_lone_surrogate_from_a_json_escape_is_refused() -> None:
    text = json.loads('"ok \\ud800 then"')
    with pytest.raises(UnsafeText, match=r"surrogate.*character 4"):
        clean_text(text)


def test_a_pair_json_joins_into_one_character_is_kept() -> None:
    assert clean_text(json.loads('"\\ud83d\\ude00"')) == "😀"


def test_the_refusal_is_a_value_error_for_callers_that_catch_those() -> None:
    assert issubclass(UnsafeText, ValueError)
