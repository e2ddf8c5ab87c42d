"""Rasa's in-memory tracker store, keeping each conversation from its latest restart on.

The bot restarts a conversation when an intake ends (the record went to the gateway as ``case_ready`` or
``human_requested``). Rasa's own InMemoryTrackerStore keeps every event of every intake and re-reads them
all on every turn, so a sender that is reused for intake after intake gets slower with each one; this
store drops what came before the restart, so every turn costs the same. The gateway keeps the transcript
(the record of what was said), and finished intakes' personal data does not linger in the bot's memory.

Configured in endpoints.yml:

    tracker_store:
      type: components.tracker_store.CurrentIntakeTrackerStore
"""

from __future__ import annotations

import json
from typing import Any

from rasa.core.brokers.broker import EventBroker
from rasa.core.tracker_store import InMemoryTrackerStore
from rasa.shared.core.conversation import Dialogue
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker


class CurrentIntakeTrackerStore(InMemoryTrackerStore):
    def __init__(
        self,
        domain: Domain,
        event_broker: EventBroker | None = None,
        host: str | None = None,
        **kwargs: dict[str, Any],
    ) -> None:
        super().__init__(domain, event_broker, **kwargs)

    async def save(self, tracker: DialogueStateTracker) -> None:
        await self.stream_events(tracker)
        events = tracker.events_after_latest_restart()
        dialogue = Dialogue(tracker.sender_id, events)
        self.store[tracker.sender_id] = json.dumps(dialogue.as_dict())
