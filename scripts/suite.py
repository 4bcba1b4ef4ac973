"""`make up`: the whole suite on this machine with one command.

Starts a Redis server (no persistence; skipped when RAGSERVE_EMBEDDING_ROUTER_REDIS_URL
points at one already), then each built service as its own process on its
default port (`python -m ragserve.<service>`), waiting for each to report
SERVING through grpc.health.v1 before starting the next one that needs it.
Ctrl-C / SIGTERM stops them in reverse order, each gracefully.
"""

from __future__ import annotations

import os
import signal
import threading

from ragserve.embedding_router import settings as embedding_router
from ragserve.inference import settings as inference
from ragserve.monitor import settings as monitor
from ragserve.retrieval import settings as retrieval
from ragserve.testkit.processes import ServiceProcess
from ragserve.testkit.redis_server import RedisServer

# In dependency order; each entry: (service, default gRPC port, default metrics port), the
# defaults from each service's settings.py.
SERVICES = [
    ("inference", inference.GRPC_PORT, inference.METRICS_PORT),
    ("retrieval", retrieval.GRPC_PORT, retrieval.METRICS_PORT),
    ("embedding_router", embedding_router.GRPC_PORT, embedding_router.METRICS_PORT),
    # Last: it watches every service started before it (RAGSERVE_MONITOR_TARGETS below).
    ("monitor", monitor.GRPC_PORT, monitor.METRICS_PORT),
]
REDIS_PORT = 6379


def main() -> None:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    redis: RedisServer | None = None
    started: list[ServiceProcess] = []
    env = dict(os.environ)
    try:
        if not env.get("RAGSERVE_EMBEDDING_ROUTER_REDIS_URL"):
            redis = RedisServer(port=int(env.get("RAGSERVE_REDIS_PORT", REDIS_PORT))).start()
            env["RAGSERVE_EMBEDDING_ROUTER_REDIS_URL"] = redis.url
            print(f"redis            {redis.url}", flush=True)
        for name, default_port, default_metrics_port in SERVICES:
            prefix = f"RAGSERVE_{name.upper()}_"
            port = int(env.get(prefix + "PORT", default_port))
            if name == "monitor" and not env.get(prefix + "TARGETS"):
                env[prefix + "TARGETS"] = ",".join(
                    f"{p.name}={p.address}/{p.metrics_port}" for p in started
                )
            process = ServiceProcess(
                name,
                {
                    **env,
                    prefix + "METRICS_PORT": env.get(
                        prefix + "METRICS_PORT", str(default_metrics_port)
                    ),
                },
                grpc_port=port,
            )
            process.start(timeout_s=120)
            started.append(process)
            env[prefix + "ADDR"] = process.address
            print(
                f"{name:16} {process.address}  metrics http://127.0.0.1:{process.metrics_port}/metrics",
                flush=True,
            )
        status_page = f"http://127.0.0.1:{started[-1].metrics_port}/"
        print(f"the suite is SERVING (status page {status_page}); Ctrl-C stops it", flush=True)
        stop.wait()
    finally:
        for process in reversed(started):
            code = process.stop()
            print(f"{process.name} stopped (exit {code})", flush=True)
        if redis is not None:
            redis.stop()


if __name__ == "__main__":
    main()
