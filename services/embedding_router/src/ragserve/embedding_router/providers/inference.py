"""A client for the inference service's text models over the Open Inference Protocol.

One ``ModelInfer`` per call: a BYTES input ``[n, 1]`` of UTF-8 texts (raw contents, each element
with its 4-byte little-endian length prefix, as Triton encodes them) and an FP32 output
``[n, dimension]``. With several endpoints (replicas), calls go round-robin over the endpoints
whose own breaker admits them; a failed call moves on to the next endpoint within the same time
budget, so one replica going away costs a caller no error.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Sequence
from typing import Any

import grpc
import numpy as np

from ragserve.api.inference.v1 import inference_pb2, inference_pb2_grpc
from ragserve.embedding_router.breaker import CircuitBreaker
from ragserve.embedding_router.config import BreakerConfig, ProviderConfig
from ragserve.embedding_router.providers.base import (
    EmbeddingReply,
    Priority,
    ProviderError,
    Vectors,
)
from ragserve.runtime.bytes_tensor import encode_bytes_elements
from ragserve.runtime.channels import create_channel

_RETRYABLE = {
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.INTERNAL,
    grpc.StatusCode.UNKNOWN,
    grpc.StatusCode.ABORTED,
    grpc.StatusCode.CANCELLED,
    grpc.StatusCode.NOT_FOUND,  # the model is not loaded on this replica
    grpc.StatusCode.FAILED_PRECONDITION,  # e.g. not warmed up yet
}

# The Open Inference Protocol's `priority` request parameter: 1 is a model's highest level and 0
# (or no parameter) its configured default. A model's levels run 1..priority_levels, set per model,
# so no number means "lowest" everywhere (the default model's default is already its lowest, 2 of
# 2); a level past a model's last is INVALID_ARGUMENT. High goes first; normal and low both get the
# model's default.
_INFERENCE_PRIORITY = {Priority.HIGH: 1, Priority.NORMAL: 0, Priority.LOW: 0}

# An endpoint that refused a connection is retried soon after it comes back: the default
# reconnect backoff (1 s growing to 120 s) would keep a restarted replica idle for minutes.
_RECONNECT_OPTIONS: list[tuple[str, Any]] = [
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1000),
]

# Endpoint breakers only decide which replica to try first; they trip fast and recover fast.
_ENDPOINT_BREAKER = BreakerConfig(
    failure_threshold=2, open_s=1.0, half_open_max_calls=1, success_threshold=1
)


def _channel(target: str) -> grpc.aio.Channel:
    # No gRPC-level retries: a failure must reach the router, which moves to another endpoint or
    # provider at once and counts it in the breakers.
    return create_channel(target, retry=False, extra_options=_RECONNECT_OPTIONS)


class InferenceEmbeddingClient:
    def __init__(self, config: ProviderConfig, *, dimension: int) -> None:
        self._config = config
        self._dimension = dimension
        self._endpoints = list(config.endpoints)
        # Channels are opened on first use, on the event loop that serves (an aio channel is
        # bound to the loop it was created on).
        self._channels: list[grpc.aio.Channel] = []
        # Typed Any: the generated .pyi describes the blocking stub, not the aio one.
        self._stubs: list[Any] = []
        self._breakers = [CircuitBreaker(_ENDPOINT_BREAKER) for _ in self._endpoints]
        self._next = itertools.cycle(range(len(self._endpoints)))

    def _request(self, texts: Sequence[str], priority: Priority) -> inference_pb2.ModelInferRequest:
        request = inference_pb2.ModelInferRequest(model_name=self._config.remote_model)
        level = _INFERENCE_PRIORITY[priority]
        if level:
            request.parameters["priority"].int64_param = level
        tensor = request.inputs.add()
        tensor.name = self._config.input_name
        tensor.datatype = "BYTES"
        tensor.shape.extend([len(texts), 1])
        output = request.outputs.add()
        output.name = self._config.output_name
        request.raw_input_contents.append(encode_bytes_elements(texts))
        return request

    def _order(self) -> list[int]:
        start = next(self._next)
        rotation = [(start + k) % len(self._endpoints) for k in range(len(self._endpoints))]
        admitted = [i for i in rotation if self._breakers[i].admits()]
        # Every replica tripped: try them all anyway rather than fail without a call.
        return admitted or rotation

    async def embed(
        self, texts: Sequence[str], timeout_s: float, priority: Priority = Priority.NORMAL
    ) -> EmbeddingReply:
        if not self._stubs:
            self._channels = [_channel(target) for target in self._endpoints]
            self._stubs = [inference_pb2_grpc.GRPCInferenceServiceStub(c) for c in self._channels]
        deadline = time.monotonic() + timeout_s
        request = self._request(texts, priority)
        last: ProviderError | None = None
        for index in self._order():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            breaker = self._breakers[index]
            breaker.try_acquire()
            try:
                response = await self._stubs[index].ModelInfer(request, timeout=remaining)
            except grpc.aio.AioRpcError as error:
                code = error.code()
                if code == grpc.StatusCode.INVALID_ARGUMENT:
                    breaker.release()
                    raise ProviderError(
                        f"provider {self._config.id!r}: {error.details()}", retryable=False
                    ) from None
                if code == grpc.StatusCode.RESOURCE_EXHAUSTED:
                    breaker.release()
                    last = ProviderError(
                        f"provider {self._config.id!r}: endpoint {self._endpoints[index]} "
                        "is overloaded",
                        throttled=True,
                        retry_after_s=0.05,
                    )
                    continue
                breaker.record_failure()
                if code not in _RETRYABLE:
                    raise ProviderError(
                        f"provider {self._config.id!r}: {code.name}: {error.details()}"
                    ) from None
                last = ProviderError(
                    f"provider {self._config.id!r}: endpoint {self._endpoints[index]} "
                    f"answered {code.name}"
                )
                continue
            breaker.record_success()
            # The inference service reports no token counts; the router counts them.
            return EmbeddingReply(self._vectors(response, len(texts)))
        raise last or ProviderError(
            f"provider {self._config.id!r}: no time left before the deadline"
        )

    def _vectors(self, response: inference_pb2.ModelInferResponse, count: int) -> Vectors:
        names = [o.name for o in response.outputs]
        if self._config.output_name not in names:
            raise ProviderError(
                f"provider {self._config.id!r}: response has no output "
                f"{self._config.output_name!r} (has {names})"
            )
        position = names.index(self._config.output_name)
        if len(response.raw_output_contents) > position:
            flat = np.frombuffer(response.raw_output_contents[position], dtype="<f4")
        else:
            flat = np.asarray(response.outputs[position].contents.fp32_contents, dtype=np.float32)
        if flat.size != count * self._dimension:
            raise ProviderError(
                f"provider {self._config.id!r}: {flat.size} floats for {count} texts of "
                f"dimension {self._dimension}"
            )
        return flat.reshape(count, self._dimension).astype(np.float32)

    async def close(self) -> None:
        for channel in self._channels:
            await channel.close(grace=None)
