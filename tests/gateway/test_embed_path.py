"""Through the gateway to the embedding router and inference, as real processes with a real
model, Redis and an OTLP receiver: vectors as the router computes them, one trace per request
rooted at the gateway, and a Redis that dies under a loop of calls without a client error."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest

from ragserve.api.embedding.v1 import embedding_pb2, embedding_pb2_grpc
from ragserve.api.gateway.v1 import gateway_pb2 as pb
from ragserve.api.gateway.v1 import gateway_pb2_grpc as pb_grpc
from ragserve.testkit.gateway import admin_key, bearer, create_key, gateway_env, metric
from ragserve.testkit.otlp import OtlpReceiver, ReceivedSpan
from ragserve.testkit.processes import ServiceProcess
from ragserve.testkit.redis_server import RedisServer

pytestmark = pytest.mark.slow

MODEL = "all-minilm-l6-v2"


@dataclass
class Suite:
    state: Path
    redis: RedisServer
    inference: ServiceProcess
    router: ServiceProcess
    gateway: ServiceProcess
    receiver: OtlpReceiver
    key: str

    def stub(self) -> pb_grpc.GatewayServiceStub:
        return pb_grpc.GatewayServiceStub(grpc.insecure_channel(self.gateway.address))


@pytest.fixture(scope="module")
def suite(tmp_path_factory: pytest.TempPathFactory, model_repository: Path) -> Iterator[Suite]:
    state = tmp_path_factory.mktemp("embed-path")
    started: list[ServiceProcess] = []
    made: list[Suite] = []
    with OtlpReceiver() as receiver:
        redis = RedisServer(data_dir=state / "redis").start()
        tracing = {
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
            "OTEL_BSP_SCHEDULE_DELAY": "100",
        }
        try:
            inference = ServiceProcess(
                "inference", {**tracing, "RAGSERVE_INFERENCE_MODELS": MODEL}
            ).start(timeout_s=120)
            started.append(inference)
            router = ServiceProcess(
                "embedding_router",
                {
                    **tracing,
                    "RAGSERVE_INFERENCE_ADDR": inference.address,
                    "RAGSERVE_EMBEDDING_ROUTER_REDIS_URL": redis.url,
                },
            ).start(timeout_s=120)
            started.append(router)
            env = gateway_env(state, redis.url, key_store="redis")
            env["RAGSERVE_EMBEDDING_ROUTER_ADDR"] = router.address
            gateway = ServiceProcess("gateway", {**tracing, **env}).start()
            started.append(gateway)
            stub = pb_grpc.GatewayServiceStub(grpc.insecure_channel(gateway.address))
            key = create_key(stub, admin_key(state), "acme", [pb.PERMISSION_READ]).secret
            made.append(Suite(state, redis, inference, router, gateway, receiver, key))
            yield made[0]
        finally:
            for process in reversed(started):
                process.stop()
            redis.kill()
            for world in made:  # a test restarts Redis: the new server is in world.redis
                world.redis.kill()


def test_vectors_come_through_without_internals(suite: Suite) -> None:
    texts = ["the gateway forwards embeddings", "a second text"]
    public = suite.stub().Embed(
        pb.EmbedRequest(model=MODEL, texts=texts), metadata=bearer(suite.key), timeout=60
    )
    with grpc.insecure_channel(suite.router.address) as channel:
        internal = embedding_pb2_grpc.EmbeddingRouterServiceStub(channel).Embed(
            embedding_pb2.EmbedRequest(tenant="acme", model=MODEL, texts=texts), timeout=60
        )
    assert (public.model, public.dimension, public.model_version) == (
        MODEL,
        384,
        internal.model_version,
    )
    assert [list(e.values) for e in public.embeddings] == [
        list(e.vector) for e in internal.embeddings
    ]
    # No provider ids, costs or cache flags exist in the public message.
    assert set(pb.Embedding.DESCRIPTOR.fields_by_name) == {"values"}


def test_an_unknown_model_is_not_found_through_the_gateway(suite: Suite) -> None:
    with pytest.raises(grpc.RpcError) as raised:
        suite.stub().Embed(
            pb.EmbedRequest(model="no-such-model", texts=["x"]),
            metadata=bearer(suite.key),
            timeout=30,
        )
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND  # type: ignore[attr-defined]
    assert "no-such-model" in raised.value.details()  # type: ignore[attr-defined]


def _one_trace(spans: list[ReceivedSpan], trace_id: str) -> list[ReceivedSpan]:
    return [s for s in spans if s.trace_id == trace_id]


def test_one_trace_per_request_rooted_at_the_gateway(suite: Suite) -> None:
    # A caller's own traceparent is ignored: the gateway starts the trace.
    foreign = f"{0xABC:032x}"
    _, call = suite.stub().Embed.with_call(
        pb.EmbedRequest(model=MODEL, texts=["a traced request, never cached before"]),
        metadata=(*bearer(suite.key), ("traceparent", f"00-{foreign}-{1:016x}-01")),
        timeout=60,
    )
    trace_ids = [v for k, v in call.initial_metadata() if k == "x-trace-id"]
    assert len(trace_ids) == 1 and trace_ids[0] != foreign
    trace_id = trace_ids[0]

    def complete(spans: list[ReceivedSpan]) -> bool:
        mine = _one_trace(spans, trace_id)
        services = {s.service for s in mine}
        linked = any(
            link[0] == trace_id
            for s in spans
            if s.service == "ragserve-inference"
            for link in s.links
        )
        # The gateway's server span ends last: wait for the root itself. Each process
        # exports on its own timer, and a span ends after its children: a child can arrive
        # one export (100 ms) before its parent, so wait until every parent is in.
        rooted = any(s.service == "ragserve-gateway" and not s.parent_span_id for s in mine)
        ids = {s.span_id for s in mine}
        closed = all(not s.parent_span_id or s.parent_span_id in ids for s in mine)
        return (
            rooted
            and closed
            and "ragserve-embedding_router" in services
            and ("ragserve-inference" in services or linked)
        )

    spans = suite.receiver.wait_for(complete)
    mine = _one_trace(spans, trace_id)
    by_id = {s.span_id: s for s in mine}
    roots = [s for s in mine if not s.parent_span_id]
    assert [(r.service, r.name) for r in roots] == [
        ("ragserve-gateway", "/ragserve.api.gateway.v1.GatewayService/Embed")
    ]
    # Every span of the trace hangs off the gateway's root span.
    for span in mine:
        ancestor = span
        while ancestor.parent_span_id:
            ancestor = by_id[ancestor.parent_span_id]
        assert ancestor is roots[0], f"{span.service}:{span.name} is not under the root"
    assert not [s for s in spans if s.trace_id == foreign]


def test_redis_stopped_during_a_loop_of_calls_is_no_client_error(suite: Suite) -> None:
    stub = suite.stub()
    errors: list[grpc.RpcError] = []
    calls = [0]
    stop = threading.Event()
    redis_killed = threading.Event()
    after_kill = [0]

    def loop() -> None:
        while not stop.is_set():
            try:
                stub.Embed(
                    pb.EmbedRequest(model=MODEL, texts=[f"loop {calls[0] % 7}"]),
                    metadata=bearer(suite.key),
                    timeout=30,
                )
            except grpc.RpcError as error:
                errors.append(error)
            calls[0] += 1
            if redis_killed.is_set():
                after_kill[0] += 1
                # Past the tokens the gateway still holds from its last lease (10 requests).
                if after_kill[0] >= 40:
                    stop.set()

    thread = threading.Thread(target=loop)
    thread.start()
    deadline = time.monotonic() + 60
    while calls[0] < 10 and time.monotonic() < deadline and thread.is_alive():
        thread.join(0.05)
    # The kill's own transitions are those logged after it (see the end).
    logged_before_kill = len(suite.gateway.lines)
    suite.redis.kill()
    redis_killed.set()
    thread.join(120)
    assert not thread.is_alive()
    assert [(e.code(), e.details()) for e in errors] == []  # type: ignore[attr-defined]
    assert after_kill[0] >= 40
    assert metric(suite.gateway, 'ragserve_gateway_degraded{dependency="redis"}') == 1.0
    # Calls in flight when Redis died were still counted in it, and so were those admitted
    # from the lease the gateway held; every later one was limited locally.
    assert metric(suite.gateway, "ragserve_gateway_local_admissions_total") >= 18
    # Redis back (its AOF keeps the keys): the gateway says so at its next call.
    suite.redis = RedisServer(port=suite.redis.port, data_dir=suite.state / "redis").start()
    deadline = time.monotonic() + 30
    while metric(suite.gateway, 'ragserve_gateway_degraded{dependency="redis"}') != 0.0:
        assert time.monotonic() < deadline, "the gateway never noticed Redis came back"
        stub.Embed(
            pb.EmbedRequest(model=MODEL, texts=["x"]), metadata=bearer(suite.key), timeout=30
        )
    # Both transitions are logged, at WARNING: every call was still answered. (The log is
    # written a moment after the gauge moves.) Only those since the kill are the kill's: a
    # Redis command past its 0.5 s timeout on a busy host before it makes a pair of its own.
    suite.gateway.wait_for_record(lambda r: r.get("event") == "redis_up", since=logged_before_kill)

    def transitions(since: int) -> list[tuple[str, str]]:
        return [
            (r["event"], r["level"])
            for r in suite.gateway.records(since)
            if r.get("event") in ("redis_down", "redis_up")
        ]

    # The kill's pair comes first; a slow command after the restart may add pairs of its own
    # (the gauge above says where it ended), so the events only have to alternate.
    since_kill = [event for event, _ in transitions(logged_before_kill)]
    assert since_kill[:2] == ["redis_down", "redis_up"]
    assert all(a != b for a, b in itertools.pairwise(since_kill))
    assert {level for _, level in transitions(0)} == {"WARNING"}


def test_an_idle_gateway_sees_redis_go_and_come_back(suite: Suite) -> None:
    """No call here: the gateway checks Redis on its own, so its degraded gauge neither
    waits for traffic to show Redis gone nor stays up after Redis is back."""
    degraded = 'ragserve_gateway_degraded{dependency="redis"}'

    def gauge_becomes(value: float, within_s: float, what: str) -> None:
        deadline = time.monotonic() + within_s
        while metric(suite.gateway, degraded) != value:
            assert time.monotonic() < deadline, what
            # Polls a gauge the gateway sets on its own schedule (nothing to await here).
            time.sleep(0.05)

    gauge_becomes(0.0, 10, "Redis up at first")
    suite.redis.kill()
    # An up Redis is checked after 5 s without commands.
    gauge_becomes(1.0, 15, "an idle gateway never showed Redis down")
    suite.redis = RedisServer(port=suite.redis.port, data_dir=suite.state / "redis").start()
    # A down one every retry interval.
    gauge_becomes(0.0, 10, "an idle gateway never showed Redis back")
