"""A finished call's transcript becomes a queued case through the real bot, in one batch pass."""

from __future__ import annotations

import aiohttp
import pytest

from tests.e2e.conftest import TRANSCRIPTS_TOKEN, AgentApi, Gateway

pytestmark = pytest.mark.e2e

CALL = """客服：您好，这里是客户服务中心，请问有什么可以帮您？
客户：我要投诉，我叫钱七，电话13812345678。
客服：好的钱先生，请您说一下具体情况。
客户：你们的APP昨天扣了我两次佣金，同一笔交易收了两次费用。
客服：非常抱歉给您带来不便，我们会尽快核实。
"""


async def test_a_chinese_call_transcript_becomes_a_case_with_the_customers_record(
    gateway: Gateway, agent_account: tuple[str, str], http: aiohttp.ClientSession
) -> None:
    envelope = {"caller": "+8613812345678", "customer_speaker": "客户", "language": "zh", "transcript": CALL}
    headers = {"Authorization": f"Bearer {TRANSCRIPTS_TOKEN}"}
    async with http.post(gateway.url + "/channels/transcripts", json=envelope, headers=headers) as response:
        assert response.status == 202
        answer = await response.json()
    assert answer["case_id"] and answer["status"] == "queued"
    async with http.post(gateway.url + "/channels/transcripts", json=envelope, headers=headers) as again:
        assert (await again.json())["case_id"] == answer["case_id"]

    api = AgentApi(http, gateway.url)
    await api.login(*agent_account)
    case = await api.call("GET", f"/api/cases/{answer['case_id']}")
    assert case["status"] == "queued" and case["channel"] == "transcript" and case["language"] == "zh"
    assert case["customer"]["phone"].endswith("13812345678")
    assert case["customer"]["name"] == "钱七"
    assert "两次佣金" in case["complaint"]["description"]
    assert "客服：" not in case["complaint"]["description"], "only the customer's words make the record"
    assert "非常抱歉给您带来不便" in case["attachments"][0]["text"], "the whole call is attached"
