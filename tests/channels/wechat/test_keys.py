"""WeChat's keys keep the names Redis holds (answers, languages and the token stored before must still be found)."""

from __future__ import annotations

from channels.wechat import keys


def test_wechats_keys_keep_their_names() -> None:
    assert keys.answer_key("o1", "m1") == "cg:wechat:answer:o1:m1"
    assert keys.language_key("o1") == "cg:wechat:language:o1"
    assert keys.access_token_key("wx1") == "cg:wechat:access-token:wx1"
