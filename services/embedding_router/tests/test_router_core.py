"""Routing logic of the core against fakes of the router's own provider interface."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace

import numpy as np
import pytest
from router_fakes import (
    DIM,
    TOKENIZER,
    FakeClient,
    SkippingClock,
    provider,
    router_config,
    vector_of,
)

from ragserve.embedding_router.breaker import BreakerState
from ragserve.embedding_router.config import (
    ModelConfig,
    PiiPolicy,
    ProviderConfig,
    RouterConfig,
    RoutingWeights,
    TenantConfig,
)
from ragserve.embedding_router.providers.base import EmbeddingReply, Priority, ProviderError
from ragserve.embedding_router.router import EmbeddingRouter
from ragserve.embedding_router.types import EmbedCall
from ragserve.errors import (
    DeadlineExceeded,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    ResourceExhausted,
    Unavailable,
)


@asynccontextmanager
async def running(
    config: RouterConfig, clients: Mapping[str, FakeClient], clock: SkippingClock | None = None
) -> AsyncIterator[EmbeddingRouter]:
    clock = clock or SkippingClock()
    router = EmbeddingRouter(config, clients=clients, clock=clock, sleep=clock.sleep)
    await router.start()
    try:
        yield router
    finally:
        await router.close()


def call(texts: Sequence[str], model: str = "m1", tenant: str = "t", **kw: object) -> EmbedCall:
    return EmbedCall(tenant=tenant, model=model, texts=list(texts), **kw)  # type: ignore[arg-type]


async def test_cheapest_provider_serves_and_second_call_is_cached() -> None:
    clients = {"free": FakeClient(salt=""), "paid": FakeClient(salt="")}
    config = router_config([provider("free"), provider("paid", price=0.5, external=True)])
    async with running(config, clients) as router:
        first = await router.embed(call(["hello world", "bye"]))
        assert [i.provider_id for i in first.items] == ["free", "free"]
        assert [i.cached for i in first.items] == [False, False]
        assert [i.cost for i in first.items] == [0.0, 0.0]
        np.testing.assert_array_equal(first.items[0].vector, vector_of("hello world"))
        second = await router.embed(call(["bye", "hello world"]))
        assert [i.cached for i in second.items] == [True, True]
        assert [i.provider_id for i in second.items] == ["free", "free"]
        np.testing.assert_array_equal(second.items[1].vector, first.items[0].vector)
        assert clients["free"].texts_seen == ["hello world", "bye"]
        assert clients["paid"].calls == []


async def test_cost_is_tokens_times_price_and_a_repeated_text_is_charged_once() -> None:
    clients = {"paid": FakeClient()}
    async with running(router_config([provider("paid", price=2.0)]), clients) as router:
        result = await router.embed(call(["hello world", "hello world"]))
        # No tokenizer: "hello world" is estimated at 2 words + 2 special tokens = 4 tokens, at
        # 2.0 per 1000.
        assert [i.cost for i in result.items] == [0.008, 0.0]
        assert [(i.tokens, i.tokens_estimated) for i in result.items] == [(4, True), (0, False)]
        assert result.total_cost == 0.008
        assert clients["paid"].texts_seen == ["hello world"]
        again = await router.embed(call(["hello world"]))
        assert [(i.cached, i.tokens, i.tokens_estimated, i.cost) for i in again.items] == [
            (True, 0, False, 0.0)
        ]


def _tokenized(max_tokens: int = 256) -> tuple[ModelConfig, ...]:
    return (ModelConfig("m1", "1", DIM, max_tokens=max_tokens, tokenizer=TOKENIZER),)


RARE = "antidisestablishmentarianism"  # 1 word, 10 tokens with the model's tokenizer


async def test_with_the_models_tokenizer_tokens_are_counted_not_estimated() -> None:
    clients = {"paid": FakeClient()}
    config = router_config([provider("paid", price=1.0)], models=_tokenized())
    async with running(config, clients) as router:
        result = await router.embed(call(["hello world", RARE]))
        assert [(i.tokens, i.tokens_estimated) for i in result.items] == [(4, False), (10, False)]
        assert [i.cost for i in result.items] == [0.004, 0.01]


async def test_refuse_counts_with_the_tokenizer_and_names_index_count_and_limit() -> None:
    clients = {"a": FakeClient()}
    config = router_config([provider("a")], models=_tokenized(max_tokens=8))
    async with running(config, clients) as router:
        # Estimated, the rare word is 3 tokens and would pass; the tokenizer says 10.
        with pytest.raises(InvalidArgument) as caught:
            await router.embed(call(["hello world", RARE], truncate=False))
        assert caught.value.message == (
            "texts[1]: text has 10 tokens, model 'm1' accepts at most 8 (max_tokens) and "
            "truncation is 'refuse'"
        )
        assert clients["a"].calls == []
        # Truncation allowed (the default): the provider gets it and truncates.
        result = await router.embed(call(["hello world", RARE]))
        assert [i.tokens for i in result.items] == [4, 10]


async def test_refuse_without_a_tokenizer_says_the_count_is_an_estimate() -> None:
    models = (ModelConfig("m1", "1", DIM, max_tokens=3),)
    async with running(router_config([provider("a")], models=models), {"a": FakeClient()}) as r:
        with pytest.raises(InvalidArgument) as caught:
            await r.embed(call(["fine", "one two three"], truncate=False))
        assert caught.value.message == (
            "texts[1]: text has about 5 tokens (estimated), model 'm1' accepts at most 3 "
            "(max_tokens) and truncation is 'refuse'"
        )


async def test_a_providers_reported_usage_is_what_is_charged() -> None:
    # One call carries both texts; the provider says it used 28 tokens for the call.
    clients = {"paid": FakeClient(usage=28)}
    config = router_config([provider("paid", price=1.0)], models=_tokenized())
    async with running(config, clients) as router:
        result = await router.embed(call(["hello world", RARE]))
        # Split in proportion to the tokenizer's counts (4 : 10), summing to the reported 28.
        assert [(i.tokens, i.tokens_estimated) for i in result.items] == [(8, False), (20, False)]
        assert [i.cost for i in result.items] == [0.008, 0.02]
    # Reported usage is a count, not an estimate, even where the router has no tokenizer.
    clients = {"paid": FakeClient(usage=9)}
    async with running(router_config([provider("paid", price=1.0)]), clients) as router:
        result = await router.embed(call(["hello world"]))
        assert [(i.tokens, i.tokens_estimated) for i in result.items] == [(9, False)]


async def test_failover_stays_inside_the_model_and_opens_the_breaker() -> None:
    clients = {
        "a": FakeClient(fail_next=100),
        "b": FakeClient(),
        "other-model": FakeClient(),
    }
    config = router_config(
        [provider("a"), provider("b", quality=0.5), provider("other-model", model="m2")]
    )
    async with running(config, clients) as router:
        for n in range(3):
            result = await router.embed(call([f"text {n}"]))
            assert result.items[0].provider_id == "b"
        status = {s.provider_id: s for s in router.provider_status()}
        assert status["a"].breaker_state is BreakerState.OPEN
        assert status["b"].breaker_state is BreakerState.CLOSED
        # Two failed calls opened a's breaker; after that it got no more calls.
        assert len(clients["a"].calls) == 2
        assert clients["other-model"].calls == []


async def test_no_healthy_provider_is_unavailable_naming_the_model() -> None:
    clients = {"a": FakeClient(fail_next=100), "z": FakeClient()}
    config = router_config([provider("a"), provider("z", model="m2")])
    async with running(config, clients) as router:
        with pytest.raises(Unavailable) as first:
            await router.embed(call(["x"]))
        assert first.value.message == (
            "model 'm1' has no healthy provider (a: circuit open, retry in 60.0 s)"
        )
        with pytest.raises(Unavailable, match=r"^model 'm1' has no healthy provider \(a: "):
            await router.embed(call(["y"]))
        assert clients["z"].calls == []


async def test_throttled_provider_is_skipped_for_another_of_the_same_model() -> None:
    throttle = ProviderError("fake: HTTP 429", throttled=True, retry_after_s=30.0)
    clients = {"a": FakeClient(fail_next=1, error=throttle), "b": FakeClient()}
    config = router_config([provider("a"), provider("b", quality=0.1)])
    async with running(config, clients) as router:
        result = await router.embed(call(["x"]))
        assert result.items[0].provider_id == "b"
        status = {s.provider_id: s for s in router.provider_status()}
        assert status["a"].breaker_state is BreakerState.CLOSED  # 429 is not a fault
        assert 29.0 < status["a"].throttled_for_s <= 30.0
        # While a is throttled, calls go to b without trying a.
        await router.embed(call(["y"]))
        assert len(clients["a"].calls) == 1


async def test_retry_after_is_waited_out_when_the_deadline_allows() -> None:
    throttle = ProviderError("fake: HTTP 429", throttled=True, retry_after_s=0.05)
    clients = {"a": FakeClient(fail_next=1, error=throttle)}
    clock = SkippingClock()
    async with running(router_config([provider("a")]), clients, clock) as router:
        started = clock()
        result = await router.embed(call(["x"]))
        assert clock() - started >= 0.05
        assert result.items[0].provider_id == "a"
        with pytest.raises(ResourceExhausted) as caught:
            clients["a"].fail_next = 1
            clients["a"].error = ProviderError("429", throttled=True, retry_after_s=10.0)
            await router.embed(call(["y"], deadline=clock() + 1.0))
        assert caught.value.message.startswith(
            "model 'm1': every available provider is rate limiting (a); retry after "
        )
        assert caught.value.retry_after_s is not None and 9.0 < caught.value.retry_after_s <= 10


async def test_deadline_bounds_a_hanging_provider() -> None:
    clients = {"a": FakeClient(gate=asyncio.Event())}
    clock = SkippingClock()
    async with running(router_config([provider("a")]), clients, clock) as router:
        with pytest.raises(DeadlineExceeded, match=r"^model 'm1': deadline passed after 1 "):
            await router.embed(call(["x"], deadline=clock() + 0.1))
        clients["a"].gate.set()  # type: ignore[union-attr]


def _budget_config(fallback: bool) -> RouterConfig:
    config = router_config(
        [provider("dear", price=0.1, quality=1.0), provider("free", price=0.0, quality=0.2)],
        tenants=[TenantConfig("acme", daily_budget=0.001, allow_cheaper_fallback=fallback)],
    )
    # Quality first, so the dearer provider is preferred while the budget allows.
    weights = RoutingWeights(cost=0.1, latency=0.0, quality=0.9)
    return replace(config, routing=replace(config.routing, weights=weights))


async def test_over_budget_is_resource_exhausted_with_time_to_the_reset() -> None:
    clients = {"dear": FakeClient(), "free": FakeClient()}
    async with running(_budget_config(fallback=False), clients) as router:
        first = await router.embed(call(["hello world", "good bye"], tenant="acme"))
        assert [i.provider_id for i in first.items] == ["dear", "dear"]
        assert round(first.total_cost, 9) == 0.0008
        with pytest.raises(ResourceExhausted) as caught:
            await router.embed(call(["three more words", "and more"], tenant="acme"))
        assert caught.value.message == (
            "tenant 'acme' is over its daily budget of 0.0010: spent 0.0008 today and this call "
            "needs 0.0009 on provider 'dear' (model 'm1'); the budget resets at 00:00 UTC"
        )
        assert caught.value.retry_after_s is not None and 0 < caught.value.retry_after_s <= 86400
        # Other tenants have no budget.
        await router.embed(call(["three more words"], tenant="other"))


async def test_over_budget_falls_back_to_a_cheaper_provider_of_the_same_model() -> None:
    clients = {"dear": FakeClient(), "free": FakeClient()}
    async with running(_budget_config(fallback=True), clients) as router:
        await router.embed(call(["hello world", "good bye"], tenant="acme"))
        result = await router.embed(call(["three more words"], tenant="acme"))
        assert result.items[0].provider_id == "free"
        assert result.items[0].cost == 0.0


def _pii_config(policy: PiiPolicy, providers: list[ProviderConfig]) -> RouterConfig:
    return router_config(providers, tenants=[TenantConfig("acme", pii_policy=policy)])


async def test_redact_sends_only_redacted_text_out_and_caches_it_under_that_text() -> None:
    clients = {"ext": FakeClient()}
    config = _pii_config(PiiPolicy.REDACT, [provider("ext", external=True)])
    async with running(config, clients) as router:
        text = "write to jane@example.com about card 4111 1111 1111 1111"
        result = await router.embed(call([text], tenant="acme"))
        sent = "write to [EMAIL] about card [CARD]"
        assert clients["ext"].texts_seen == [sent]
        np.testing.assert_array_equal(result.items[0].vector, vector_of(sent))
        again = await router.embed(call([text], tenant="acme"))
        assert again.items[0].cached is True
        # A tenant without a policy sends the text as written, and gets that text's vector.
        plain = await router.embed(call([text], tenant="someone-else"))
        assert plain.items[0].cached is False
        assert clients["ext"].texts_seen == [sent, text]


async def test_refuse_keeps_pii_on_internal_providers_or_refuses() -> None:
    clients = {"int": FakeClient(), "ext": FakeClient()}
    mixed = _pii_config(
        PiiPolicy.REFUSE, [provider("int", quality=0.1), provider("ext", external=True)]
    )
    async with running(mixed, clients) as router:
        result = await router.embed(call(["mail bob@example.org", "no secrets"], tenant="acme"))
        assert [i.provider_id for i in result.items] == ["int", "ext"]
        assert clients["ext"].texts_seen == ["no secrets"]

    only_external = _pii_config(PiiPolicy.REFUSE, [provider("ext", external=True)])
    async with running(only_external, {"ext": FakeClient()}) as router:
        with pytest.raises(FailedPrecondition) as caught:
            await router.embed(call(["fine", "call +1 415 555 0100 now"], tenant="acme"))
        assert caught.value.message == (
            "texts[1] contains personal data (phone) and tenant 'acme' has PII policy 'refuse'; "
            "model 'm1' has only external providers"
        )


async def test_single_flight_fifty_identical_requests_compute_once() -> None:
    gate = asyncio.Event()
    clients = {"a": FakeClient(gate=gate)}
    async with running(router_config([provider("a")]), clients) as router:
        tasks = [asyncio.create_task(router.embed(call(["same text"]))) for _ in range(50)]
        await clients["a"].started.wait()
        gate.set()
        results = await asyncio.gather(*tasks)
        assert clients["a"].calls == [["same text"]]
        assert sum(r.items[0].cost == 0 for r in results) == 50
        # The owner is charged the tokens ("same text": 2 words + 2); followers nothing.
        assert sorted(r.items[0].tokens for r in results) == [0] * 49 + [4]
        for r in results:
            np.testing.assert_array_equal(r.items[0].vector, vector_of("same text"))


async def test_with_no_wait_a_lone_text_goes_at_once_and_texts_arriving_meanwhile_share_a_call() -> (
    None
):
    gate = asyncio.Event()
    clients = {"a": FakeClient(gate=gate)}
    config = router_config([provider("a", max_batch=8, max_concurrency=1)])
    assert config.providers[0].max_batch_wait_s == 0.0
    async with running(config, clients) as router:
        first = asyncio.create_task(router.embed(call(["t0"])))
        await clients["a"].started.wait()
        # t0 went alone, without waiting for company.
        assert clients["a"].calls == [["t0"]]
        rest = [asyncio.create_task(router.embed(call([f"t{i}"]))) for i in range(1, 9)]
        await _until_in_flight(router, "a", 9)
        gate.set()
        await asyncio.gather(first, *rest)
        # The eight that arrived while t0's call ran went together in the next call.
        assert clients["a"].calls == [["t0"], [f"t{i}" for i in range(1, 9)]]


async def _until_in_flight(router: EmbeddingRouter, provider_id: str, count: int) -> None:
    """Let the submitted calls reach the provider's queue (each takes a few loop iterations)."""
    for _ in range(1000):
        status = {s.provider_id: s for s in router.provider_status()}
        if status[provider_id].in_flight == count:
            return
        await asyncio.sleep(0)
    raise AssertionError(f"{provider_id} never had {count} texts in flight")


