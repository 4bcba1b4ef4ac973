"""The inference-kind client against a real gRPC server speaking the Open Inference Protocol,
which records what it receives: the caller's priority arrives as the protocol's parameter."""

from __future__ import annotations

import struct
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import grpc
import numpy as np
import pytest
from router_fakes import DIM, provider, router_config, vector_of

from ragserve.api.inference.v1 import inference_pb2, inference_pb2_grpc
from ragserve.embedding_router.config import ProviderConfig, ProviderKind
from ragserve.embedding_router.providers.base import Priority
from ragserve.embedding_router.providers.inference import InferenceEmbeddingClient
from ragserve.embedding_router.router import EmbeddingRouter
from ragserve.embedding_router.types import EmbedCall


def _texts(raw: bytes) -> list[str]:
    """The elements of a raw BYTES tensor (4-byte little-endian length, then the bytes)."""
    texts, offset = [], 0
    while offset < len(raw):
        (size,) = struct.unpack_from("<I", raw, offset)
        texts.append(raw[offset + 4 : offset + 4 + size].decode())
        offset += 4 + size
    return texts


class _RecordingInference(inference_pb2_grpc.GRPCInferenceServiceServicer):
    """Answers ModelInfer with ``vector_of`` each text and keeps every request."""

    def __init__(self) -> None:
        self.requests: list[inference_pb2.ModelInferRequest] = []

    async def ModelInfer(
        self, request: inference_pb2.ModelInferRequest, context: Any
    ) -> inference_pb2.ModelInferResponse:
        self.requests.append(request)
        texts = _texts(request.raw_input_contents[0])
        vectors = np.stack([vector_of(t) for t in texts]).astype("<f4")
        response = inference_pb2.ModelInferResponse(model_name=request.model_name)
        output = response.outputs.add(name="embedding", datatype="FP32")
        output.shape.extend(vectors.shape)
        response.raw_output_contents.append(vectors.tobytes())
        return response


@pytest.fixture
async def inference() -> AsyncIterator[tuple[_RecordingInference, str]]:
    server = grpc.aio.server()
    servicer = _RecordingInference()
    inference_pb2_grpc.add_GRPCInferenceServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        yield servicer, f"127.0.0.1:{port}"
    finally:
        await server.stop(None)


def _priority(request: inference_pb2.ModelInferRequest) -> int | None:
    if "priority" not in request.parameters:
        return None
    return int(request.parameters["priority"].int64_param)


def _at(endpoint: str) -> dict[str, Any]:
    return {
        "endpoints": (endpoint,),
        "remote_model": "remote",
        "input_name": "text",
        "output_name": "embedding",
    }


def _config(endpoint: str) -> ProviderConfig:
    return ProviderConfig(id="inf", model="m1", kind=ProviderKind.INFERENCE, **_at(endpoint))


async def test_high_priority_arrives_as_level_1_and_others_as_the_models_default(
    inference: tuple[_RecordingInference, str],
) -> None:
    servicer, endpoint = inference
    client = InferenceEmbeddingClient(_config(endpoint), dimension=DIM)
    try:
        for priority in (Priority.HIGH, Priority.NORMAL, Priority.LOW):
            reply = await client.embed([f"text {priority.name}"], 5.0, priority)
            np.testing.assert_array_equal(reply.vectors[0], vector_of(f"text {priority.name}"))
    finally:
        await client.close()
    # The protocol's 1 is a model's highest level; no parameter is its configured default.
    assert [_priority(r) for r in servicer.requests] == [1, None, None]


async def test_the_callers_priority_travels_through_the_router_to_inference(
    inference: tuple[_RecordingInference, str],
) -> None:
    servicer, endpoint = inference
    router = EmbeddingRouter(router_config([replace(provider("inf"), **_at(endpoint))]))
    await router.start()
    try:
        await router.embed(EmbedCall(tenant="t", model="m1", texts=["urgent"], priority=0))
        await router.embed(EmbedCall(tenant="t", model="m1", texts=["routine"], priority=1))
        await router.embed(EmbedCall(tenant="t", model="m1", texts=["whenever"], priority=2))
    finally:
        await router.close()
    sent = [(_texts(r.raw_input_contents[0]), _priority(r)) for r in servicer.requests]
    assert sent == [(["urgent"], 1), (["routine"], None), (["whenever"], None)]
