"""What the gateway itself says to customers, in their language."""

from __future__ import annotations

from datetime import datetime


def holding_reply(language: str) -> str:
    if language == "zh":
        return "非常抱歉，在线助理暂时无法回复。您的留言已经完整记录，投诉专员会尽快接手，请稍候。"
    return (
        "We are sorry, our assistant cannot answer right now. Everything you wrote is recorded and a "
        "complaint handler will take over shortly."
    )


def case_opened(language: str, case_id: str, respond_by: datetime) -> str:
    if language == "zh":
        return (
            f"您的投诉已登记，案件编号：{case_id}。投诉专员会在 {respond_by:%Y年%m月%d日} 前答复您，"
            "期间您可以继续在这里留言。"
        )
    return (
        f"Your complaint is recorded under case number {case_id}. A complaint handler will answer you "
        f"by {respond_by:%d %B %Y}; you can keep writing here in the meantime."
    )