async def test_a_call_carrying_a_high_priority_text_goes_at_high_priority() -> None:
    gate = asyncio.Event()
    clients = {"a": FakeClient(gate=gate)}
    config = router_config([provider("a", max_batch=8, max_concurrency=1)])
    async with running(config, clients) as router:
        first = asyncio.create_task(router.embed(call(["alone"], priority=2)))
        await clients["a"].started.wait()
        # Queued while the first call runs, so they share the next call.
        rest = [
            asyncio.create_task(router.embed(call(["low"], priority=2))),
            asyncio.create_task(router.embed(call(["high"], priority=0))),
        ]
        await _until_in_flight(router, "a", 3)
        gate.set()
        await asyncio.gather(first, *rest)
        # The high-priority text's batcher queue is served first.
        assert clients["a"].calls == [["alone"], ["high", "low"]]
        assert clients["a"].priorities == [Priority.LOW, Priority.HIGH]


async def test_a_provider_call_is_cancelled_when_all_its_callers_have_gone() -> None:
    gate = asyncio.Event()
    clients = {"a": FakeClient(gate=gate)}
    config = router_config([provider("a", max_concurrency=1)])
    async with running(config, clients) as router:
        running_call = asyncio.create_task(router.embed(call(["sent"])))
        await clients["a"].started.wait()
        queued = asyncio.create_task(router.embed(call(["never sent"])))
        await _until_in_flight(router, "a", 2)
        running_call.cancel()
        queued.cancel()
        for task in (running_call, queued):
            with pytest.raises(asyncio.CancelledError):
                await task
        # The running call was cancelled at the provider; the queued text was dropped unsent.
        assert clients["a"].cancelled == [["sent"]]
        [status] = router.provider_status()
        assert (status.in_flight, status.calls, status.breaker_state) == (
            0,
            1,
            BreakerState.CLOSED,
        )
        assert status.success_ratio_ewma == 1.0  # a cancelled call says nothing about health
        gate.set()
        await router.embed(call(["after"]))
        assert clients["a"].calls == [["sent"], ["after"]]


