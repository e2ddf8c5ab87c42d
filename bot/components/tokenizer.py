"""Jieba tokens of the text as a Chinese input method types it: full-width letters and digits as ASCII,
Traditional characters as Simplified (OpenCC, actions/chinese.py).

"ＡＰＰ登录不了", "APP登录不了" and "APP登錄不了" get the same tokens, so the classifiers need no full-width or
Traditional copies of their training examples. Token offsets stay those of the original text (the mapping keeps
the length).
"""

from __future__ import annotations

from typing import Any

from actions.extract import canonical
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.tokenizers.jieba_tokenizer import JiebaTokenizer
from rasa.nlu.tokenizers.tokenizer import Token
from rasa.shared.nlu.training_data.message import Message


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=True)
class HalfwidthJiebaTokenizer(JiebaTokenizer):
    """JiebaTokenizer on half-width Simplified text, without the whitespace tokens Jieba yields between English
    words."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return JiebaTokenizer.get_default_config()

    def tokenize(self, message: Message, attribute: str) -> list[Token]:
        import jieba

        text = canonical(message.get(attribute) or "")
        tokens = [Token(word, start) for word, start, _ in jieba.tokenize(text) if word.strip()]
        return self._apply_token_pattern(tokens)
