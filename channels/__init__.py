"""Channel adapters: each folder turns one provider's traffic into InboundMessage and sends OutboundMessage.

``ADAPTERS`` is the registry: one line per adapter class, in the order consoles list them. Each class declares
itself (``info``: name, titles, the settings that turn it on, capabilities) and builds itself from the settings
(``from_settings``); the app, the router and the consoles read those, so a new channel is its folder plus a line.
"""

from typing import Protocol

from channels.base import Adapter
from channels.email.channel import EmailChannel, EmailSettings
from channels.transcripts.channel import Transcripts, TranscriptSettings
from channels.twilio.sms import SmsSettings, TwilioSms
from channels.twilio.voice import TwilioVoice, VoiceChannelSettings
from channels.webchat.channel import WebChat, WebChatSettings
from channels.wechat.channel import WeChat, WeChatSettings


class ChannelSettings(WebChatSettings, SmsSettings, VoiceChannelSettings, TranscriptSettings, EmailSettings,
                      WeChatSettings, Protocol):
    """Every setting some adapter reads (the gateway's settings have them all)."""


ADAPTERS: tuple[Adapter[ChannelSettings], ...] = (
    WebChat,
    TwilioSms,
    TwilioVoice,
    Transcripts,
    EmailChannel,
    WeChat,
)
