"""The web chat channel: ``channel`` the WebSocket adapter, ``static`` the chat page and the embeddable widget."""

from channels.webchat.channel import WebChat, WebChatLimits

__all__ = ["WebChat", "WebChatLimits"]
