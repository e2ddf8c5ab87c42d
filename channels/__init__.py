"""Channel adapters: each folder turns one provider's traffic into InboundMessage and sends OutboundMessage.

This is the registry. ``ADAPTERS`` lists the adapter classes, one line each, in the order consoles list them.
Each class declares itself (``info``: name, titles, the settings that turn it on, capabilities) and builds itself
from the settings (``from_settings``); the app, the router and the consoles read those. ``ChannelSettings`` has
each adapter's settings class (its fields, declared in its folder with ``channels.settings``) as a base, and the
gateway's settings inherit it: a new channel is its folder plus its line in each of the two lists.
"""

from __future__ import annotations

from dataclasses import dataclass

from channels.base import Adapter
from channels.email.channel import EmailChannel, EmailSettings
from channels.transcripts.channel import Transcripts, TranscriptSettings
from channels.twilio.sms import SmsSettings, TwilioSms
from channels.twilio.voice import TwilioVoice, VoiceChannelSettings
from channels.webchat.channel import WebChat, WebChatSettings
from channels.wechat.channel import WeChat, WeChatSettings


@dataclass(frozen=True)
class ChannelSettings(
    WebChatSettings,
    SmsSettings,
    VoiceChannelSettings,
    TranscriptSettings,
    EmailSettings,
    WeChatSettings,
):
    """Every setting some adapter reads (the gateway's settings inherit them all)."""


ADAPTERS: tuple[Adapter[ChannelSettings], ...] = (
    WebChat,
    TwilioSms,
    TwilioVoice,
    Transcripts,
    EmailChannel,
    WeChat,
)
