"""Turn 200 of one customer's session: through the gateway against Rasa's REST webhook at its own turn 200.

A customer who keeps one session (a web chat session lives 30 days; an SMS conversation is a phone number
for ever) comes back with complaint after complaint. Here one session says 200 things: twenty-five complete
intakes of eight answers each (tests/e2e/test_intake.py), all in one language, Chinese or English by run.

- Directly, the session is one sender id on Rasa's REST webhook, on a Rasa server as it runs without
  the gateway: Rasa's default InMemoryTrackerStore, which keeps every event of the sender and reads them all
  again on every turn, so its turns grow with the tracker. This is the anchor.
- Through the gateway, the session is one web chat session. When an intake's record is complete the
  gateway opens a case and the customer's later messages belong to that case, not to the bot; so after each
  intake a supervisor closes the case through the agent API (``POST /api/cases/{id}/close``, not timed),
  and the session's next message starts a new intake, which the gateway sends to Rasa as a new sender.
  Measured on the Rasa server the gateway ships with (bot/endpoints.yml: CurrentIntakeTrackerStore).
  The last turn of each intake lasts until the case frame: through the gateway it includes opening the
  case, which the anchor does not do.

Two more rows tell the two measures apart: the gateway in front of Rasa's default store, and Rasa with our
store but without the gateway. The four sessions go in lockstep (turn n of each, in an order that rotates
from turn to turn and from session to session), ``--rounds`` times; the ratio is the median over sessions
of turn 200's latency through the gateway over the anchor's in the same session (goal <= 0.5).

Turn 200 rather than turn 60: at turn 60 the anchor's tracker had not grown enough (its turn 60 took 1.7x
its turn 5), so the gateway's turn would have had to be faster than Rasa's own short turn to reach 0.5. By
turn 200 the anchor's turn takes some four times its first intake's last turn. A session of 200 turns on
four sides is 800 bot turns; on this 2-core machine, shared with other work, a session took two to two and
a half minutes, so the default is four rounds (two per language) rather than five: the module ran in 9.5 to
11 minutes, Rasa's start included.

    .venv/bin/python -m bench.long_conversation [--rounds N]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time

import aiohttp

from bench._common import (
    CONVERSATIONS,
    LANGUAGES,
    ChatCustomer,
    DirectSide,
    GatewaySide,
    Script,
    Side,
    add_account,
    bot,
    embedded_redis,
    gateway,
    learn_script,
    lockstep,
    median,
    say,
    table,
    verdict,
)

GOAL = 0.5
ANSWERS = len(CONVERSATIONS[LANGUAGES[0]])  # turns of one intake, the same in every language
INTAKES = 25
TURNS = INTAKES * ANSWERS  # the turn measured: the last of the last intake
SHOWN_EVERY = 5  # intakes between the rows of the per-turn table
SUPERVISOR = "bench-supervisor"
ANCHOR, MEASURED = "direct, Rasa's default store", "gateway, shipped Rasa (our store)"
OTHER_GATEWAY, OTHER_DIRECT = "gateway, Rasa's default store", "direct, our store"


class Desk:
    """A supervisor on the agent API, closing cases so the customer's next message starts a new intake."""

    def __init__(self, http: aiohttp.ClientSession, base_url: str, token: str) -> None:
        self.http, self.base_url, self.headers = http, base_url, {"Authorization": f"Bearer {token}"}

    @classmethod
    async def log_in(cls, http: aiohttp.ClientSession, redis_url: str, base_url: str) -> Desk:
        password = await asyncio.to_thread(add_account, redis_url, SUPERVISOR)
        async with http.post(f"{base_url}/api/login", json={"name": SUPERVISOR, "password": password}) as response:
            response.raise_for_status()
            return cls(http, base_url, (await response.json())["token"])

    async def close_case(self, customer: ChatCustomer) -> None:
        """Close the case the customer's intake opened. Nothing to wait for once the call returns: the gateway
        reads the case's status when the next message comes (gateway/router.py, ``_open_case_of``), and the
        customer hears nothing of a close (handoff/desk.py, ``close``, tells the desk only)."""
        url = f"{self.base_url}/api/cases/{customer.case_id}/close"
        async with self.http.post(url, headers=self.headers) as response:
            response.raise_for_status()


