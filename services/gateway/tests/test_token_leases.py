"""The lease book alone, on a clock the test moves: all-or-nothing spending, expiry,
taking and giving back around a Redis call, top-ups below half, one refill at a time."""

from __future__ import annotations

from ragserve.gateway.limits import Limit
from ragserve.gateway.token_leases import LeaseBook

R, T = Limit.REQUESTS, Limit.TEXTS


def book(now: list[float]) -> LeaseBook:
    return LeaseBook({R: 10, T: 4, Limit.INGEST_BYTES: 0}, ttl_s=1.0, clock=lambda: now[0])


def test_spending_takes_every_cost_or_nothing() -> None:
    now = [0.0]
    leases = book(now)
    assert not leases.spend("k", {R: 1})  # nothing held yet
    leases.add("k", {R: 10, T: 2})
    assert not leases.spend("k", {R: 1, T: 3})  # texts fall short: requests untouched
    assert leases.held("k", R) == 10
    assert leases.spend("k", {R: 1, T: 2})
    assert (leases.held("k", R), leases.held("k", T)) == (9, 0)


def test_tokens_expire_ttl_after_their_lease() -> None:
    now = [0.0]
    leases = book(now)
    leases.add("k", {R: 5})
    now[0] = 0.99
    assert leases.spend("k", {R: 1})
    now[0] = 1.0
    assert leases.held("k", R) == 0 and not leases.spend("k", {R: 1})
    # A new lease does not revive the expired tokens.
    leases.add("k", {R: 3})
    assert leases.held("k", R) == 3


def test_a_call_takes_what_is_held_and_gives_it_back_when_refused() -> None:
    now = [0.0]
    leases = book(now)
    leases.add("k", {R: 2, T: 1})
    taken = leases.take("k", {R: 5, T: 1, Limit.INGEST_BYTES: 7})
    assert taken == {R: 2, T: 1}
    assert leases.held("k", R) == 0
    leases.give_back("k", taken)
    assert (leases.held("k", R), leases.held("k", T)) == (2, 1)


def test_top_ups_refill_leased_limits_below_half_one_refill_at_a_time() -> None:
    now = [0.0]
    leases = book(now)
    leases.add("k", {R: 10, T: 4})
    assert leases.top_ups("k") == {}
    assert leases.spend("k", {R: 6, T: 1})
    assert leases.top_ups("k") == {R: 6}  # 4 of 10 left; texts at 3 of 4
    assert leases.begin_refill("k") and not leases.begin_refill("k")
    leases.end_refill("k")
    assert leases.begin_refill("k")
    assert leases.size(Limit.INGEST_BYTES) == 0 and leases.top_ups("other") == {}
