"""The replicas bench spreads its customers as a balancer would: every gateway and every load process gets an
even share, so a difference between one gateway and two is the gateways', not the load's."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from bench.replicas import assignments

GATEWAYS = ("ws://a/chat/ws", "ws://b/chat/ws", "ws://c/chat/ws")


def spread(urls: Sequence[str], assigned: Sequence[str]) -> int:
    """How far apart the most and the least loaded gateways are."""
    counts = [assigned.count(url) for url in urls]
    return max(counts) - min(counts)


@pytest.mark.parametrize("customers", [1, 7, 32, 33])
@pytest.mark.parametrize("processes", [1, 2, 3, 4])
@pytest.mark.parametrize("gateways", [1, 2, 3])
def test_every_gateway_and_every_process_gets_an_even_share(customers: int, processes: int, gateways: int) -> None:
    urls = GATEWAYS[:gateways]
    shares = assignments(urls, customers, processes)
    assert len(shares) == processes
    assert sum(len(share) for share in shares) == customers
    assert max(map(len, shares)) - min(map(len, shares)) <= 1
    assert spread(urls, [url for share in shares for url in share]) <= 1
    for share in shares:
        assert spread(urls, share) <= 1, share


def test_one_gateway_takes_everyone() -> None:
    assert assignments(GATEWAYS[:1], 4, 2) == [[GATEWAYS[0]] * 2, [GATEWAYS[0]] * 2]
