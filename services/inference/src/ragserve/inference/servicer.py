"""The Open Inference Protocol servicer: a thin adapter between protocol
messages and the :class:`InferenceEngine`. Domain errors raised below become
status codes in the shared error interceptor; ModelStreamInfer reports them
per request instead, keeping the stream open."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any

import grpc

from ragserve.api.inference.v1 import inference_pb2 as pb
from ragserve.api.inference.v1 import inference_pb2_grpc
from ragserve.errors import InvalidArgument, RagserveError
from ragserve.inference.codec import decode_input, encode_output
from ragserve.inference.config import ModelConfig, ModelKind
from ragserve.inference.engine import InferCall, InferenceEngine, InferResult
from ragserve.inference.statistics import Duration, ModelStats
from ragserve.runtime.streams import serve_concurrently

log = logging.getLogger("ragserve.inference.servicer")

SERVER_NAME = "ragserve-inference"
SERVER_VERSION = "0.1.0"
EXTENSIONS = (
    "model_repository",
    "model_configuration",
    "statistics",
    "parameters",
    "schedule_policy",
)
# Requests one ModelStreamInfer stream may have in flight; more wait for a slot.
STREAM_CONCURRENCY = 64

_DATA_TYPE = {
    "BOOL": pb.TYPE_BOOL,
    "UINT8": pb.TYPE_UINT8,
    "UINT16": pb.TYPE_UINT16,
    "UINT32": pb.TYPE_UINT32,
    "UINT64": pb.TYPE_UINT64,
    "INT8": pb.TYPE_INT8,
    "INT16": pb.TYPE_INT16,
    "INT32": pb.TYPE_INT32,
    "INT64": pb.TYPE_INT64,
    "FP16": pb.TYPE_FP16,
    "FP32": pb.TYPE_FP32,
    "FP64": pb.TYPE_FP64,
    "BYTES": pb.TYPE_STRING,
}


def _parameter(parameters: Any, name: str) -> int | float | bool | str | None:
    if name not in parameters:
        return None
    value = parameters[name]
    kind = value.WhichOneof("parameter_choice")
    return None if kind is None else getattr(value, kind)


def _int_parameter(parameters: Any, name: str) -> int | None:
    value = _parameter(parameters, name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgument(f"parameters.{name}", f"must be an integer, got {value!r}")
    return value


def to_call(request: pb.ModelInferRequest, engine: InferenceEngine) -> InferCall:
    """Validate the request's envelope and decode its tensors."""
    if not request.model_name:
        raise InvalidArgument("model_name", "is required")
    config, _, _ = engine.config(request.model_name, request.model_version)
    if not request.inputs:
        raise InvalidArgument(
            "inputs", f"model '{config.name}' needs {len(config.inputs)} input(s), got none"
        )
    raw = list(request.raw_input_contents)
    if raw and len(raw) != len(request.inputs):
        raise InvalidArgument(
            "raw_input_contents",
            f"has {len(raw)} entries for {len(request.inputs)} inputs (one per input, in order)",
        )
    inputs = {}
    for index, tensor in enumerate(request.inputs):
        field = f"inputs[{index}]"
        if tensor.name in inputs:
            raise InvalidArgument(f"{field}.name", f"input '{tensor.name}' is given twice")
        spec = config.input(tensor.name)
        if spec is None:
            known = ", ".join(s.name for s in config.inputs)
            raise InvalidArgument(
                f"{field}.name",
                f"'{tensor.name}' is not an input of model '{config.name}' (inputs: {known})",
            )
        if tensor.datatype != spec.datatype:
            raise InvalidArgument(
                f"{field}.datatype",
                f"input '{tensor.name}' of model '{config.name}' is {spec.datatype}, "
                f"got {tensor.datatype}",
            )
        inputs[tensor.name] = decode_input(
            tensor.name,
            tensor.datatype,
            list(tensor.shape),
            raw[index] if raw else None,
            tensor.contents if tensor.HasField("contents") else None,
            field,
        )
    priority = _int_parameter(request.parameters, "priority") or 0
    timeout_us = _int_parameter(request.parameters, "timeout")
    if timeout_us is not None and timeout_us < 0:
        raise InvalidArgument("parameters.timeout", f"must be >= 0 microseconds, got {timeout_us}")
    truncate = _parameter(request.parameters, "truncate")
    if truncate is not None and not isinstance(truncate, bool):
        raise InvalidArgument("parameters.truncate", f"must be a bool, got {truncate!r}")
    if priority < 0:
        raise InvalidArgument("parameters.priority", f"must be >= 0, got {priority}")
    return InferCall(
        model=request.model_name,
        version=request.model_version,
        inputs=inputs,
        outputs=[output.name for output in request.outputs],
        priority=priority,
        timeout_s=None if not timeout_us else timeout_us / 1e6,
        truncate=truncate,
    )


