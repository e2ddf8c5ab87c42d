"""Recovery between the working store and the record: Redis rebuilt from the record after Redis was lost
(``complaint-gateway rebuild-queue``), and the retention purge of both (``complaint-gateway purge``).

Everything here goes through the public methods of ``CaseRecord``, ``CaseStore`` and ``AgentQueue``; a
conversation's link to its open case is the router's to write (``LinkConversation``), so no key of Redis is
spelled here.

Guarantees:
- rebuilding is safe to run again: what Redis still holds is left as it is (its copy is the newer one), and a
  second run finds nothing to do;
- every case comes back with its messages and events; waiting cases (queued, reopened) are in their lanes again,
  in the order they were opened; a claimed case's claim is watched again from now, so a handler who is gone
  loses it after the claim timeout; each conversation's newest open case is again its open case;
- a purge takes from Redis exactly the cases it took from the record, and a dry run takes nothing from either.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import datetime

from handoff.cases import Case, CaseStore
from handoff.queue import CLAIMABLE, AgentQueue
from records.record import CaseRecord, PurgeSummary

# Make the case the open case of its conversation unless the conversation names one already; whether it did.
# (conversation id, case id) -> bool; the gateway's router gives it (gateway.router.link_open_case).
LinkConversation = Callable[[str, str], Awaitable[bool]]


async def rebuild_working_state(
    record: CaseRecord, cases: CaseStore, queue: AgentQueue, link_conversation: LinkConversation
) -> dict[str, int]:
    """Put Redis's working state back from the record, after Redis was lost; how many of each were put back
    (``cases`` read, ``restored``, ``requeued``, ``claims`` watched, ``conversations`` linked)."""
    await queue.ensure_group()
    counts: Counter[str] = Counter(cases=0, restored=0, requeued=0, claims=0, conversations=0)
    conversations: dict[str, str] = {}
    async for case in record.all_cases():
        counts["cases"] += 1
        counts["restored"] += await cases.restore(case)
        current = await cases.summary(case["id"])
        counts["requeued"] += await _requeue(queue, current)
        counts["claims"] += await _watch_claim(queue, current)
        if current["status"] != "closed" and current.get("conversation_id"):
            conversations[current["conversation_id"]] = current["id"]  # oldest first: the newest open case wins
    for conversation_id, case_id in conversations.items():
        counts["conversations"] += await link_conversation(conversation_id, case_id)
    return dict(counts)


async def _requeue(queue: AgentQueue, case: Case) -> bool:
    if case["status"] not in CLAIMABLE or await queue.is_waiting(case["id"]):
        return False
    await queue.enqueue(case["id"])
    return True


async def _watch_claim(queue: AgentQueue, case: Case) -> bool:
    if case["status"] != "claimed" or not case.get("assignee") or await queue.is_watched(case["id"]):
        return False
    await queue.watch_claim(case["id"], case["assignee"])  # its heartbeat counts from now
    return True


def years_before(moment: datetime, years: int) -> datetime:
    """The same day and time ``years`` earlier (28 February for a 29th that year lacks)."""
    try:
        return moment.replace(year=moment.year - years)
    except ValueError:
        return moment.replace(year=moment.year - years, day=28)


async def purge_expired(
    record: CaseRecord, cases: CaseStore, *, before: datetime, by: str, dry_run: bool = False
) -> PurgeSummary:
    """Purge the record (see ``CaseRecord.purge``), then drop the purged cases from Redis too."""
    summary = await record.purge(before, by, dry_run=dry_run)
    if not dry_run:
        for case_id in summary.case_ids:
            await cases.discard(case_id)
    return summary