async def test_a_shared_provider_call_goes_on_while_one_caller_still_waits() -> None:
    gate = asyncio.Event()
    clients = {"a": FakeClient(gate=gate)}
    # A short wait so that both callers' texts are in one call.
    config = router_config([provider("a", wait_s=0.01)])
    async with running(config, clients) as router:
        leaving = asyncio.create_task(router.embed(call(["p"])))
        staying = asyncio.create_task(router.embed(call(["q"])))
        await clients["a"].started.wait()
        assert clients["a"].calls == [["p", "q"]]
        leaving.cancel()
        with pytest.raises(asyncio.CancelledError):
            await leaving
        gate.set()
        result = await staying
        np.testing.assert_array_equal(result.items[0].vector, vector_of("q"))
        assert clients["a"].cancelled == []


async def test_concurrent_small_requests_are_coalesced_into_one_provider_call() -> None:
    clients = {"a": FakeClient()}
    config = router_config([provider("a", max_batch=8, wait_s=0.05)])
    async with running(config, clients) as router:
        results = await asyncio.gather(*(router.embed(call([f"t{i}"])) for i in range(8)))
        assert [len(c) for c in clients["a"].calls] == [8]
        for i, r in enumerate(results):
            np.testing.assert_array_equal(r.items[0].vector, vector_of(f"t{i}"))