def to_response(request: pb.ModelInferRequest, result: InferResult) -> pb.ModelInferResponse:
    response = pb.ModelInferResponse(
        model_name=result.model, model_version=result.version, id=request.id
    )
    for name, array in result.outputs.items():
        datatype, shape, raw = encode_output(array)
        response.outputs.add(name=name, datatype=datatype, shape=shape)
        response.raw_output_contents.append(raw)
    return response


def _stream_error(request: pb.ModelInferRequest, message: str) -> pb.ModelStreamInferResponse:
    """A failed stream request's answer: the error, and the request's ids so it can be matched."""
    return pb.ModelStreamInferResponse(
        error_message=message,
        infer_response=pb.ModelInferResponse(
            model_name=request.model_name, model_version=request.model_version, id=request.id
        ),
    )


def _duration(stat: Duration) -> pb.StatisticDuration:
    return pb.StatisticDuration(count=stat.count, ns=stat.ns)


def statistics_message(stats: ModelStats) -> pb.ModelStatistics:
    message = pb.ModelStatistics(
        name=stats.name,
        version=stats.version,
        last_inference=stats.last_inference_ms,
        inference_count=stats.inference_count,
        execution_count=stats.execution_count,
        inference_stats=pb.InferStatistics(
            success=_duration(stats.success),
            fail=_duration(stats.fail),
            queue=_duration(stats.queue),
            compute_infer=_duration(stats.compute_infer),
        ),
    )
    for size, batch in sorted(stats.by_batch_size.items()):
        message.batch_stats.add(batch_size=size, compute_infer=_duration(batch.compute_infer))
    return message


def config_message(config: ModelConfig, providers: tuple[str, ...]) -> pb.ModelConfig:
    message = pb.ModelConfig(
        name=config.name,
        platform=config.platform,
        backend="onnxruntime",
        max_batch_size=config.max_batch_size,
        default_model_filename=config.model_filename,
    )
    for spec in config.inputs:
        message.input.add(name=spec.name, data_type=_DATA_TYPE[spec.datatype], dims=list(spec.dims))
    for spec in config.outputs:
        message.output.add(
            name=spec.name, data_type=_DATA_TYPE[spec.datatype], dims=list(spec.dims)
        )
    on_gpu = any(p.startswith(("Tensorrt", "CUDA")) for p in providers)
    message.instance_group.add(
        name=config.name,
        count=config.instance_count,
        kind=pb.ModelInstanceGroup.KIND_GPU if on_gpu else pb.ModelInstanceGroup.KIND_CPU,
    )
    accelerators = message.optimization.execution_accelerators
    for provider in config.execution_providers:
        if provider == "cpu":
            accelerators.cpu_execution_accelerator.add(name=provider)
        else:
            accelerators.gpu_execution_accelerator.add(name=provider)
    batching = config.dynamic_batching
    if batching is not None:
        message.dynamic_batching.max_queue_delay_microseconds = batching.max_queue_delay_us
        message.dynamic_batching.priority_levels = batching.priority_levels
        message.dynamic_batching.default_priority_level = batching.default_priority
        policy = message.dynamic_batching.default_queue_policy
        policy.default_timeout_microseconds = batching.default_timeout_us
        policy.allow_timeout_override = True
        policy.max_queue_size = batching.max_queue_size
        message.parameters["max_batch_tokens"].string_value = str(batching.max_batch_tokens)
        message.parameters["group_by_length"].string_value = str(batching.group_by_length).lower()
    message.parameters["kind"].string_value = config.kind.value
    message.parameters["execution_providers_requested"].string_value = ",".join(
        config.execution_providers
    )
    message.parameters["execution_providers_in_use"].string_value = ",".join(providers)
    if config.text is not None:
        message.parameters["max_tokens"].string_value = str(config.text.max_tokens)
        message.parameters["truncation"].string_value = config.text.truncation.value
        message.parameters["pooling"].string_value = config.text.pooling.value
        message.parameters["normalize"].string_value = str(config.text.normalize).lower()
    return message


