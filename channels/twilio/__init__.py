"""Twilio's channels: ``sms`` and ``voice`` the adapters, ``common`` their webhook signatures and TwiML answers."""

from channels.twilio.common import TwilioConfig
from channels.twilio.sms import TwilioSms
from channels.twilio.voice import TwilioVoice, VoiceSettings

__all__ = ["TwilioConfig", "TwilioSms", "TwilioVoice", "VoiceSettings"]
