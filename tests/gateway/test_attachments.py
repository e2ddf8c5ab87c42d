"""Customers' files: kept with the record (not left in Redis), shown to the handlers of the case's desk as
downloads that never render as a page, and purged with their case."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

import pytest
from redis.asyncio import Redis
from sqlalchemy import func, select

from gateway import keys
from gateway.app import create_app
from gateway.settings import Settings
from records.record import CASE_FILES, FILES
from records.recovery import years_before
from store.keys import attachment_key
from tests.conftest import PASSWORD, login

STATEMENT = b"%PDF-1.4 a customer's bank statement"
PAGE = b"<html><script>alert(document.cookie)</script></html>"


@pytest.fixture
async def client(aiohttp_client: Any, settings: Settings) -> Any:
    app = create_app(settings)
    client = await aiohttp_client(app)
    await app[keys.AGENTS].add("ann", PASSWORD, "agent", ("en",))
    await app[keys.AGENTS].add("li", PASSWORD, "agent", ("zh",))
    return client


async def email_with_files(client: Any, redis: Redis, *files: tuple[str, str, bytes]) -> str:
    """A case opened from an email whose files wait in Redis, as the mail reader leaves them."""
    entries = []
    for name, content_type, content in files:
        digest = hashlib.sha256(content).hexdigest()
        await redis.set(attachment_key(digest), content, ex=3600)
        entries.append({"name": name, "content_type": content_type, "size": len(content),
                        "url": f"attachment:{digest}"})
    message = {"at": datetime.now(UTC).isoformat(), "from": "customer", "channel": "email",
               "text": "Please see the attached statement", "attachments": entries}
    case = await client.app[keys.CASES].create(
        channel="email", conversation_id="email:thread-1", language="en",
        customer={"name": "Ann Customer", "email": "ann@example.com"},
        complaint={"description": "I was charged a fee twice, see the statement"},
        handoff_reason="complete", messages=[message], attachments=entries)
    return str(case["id"])


async def test_a_customers_file_moves_to_the_record_and_downloads_as_a_file(client: Any, redis: Redis) -> None:
    case_id = await email_with_files(client, redis, ("statement.pdf", "application/pdf", STATEMENT),
                                     ("page.html", "text/html", PAGE))
    assert await redis.keys("cg:attachment:*") == [], "Redis does not keep files once the record has them"
    ann = await login(client, "ann")
    case = await (await client.get(f"/api/cases/{case_id}", headers=ann)).json()
    pdf, html = case["messages"][0]["attachments"]
    pdf_url = f"/api/cases/{case_id}/attachments/{pdf['url'].split(':')[1]}"

    statement = await client.get(pdf_url, headers=ann)
    assert statement.status == 200 and await statement.read() == STATEMENT
    assert statement.headers["Content-Type"] == "application/pdf"
    assert statement.headers["Content-Disposition"].startswith("attachment;")
    assert "statement.pdf" in statement.headers["Content-Disposition"]

    page = await client.get(f"/api/cases/{case_id}/attachments/{html['url'].split(':')[1]}", headers=ann)
    assert await page.read() == PAGE
    assert page.headers["Content-Type"] == "application/octet-stream", "an HTML file never renders as our page"
    assert page.headers["X-Content-Type-Options"] == "nosniff" and page.headers["Content-Disposition"].startswith(
        "attachment;")

    # Only handlers of the case's desk, and only the case's own files.
    assert (await client.get(pdf_url, headers=await login(client, "li"))).status == 403
    client.session.cookie_jar.clear()
    assert (await client.get(pdf_url)).status == 401
    other = hashlib.sha256(b"someone else's file").hexdigest()
    assert (await client.get(f"/api/cases/{case_id}/attachments/{other}", headers=ann)).status == 404


async def test_a_file_is_purged_with_the_last_case_that_holds_it(client: Any, redis: Redis) -> None:
    case_id = await email_with_files(client, redis, ("statement.pdf", "application/pdf", STATEMENT))
    record = client.app[keys.RECORD]
    case = await client.app[keys.CASES].get(case_id)
    closed = {**case, "status": "closed", "created_at": years_before(datetime.now(UTC), 6).isoformat()}
    await record.save(closed)
    summary = await record.purge(years_before(datetime.now(UTC), 5), by="auditor")
    assert summary.case_ids == (case_id,)
    async with record.engine.connect() as connection:
        assert await connection.scalar(select(func.count()).select_from(FILES)) == 0
        assert await connection.scalar(select(func.count()).select_from(CASE_FILES)) == 0
