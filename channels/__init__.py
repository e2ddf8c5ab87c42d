"""Channel adapters: each module turns one provider's traffic into InboundMessage and sends OutboundMessage.

``ADAPTERS`` is the registry: one line per adapter class, in the order consoles list them. Each class declares
itself (``info``: name, titles, the settings that turn it on, capabilities) and builds itself from the settings
(``from_settings``); the app, the router and the consoles read those, so a new channel is its module plus a line.
"""

from typing import Protocol

from channels.base import Adapter
from channels.email import EmailChannel, EmailSettings
from channels.transcripts import Transcripts, TranscriptSettings
from channels.twilio_sms import SmsSettings, TwilioSms
from channels.twilio_voice import TwilioVoice, VoiceChannelSettings
from channels.webchat import WebChat, WebChatSettings
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