class InferenceServicer(inference_pb2_grpc.GRPCInferenceServiceServicer):
    def __init__(self, engine: InferenceEngine, started: asyncio.Event) -> None:
        self.engine = engine
        self.started = started

    async def ServerLive(self, request: Any, context: Any) -> pb.ServerLiveResponse:
        return pb.ServerLiveResponse(live=True)

    async def ServerReady(self, request: Any, context: Any) -> pb.ServerReadyResponse:
        return pb.ServerReadyResponse(ready=self.started.is_set() and self.engine.all_ready())

    async def ModelReady(self, request: Any, context: Any) -> pb.ModelReadyResponse:
        if not request.name:
            raise InvalidArgument("name", "is required")
        return pb.ModelReadyResponse(ready=self.engine.is_ready(request.name, request.version))

    async def ServerMetadata(self, request: Any, context: Any) -> pb.ServerMetadataResponse:
        return pb.ServerMetadataResponse(
            name=SERVER_NAME, version=SERVER_VERSION, extensions=EXTENSIONS
        )

    async def ModelMetadata(self, request: Any, context: Any) -> pb.ModelMetadataResponse:
        if not request.name:
            raise InvalidArgument("name", "is required")
        config, version, providers = self.engine.config(request.name, request.version)
        response = pb.ModelMetadataResponse(
            name=config.name, versions=[version], platform=config.platform
        )
        for spec in config.inputs:
            response.inputs.add(
                name=spec.name, datatype=spec.datatype, shape=list(config.full_shape(spec))
            )
        for spec in config.outputs:
            response.outputs.add(
                name=spec.name, datatype=spec.datatype, shape=list(config.full_shape(spec))
            )
        response.parameters["kind"].string_param = config.kind.value
        response.parameters["execution_provider"].string_param = providers[0] if providers else ""
        response.parameters["execution_providers"].string_param = ",".join(providers)
        if config.kind is ModelKind.TEXT_EMBEDDING and config.text is not None:
            response.parameters["max_tokens"].int64_param = config.text.max_tokens
            response.parameters["dimension"].int64_param = config.text.dimension
            response.parameters["truncation"].string_param = config.text.truncation.value
        return response

    async def ModelConfig(self, request: Any, context: Any) -> pb.ModelConfigResponse:
        if not request.name:
            raise InvalidArgument("name", "is required")
        config, _, providers = self.engine.config(request.name, request.version)
        return pb.ModelConfigResponse(config=config_message(config, providers))

    async def ModelInfer(
        self, request: pb.ModelInferRequest, context: Any
    ) -> pb.ModelInferResponse:
        result = await self.engine.infer(to_call(request, self.engine))
        return to_response(request, result)

    async def ModelStreamInfer(
        self, request_iterator: AsyncIterator[pb.ModelInferRequest], context: Any
    ) -> AsyncIterator[pb.ModelStreamInferResponse]:
        """Requests run concurrently; responses go out as they complete. A failed
        request yields a response with ``error_message`` and the stream goes on."""

        async def serve_one(request: pb.ModelInferRequest) -> pb.ModelStreamInferResponse:
            try:
                result = await self.engine.infer(to_call(request, self.engine))
            except RagserveError as error:
                return _stream_error(request, error.message)
            except Exception as error:
                log.exception("stream request failed", extra={"request_id": request.id})
                return _stream_error(request, f"internal error ({type(error).__name__})")
            return pb.ModelStreamInferResponse(infer_response=to_response(request, result))

        responses = serve_concurrently(
            request_iterator, serve_one, limit=STREAM_CONCURRENCY, ordered=False
        )
        async with aclosing(responses):
            async for response in responses:
                yield response

    async def ModelStatistics(self, request: Any, context: Any) -> pb.ModelStatisticsResponse:
        stats = self.engine.statistics(request.name, request.version)
        return pb.ModelStatisticsResponse(model_stats=[statistics_message(s) for s in stats])

    async def RepositoryIndex(self, request: Any, context: Any) -> pb.RepositoryIndexResponse:
        response = pb.RepositoryIndexResponse()
        for entry in self.engine.index(ready_only=request.ready):
            response.models.add(
                name=entry.name, version=entry.version, state=entry.state.value, reason=entry.reason
            )
        return response

    async def RepositoryModelLoad(
        self, request: Any, context: Any
    ) -> pb.RepositoryModelLoadResponse:
        if not request.model_name:
            raise InvalidArgument("model_name", "is required")
        await self.engine.load(request.model_name)
        return pb.RepositoryModelLoadResponse()

    async def RepositoryModelUnload(
        self, request: Any, context: Any
    ) -> pb.RepositoryModelUnloadResponse:
        if not request.model_name:
            raise InvalidArgument("model_name", "is required")
        await self.engine.unload(request.model_name)
        return pb.RepositoryModelUnloadResponse()


def register(server: grpc.aio.Server, servicer: InferenceServicer) -> list[str]:
    inference_pb2_grpc.add_GRPCInferenceServiceServicer_to_server(servicer, server)
    return [pb.DESCRIPTOR.services_by_name["GRPCInferenceService"].full_name]
