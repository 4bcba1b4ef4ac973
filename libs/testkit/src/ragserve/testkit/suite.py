"""The suite behind the orchestrator as real processes: Redis, inference, retrieval
(Qdrant Edge on a temporary directory), the embedding router and the orchestrator,
each on port 0 and awaited through its health, started in dependency order.

Tests and benchmarks of the orchestrator use it; ``stop`` kills in reverse order.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ragserve.testkit.processes import ServiceProcess
from ragserve.testkit.redis_server import RedisServer

DEFAULT_MODEL = "all-minilm-l6-v2"


@dataclass
class Suite:
    redis: RedisServer
    inference: ServiceProcess
    retrieval: ServiceProcess
    router: ServiceProcess
    orchestrator: ServiceProcess
    started: list[RedisServer | ServiceProcess] = field(default_factory=list)

    def check_alive(self) -> None:
        for part in (self.inference, self.retrieval, self.router, self.orchestrator):
            part.check_alive()

    def stop(self) -> None:
        for part in reversed(self.started):
            part.kill()
        # A test that restarted Redis put a new server in ``redis``: stop that one too.
        self.redis.kill()


def start_suite(
    data_dir: Path,
    *,
    common_env: Mapping[str, str] | None = None,
    router_env: Callable[[str], Mapping[str, str]] | None = None,
    retrieval_env: Mapping[str, str] | None = None,
    orchestrator_env: Mapping[str, str] | None = None,
    retrieval_port: int = 0,
    timeout_s: float = 120.0,
) -> Suite:
    """Every process started and SERVING; on a failure the ones started are killed.

    ``retrieval_port``: a fixed port for retrieval (tests that restart it in place, so
    the orchestrator finds it again); 0 picks any.

    ``router_env`` gets the inference address (known only once it runs), for a
    providers file that names it."""
    common = dict(common_env or {})
    started: list[RedisServer | ServiceProcess] = []
    try:
        redis = RedisServer().start()
        started.append(redis)
        inference = ServiceProcess(
            "inference", {**common, "RAGSERVE_INFERENCE_MODELS": DEFAULT_MODEL}
        )
        inference.start(timeout_s=timeout_s)
        started.append(inference)
        retrieval = ServiceProcess(
            "retrieval",
            {**common, "RAGSERVE_RETRIEVAL_DATA_DIR": str(data_dir), **(retrieval_env or {})},
            grpc_port=retrieval_port,
        )
        retrieval.start(timeout_s=timeout_s)
        started.append(retrieval)
        router = ServiceProcess(
            "embedding_router",
            {
                **common,
                "RAGSERVE_INFERENCE_ADDR": inference.address,
                "RAGSERVE_EMBEDDING_ROUTER_REDIS_URL": redis.url,
                **(router_env(inference.address) if router_env else {}),
            },
        )
        router.start(timeout_s=timeout_s)
        started.append(router)
        orchestrator = ServiceProcess(
            "orchestrator",
            {
                **common,
                "RAGSERVE_EMBEDDING_ROUTER_ADDR": router.address,
                "RAGSERVE_RETRIEVAL_ADDR": retrieval.address,
                **(orchestrator_env or {}),
            },
        )
        orchestrator.start(timeout_s=timeout_s)
        started.append(orchestrator)
    except BaseException:
        for part in reversed(started):
            part.kill()
        raise
    return Suite(redis, inference, retrieval, router, orchestrator, started)
