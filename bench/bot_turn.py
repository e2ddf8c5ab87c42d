"""A web chat turn through the gateway against a POST to Rasa's REST webhook directly.

Both sides talk to the same Rasa server (same model, same action server) and say the same things: the
eight answers of a complete intake, in Chinese and in English, each conversation a new customer (a new
web chat session through the gateway, a new sender id directly, so neither finds an old tracker).

- Latency: one customer at a time on each side, a gateway intake and a direct one in lockstep (turn by
  turn, which side goes first alternating). A direct turn lasts until Rasa's HTTP answer; a gateway turn
  from the WebSocket message until the ack and every bot message of that turn have arrived as frames, and
  on the intake's last turn until the case frame (the gateway opens the case before it tells the customer,
  so that work is in the measurement). Ratio of the medians over all turns (goal <= 1.15).
- Throughput: 16 customers at once, each through one whole intake (through the gateway a new web chat
  session, connection included); turns per second through the gateway against directly. Runs alternate,
  each gateway run next to a direct one; the ratio is the median of those pairs' ratios, which a change of
  load on the shared machine between pairs does not move (goal >= 0.9).

    .venv/bin/python -m bench.bot_turn [--rounds N] [--throughput-rounds N]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time

import aiohttp

from bench._common import (
    LANGUAGES,
    DirectSide,
    GatewaySide,
    Script,
    Side,
    bot,
    embedded_redis,
    gateway,
    interleaved,
    learn_script,
    lockstep,
    median,
    say,
    table,
    verdict,
)

LATENCY_GOAL = 1.15
THROUGHPUT_GOAL = 0.9
CUSTOMERS = 16


class Bench:
    def __init__(self, http: aiohttp.ClientSession, rasa_url: str, ws_url: str, script: Script) -> None:
        self.http, self.rasa_url, self.ws_url, self.script = http, rasa_url, ws_url, script

    async def latency(self, rounds: int) -> dict[str, list[list[float]]]:
        """Per side, the turn latencies of each intake: a direct and a gateway intake in lockstep."""
        results: dict[str, list[list[float]]] = {"direct": [], "gateway": []}
        for i in range(rounds):
            for j, language in enumerate(LANGUAGES):
                sides = {"direct": DirectSide(self.http, self.rasa_url, language),
                         "gateway": await GatewaySide.open(self.http, self.ws_url, language)}
                for side, times in (await lockstep(sides, self.script[language], rotation=i + j)).items():
                    results[side].append(times)
        return results

    async def throughput(self, side: str) -> float:
        """Turns per second with CUSTOMERS customers at once, each through one whole intake (a fixed amount of
        work, so the rate is not rounded to whole waves of customers)."""

        async def customer(n: int) -> int:
            language = LANGUAGES[n % 2]
            talker: Side = (DirectSide(self.http, self.rasa_url, language) if side == "direct"
                            else await GatewaySide.open(self.http, self.ws_url, language))
            return len((await lockstep({side: talker}, self.script[language]))[side])

        started = time.perf_counter()
        turns = sum(await asyncio.gather(*(customer(n) for n in range(CUSTOMERS))))
        return turns / (time.perf_counter() - started)


async def measure(rasa_url: str, ws_url: str, rounds: int, throughput_rounds: int) -> tuple[float, float]:
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as http:
        script = await learn_script(http, rasa_url)
        bench = Bench(http, rasa_url, ws_url, script)
        await bench.latency(1)  # warm up: the gateway's connections, Rasa's first predictions
        say(f"latency: {2 * rounds} intakes of {len(script[LANGUAGES[0]])} turns on each side, one customer at "
            "a time, in lockstep")
        intakes = await bench.latency(rounds)
        say(f"throughput: {CUSTOMERS} customers at once, one intake each; {throughput_rounds} runs on each side, "
            "alternating")
        rates = await interleaved(throughput_rounds, {
            "direct": lambda: bench.throughput("direct"),
            "gateway": lambda: bench.throughput("gateway"),
        })
    return report(intakes, rates)


def report(intakes: dict[str, list[list[float]]], rates: dict[str, list[float]]) -> tuple[float, float]:
    rows = []
    for turn in range(len(intakes["direct"][0])):
        direct = median([times[turn] for times in intakes["direct"]])
        through = median([times[turn] for times in intakes["gateway"]])
        rows.append([f"turn {turn + 1}", 1000 * direct, 1000 * through, through / direct])
    direct_all = median([t for times in intakes["direct"] for t in times])
    gateway_all = median([t for times in intakes["gateway"] for t in times])
    latency_ratio = gateway_all / direct_all
    rows.append(["all turns", 1000 * direct_all, 1000 * gateway_all, latency_ratio])
    print()
    table(["median latency", "direct ms", "gateway ms", "ratio"], rows)
    print()
    pairs = list(zip(rates["direct"], rates["gateway"], strict=True))
    throughput_ratio = median([g / d for d, g in pairs])
    table(["turns per second", "direct", "gateway", "ratio"],
          [[f"run {i + 1}", d, g, g / d] for i, (d, g) in enumerate(pairs)]
          + [["median", median(rates["direct"]), median(rates["gateway"]), throughput_ratio]])
    print()
    verdict(f"bot turn throughput, {CUSTOMERS} customers", throughput_ratio, THROUGHPUT_GOAL, at_most=False)
    verdict("bot turn latency", latency_ratio, LATENCY_GOAL, at_most=True)
    return latency_ratio, throughput_ratio


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=15, help="latency rounds, one intake per language and side")
    parser.add_argument("--throughput-rounds", type=int, default=9, help="throughput runs on each side")
    args = parser.parse_args()
    with embedded_redis() as redis_url, bot() as rasa, gateway("bot-turn", redis_url, rasa["intake"]) as gw:
        asyncio.run(measure(rasa["intake"], gw.ws_url, args.rounds, args.throughput_rounds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
