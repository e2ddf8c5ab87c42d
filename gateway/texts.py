"""What the gateway itself says to customers, in their language."""

from __future__ import annotations

from datetime import datetime

from channels.language import traditional


def in_script(text: str, script: str | None) -> str:
    """Chinese text in the customer's own script: Traditional characters for a customer who writes them."""
    return traditional(text) if script == "Hant" else text


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


def case_opened_incomplete(language: str, case_id: str, respond_by: datetime) -> str:
    """For an intake the customer left unfinished: it is on the record anyway, and they can add to it."""
    if language == "zh":
        return (
            f"您的投诉已登记，案件编号：{case_id}。投诉专员会在 {respond_by:%Y年%m月%d日} 前答复您。"
            "还有一些信息没有填写，您可以随时在这里补充。"
        )
    return (
        f"Your complaint is recorded under case number {case_id}, and a complaint handler will answer you by "
        f"{respond_by:%d %B %Y}. Some details are still missing: you can add them here at any time."
    )


def case_completed(language: str, case_id: str) -> str:
    if language == "zh":
        return f"谢谢，您补充的信息已记入案件 {case_id}。"
    return f"Thank you: what you added is now part of case {case_id}."


def satisfaction_question(language: str, case_id: str) -> str:
    if language == "zh":
        return (
            f"您的投诉（{case_id}）已有答复。请问您对处理结果满意吗？请回复 1 到 5 的数字："
            "5 表示非常满意，1 表示非常不满意。"
        )
    return (
        f"Your complaint ({case_id}) has been answered. How satisfied are you with the outcome? Please reply "
        "with a number from 1 to 5: 5 is very satisfied, 1 is very dissatisfied."
    )


def satisfaction_thanks(language: str, reopened: bool) -> str:
    if language == "zh":
        if reopened:
            return "感谢您的反馈。很抱歉这次的答复没有让您满意，您的投诉已重新打开，投诉专员会再次跟进。"
        return "感谢您的反馈，祝您生活愉快。"
    if reopened:
        return (
            "Thank you for telling us. We are sorry the answer did not satisfy you: your complaint is open "
            "again and a complaint handler will follow it up."
        )
    return "Thank you for your feedback."