async def measure(redis_url: str, rasa: dict[str, str], gateways: dict[str, str], rounds: int) -> float:
    async with aiohttp.ClientSession() as http:
        script = await learn_script(http, rasa["stock"])
        desk = await Desk.log_in(http, redis_url, gateways["intake"])
        await warm_up(http, rasa, gateways, desk, script)
        say(f"{rounds} sessions of {TURNS} turns on each of 4 sides, in lockstep turn by turn")
        runs: dict[str, list[list[float]]] = {}
        for i in range(rounds):
            language = LANGUAGES[i % len(LANGUAGES)]
            sides: dict[str, Side] = {
                ANCHOR: DirectSide(http, rasa["stock"], language),
                MEASURED: await GatewaySide.open(http, gateways["intake"] + "/chat/ws", language, desk.close_case),
                OTHER_GATEWAY: await GatewaySide.open(http, gateways["stock"] + "/chat/ws", language,
                                                      desk.close_case),
                OTHER_DIRECT: DirectSide(http, rasa["intake"], language),
            }
            started = time.monotonic()
            for name, times in (await lockstep(sides, script[language] * INTAKES, rotation=i)).items():
                runs.setdefault(name, []).append(times)
            # A session is minutes long: say so as each ends, and what its turn 200 was on either side.
            say(f"session {i + 1} ({language}) in {time.monotonic() - started:.0f}s: turn {TURNS} "
                f"{1000 * runs[MEASURED][-1][-1]:.0f} ms through the gateway, {1000 * runs[ANCHOR][-1][-1]:.0f} ms "
                "direct")
    return report(runs)


async def warm_up(http: aiohttp.ClientSession, rasa: dict[str, str], gateways: dict[str, str], desk: Desk,
                  script: Script) -> None:
    """One intake per language on every path: connections open, Rasa's first predictions made."""
    for language in LANGUAGES:
        sides: dict[str, Side] = {}
        for store in rasa:
            sides[f"direct {store}"] = DirectSide(http, rasa[store], language)
            sides[f"gateway {store}"] = await GatewaySide.open(http, gateways[store] + "/chat/ws", language,
                                                               desk.close_case)
        await lockstep(sides, script[language])


def shown_intakes() -> list[int]:
    """The intakes whose last turn the per-turn table shows: the first, then every fifth, and the last."""
    return sorted({0, *range(SHOWN_EVERY - 1, INTAKES, SHOWN_EVERY), INTAKES - 1})


def report(runs: dict[str, list[list[float]]]) -> float:
    per_turn = {name: [median([run[t] for run in sessions]) for t in range(TURNS)] for name, sessions in runs.items()}
    print()
    short = {ANCHOR: "direct default", MEASURED: "gateway shipped", OTHER_GATEWAY: "gateway default",
             OTHER_DIRECT: "direct ours"}
    table(["turn (last of intake)", *(f"{short[name]} ms" for name in per_turn)],
          [[f"{ANSWERS * (k + 1)}", *(1000 * per_turn[name][ANSWERS * (k + 1) - 1] for name in per_turn)]
           for k in shown_intakes()])
    print()
    # Both the last turn of an intake: the first intake's against the last one's.
    first, last = ANSWERS - 1, TURNS - 1
    anchor = per_turn[ANCHOR][last]
    table(["median over sessions", f"turn {ANSWERS} ms", f"turn {TURNS} ms", f"{TURNS} / {ANSWERS}",
           f"turn {TURNS} vs anchor"],
          [[name, 1000 * p[first], 1000 * p[last], p[last] / p[first], p[last] / anchor]
           for name, p in per_turn.items()])
    print()
    # Turn 200 of every side is measured within a second or two of the others: each session's own ratio is
    # free of the load changes between sessions, and their median is the figure.
    paired = [m[last] / a[last] for m, a in zip(runs[MEASURED], runs[ANCHOR], strict=True)]
    say(f"turn {TURNS} through the gateway over the anchor's, session by session: "
        + " ".join(f"{r:.2f}" for r in paired))
    ratio = median(paired)
    growth = anchor / per_turn[ANCHOR][first]
    verdict(f"long conversation, turn {TURNS}", ratio, GOAL, at_most=True,
            why=f"the anchor's turn {TURNS} takes {growth:.2f}x its turn {ANSWERS}, and that growth is all a new Rasa "
                "conversation per intake can save; the gateway's turn also opens the case")
    return ratio


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=4, help=f"sessions of {TURNS} turns on each side (default 4)")
    args = parser.parse_args()
    with (embedded_redis() as redis_url, bot(("intake", "stock")) as rasa,
          gateway("long-intake", redis_url, rasa["intake"]) as shipped,
          gateway("long-stock", redis_url, rasa["stock"]) as plain):
        asyncio.run(measure(redis_url, rasa, {"intake": shipped.url, "stock": plain.url}, args.rounds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