async def test_wrong_dimension_from_a_provider_is_never_returned() -> None:
    class WrongDim(FakeClient):
        async def embed(
            self, texts: Sequence[str], timeout_s: float, priority: Priority = Priority.NORMAL
        ) -> EmbeddingReply:
            self.calls.append(list(texts))
            return EmbeddingReply(np.ones((len(texts), DIM * 2), dtype=np.float32))

    clients: dict[str, FakeClient] = {"bad": WrongDim(), "good": FakeClient()}
    config = router_config([provider("bad"), provider("good", quality=0.1)])
    async with running(config, clients) as router:
        result = await router.embed(call(["x"]))
        assert result.items[0].provider_id == "good"
        assert result.items[0].vector.shape == (DIM,)


TENANT_MESSAGE = (
    "tenant: must be 1 to 128 letters, digits, '.', '_', ':' or '-', starting with a letter or "
    "digit"
)


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (
            lambda: call(["x"], model="nope"),
            NotFound,
            "model 'nope' is not served here (models: m1, m2)",
        ),
        (lambda: call([]), InvalidArgument, "texts: must contain at least one text"),
        (lambda: call(["a", ""]), InvalidArgument, "texts[1]: must not be empty"),
        # Once a pydantic ValidationError of the tenant's default config: INTERNAL.
        (lambda: call(["x"], tenant=""), InvalidArgument, TENANT_MESSAGE),
        (lambda: call(["x"], tenant="a tenant\n"), InvalidArgument, TENANT_MESSAGE),
        (lambda: call(["x"], tenant="t" * 129), InvalidArgument, TENANT_MESSAGE),
    ],
)
async def test_invalid_calls(make: Callable[[], EmbedCall], error: type, message: str) -> None:
    config = router_config([provider("a"), provider("b", model="m2")])
    async with running(config, {"a": FakeClient(), "b": FakeClient()}) as router:
        with pytest.raises(error) as caught:
            await router.embed(make())
        assert caught.value.message == message


async def test_an_unconfigured_tenants_defaults_are_made_once_and_kept_bounded() -> None:
    config = router_config([provider("a")])
    async with running(config, {"a": FakeClient()}) as router:
        first = await router.embed(call(["x"], tenant="walk-in"))
        again = await router.embed(call(["x"], tenant="walk-in"))
        assert first.items[0].vector.tolist() == again.items[0].vector.tolist()
        assert router._tenant("walk-in") is router._tenant("walk-in")
        for n in range(5000):
            router._tenant(f"tenant-{n}")
        assert len(router._unconfigured) <= 4096


async def test_list_models() -> None:
    models = (ModelConfig("m1", "7", DIM, normalized=False, max_tokens=128),)
    config = router_config([provider("a"), provider("b")], models=models)
    async with running(config, {"a": FakeClient(), "b": FakeClient()}) as router:
        [info] = router.list_models()
        assert info.model.version == "7" and info.provider_ids == ("a", "b")
