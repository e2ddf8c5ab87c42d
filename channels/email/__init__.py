"""The email channel: ``channel`` the adapter (IMAP in), ``outbox`` SMTP out, ``threads``, ``parse`` one message."""

from channels.email.channel import EmailChannel, EmailConfig, ImapConfig
from channels.email.outbox import SmtpConfig

__all__ = ["EmailChannel", "EmailConfig", "ImapConfig", "SmtpConfig"]
