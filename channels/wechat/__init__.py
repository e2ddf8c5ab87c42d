"""The WeChat Official Account channel (微信公众号): ``channel`` the adapter, ``messages`` its XML, ``crypto`` safe
mode's WXBizMsgCrypt scheme, ``api`` the access token and customer-service messages."""

from channels.wechat.channel import WeChat, WeChatConfig

__all__ = ["WeChat", "WeChatConfig"]
