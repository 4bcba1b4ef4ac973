"""The inference service as a real process: the Open Inference Protocol over
gRPC, batching under concurrency, exact errors, and the trace shape."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest

from ragserve.api.inference.v1 import inference_pb2 as pb
from ragserve.api.inference.v1 import inference_pb2_grpc
from ragserve.inference.codec import encode_bytes_tensor
from ragserve.inference.config import load_model_config
from ragserve.inference.providers import resolve_providers
from ragserve.testkit.otlp import OtlpReceiver
from ragserve.testkit.processes import ServiceProcess

MODEL = "all-minilm-l6-v2"
HERE = Path(__file__).parent


@pytest.fixture(scope="module")
def receiver() -> Iterator[OtlpReceiver]:
    with OtlpReceiver() as running:
        yield running


@pytest.fixture(scope="module")
def service(model_repository: Path, receiver: OtlpReceiver) -> Iterator[ServiceProcess]:
    process = ServiceProcess(
        "inference",
        {
            "RAGSERVE_INFERENCE_MODEL_REPOSITORY": str(model_repository),
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
            "OTEL_BSP_SCHEDULE_DELAY": "100",
        },
    )
    with process:
        yield process


@pytest.fixture
async def stub(service: ServiceProcess) -> AsyncIterator[Any]:
    async with grpc.aio.insecure_channel(service.address) as channel:
        yield inference_pb2_grpc.GRPCInferenceServiceStub(channel)


def text_request(texts: list[str], **parameters: Any) -> pb.ModelInferRequest:
    request = pb.ModelInferRequest(model_name=MODEL)
    request.inputs.add(name="text", datatype="BYTES", shape=[len(texts)])
    request.raw_input_contents.append(encode_bytes_tensor(np.array(texts, dtype=np.object_)))
    for key, value in parameters.items():
        if isinstance(value, bool):
            request.parameters[key].bool_param = value
        else:
            request.parameters[key].int64_param = value
    return request


def vectors(response: pb.ModelInferResponse) -> np.ndarray:
    shape = list(response.outputs[0].shape)
    return np.frombuffer(response.raw_output_contents[0], dtype="<f4").reshape(shape)


def test_tritonclient_works_unchanged(service: ServiceProcess, model_repository: Path) -> None:
    completed = subprocess.run(
        [sys.executable, str(HERE / "tritonclient_checks.py"), service.address],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    report = json.loads(completed.stdout.strip().splitlines()[-1])
    assert report["live"] and report["ready"] and report["model_ready"]
    assert report["metadata"] == {
        "name": MODEL,
        "inputs": [{"name": "text", "datatype": "BYTES", "shape": ["-1", "1"]}],
        "outputs": [{"name": "embedding", "datatype": "FP32", "shape": ["-1", "384"]}],
        "platform": "onnxruntime_onnx",
    }
    assert report["embedding"]["shape"] == [2, 384]
    assert abs(np.linalg.norm(report["embedding"]["first"]) - 1.0) < 1e-4
    assert report["raw"] == {"shape": [1, 4, 384], "dtype": "float32"}
    assert report["stream"] == {
        "a": [1, 384],
        "c": [1, 384],
        "error": f"model 'no-such-model' is not in the repository {model_repository}",
    }


def provider_for_this_host(model_repository: Path) -> str:
    """The first execution provider the model asks for that this host can run
    (TensorRT or CUDA on a GPU host, else the CPU)."""
    config = load_model_config(model_repository / MODEL / "config.json")
    usable, _ = resolve_providers(config.execution_providers)
    return usable[0]


async def test_metadata_reports_the_execution_provider_in_use(
    stub: Any, model_repository: Path
) -> None:
    metadata = await stub.ModelMetadata(pb.ModelMetadataRequest(name=MODEL))
    assert metadata.parameters["execution_provider"].string_param == provider_for_this_host(
        model_repository
    )
    assert metadata.parameters["kind"].string_param == "text_embedding"
    assert metadata.parameters["max_tokens"].int64_param == 256


async def test_concurrent_callers_each_get_their_own_vectors(stub: Any) -> None:
    texts = [
        f"request number {i} asks about topic {i * 7 % 13}" + " more" * (i % 9) for i in range(64)
    ]
    alone = [vectors(await stub.ModelInfer(text_request([text])))[0] for text in texts[:8]]
    responses = await asyncio.gather(*(stub.ModelInfer(text_request([text])) for text in texts))
    together = [vectors(response)[0] for response in responses]
    for index, vector in enumerate(alone):
        assert float(np.dot(vector, together[index])) > 0.9999
    # Every caller got a distinct vector, and the batcher really batched them.
    assert len({v.tobytes() for v in together}) == 64
    stats = await stub.ModelStatistics(pb.ModelStatisticsRequest(name=MODEL))
    model_stats = stats.model_stats[0]
    assert model_stats.inference_count > model_stats.execution_count


async def expect_error(call: Any, code: grpc.StatusCode, message: str) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await call
    assert (raised.value.code(), raised.value.details()) == (code, message)


async def test_unknown_model(stub: Any, model_repository: Path) -> None:
    request = text_request(["x"])
    request.model_name = "no-such-model"
    await expect_error(
        stub.ModelInfer(request),
        grpc.StatusCode.NOT_FOUND,
        f"model 'no-such-model' is not in the repository {model_repository}",
    )


async def test_wrong_datatype(stub: Any) -> None:
    request = pb.ModelInferRequest(model_name=MODEL)
    request.inputs.add(name="text", datatype="FP32", shape=[1])
    request.raw_input_contents.append(np.zeros(1, dtype="<f4").tobytes())
    await expect_error(
        stub.ModelInfer(request),
        grpc.StatusCode.INVALID_ARGUMENT,
        "inputs[0].datatype: input 'text' of model 'all-minilm-l6-v2' is BYTES, got FP32",
    )


async def test_wrong_shape(stub: Any) -> None:
    request = pb.ModelInferRequest(model_name=MODEL)
    request.inputs.add(name="text", datatype="BYTES", shape=[2, 2])
    request.raw_input_contents.append(
        encode_bytes_tensor(np.array(["a", "b", "c", "d"], dtype=np.object_))
    )
    await expect_error(
        stub.ModelInfer(request),
        grpc.StatusCode.INVALID_ARGUMENT,
        "input 'text': expected shape [n] or [n, 1], got [2, 2]",
    )


async def test_raw_content_size_must_match_the_shape(stub: Any) -> None:
    request = pb.ModelInferRequest(model_name="minilm-l6-raw")
    for name in ("input_ids", "attention_mask", "token_type_ids"):
        request.inputs.add(name=name, datatype="INT64", shape=[1, 4])
        request.raw_input_contents.append(np.zeros(3, dtype="<i8").tobytes())
    await expect_error(
        stub.ModelInfer(request),
        grpc.StatusCode.INVALID_ARGUMENT,
        "inputs[0]: raw content has 24 bytes; shape [1, 4] of INT64 needs 32",
    )


async def test_empty_batch(stub: Any) -> None:
    await expect_error(
        stub.ModelInfer(text_request([])),
        grpc.StatusCode.INVALID_ARGUMENT,
        "input 'text': holds 0 texts, must be 1 to 64 (max_batch_size)",
    )


async def test_over_long_text_under_the_refuse_policy(stub: Any) -> None:
    long_text = "word " * 300
    await expect_error(
        stub.ModelInfer(text_request(["short", long_text], truncate=False)),
        grpc.StatusCode.INVALID_ARGUMENT,
        "input 'text'[1]: text has 302 tokens, limit is 256",
    )
    # The default policy of this model truncates instead.
    assert vectors(await stub.ModelInfer(text_request([long_text]))).shape == (1, 384)


async def test_priority_out_of_range(stub: Any) -> None:
    await expect_error(
        stub.ModelInfer(text_request(["x"], priority=3)),
        grpc.StatusCode.INVALID_ARGUMENT,
        "parameters.priority: must be 0 (default) or 1 to 2 for model 'all-minilm-l6-v2', got 3",
    )


async def test_trace_has_request_spans_and_a_linked_batch_span(
    stub: Any, receiver: OtlpReceiver
) -> None:
    # Each call continues a trace of our own (W3C traceparent), so the test can
    # pick its spans out of everything else the service exported.
    trace_ids = [f"{0xABC0 + i:032x}" for i in range(4)]
    await asyncio.gather(
        *(
            stub.ModelInfer(
                text_request([f"traced {i}"]),
                metadata=(("traceparent", f"00-{trace_id}-{i + 1:016x}-01"),),
            )
            for i, trace_id in enumerate(trace_ids)
        )
    )

    def ours(spans: list[Any]) -> list[Any]:
        return [s for s in spans if s.trace_id in trace_ids]

    def linked_batches(spans: list[Any]) -> list[Any]:
        return [
            s
            for s in spans
            if s.name == "inference.batch" and any(t in trace_ids for t, _ in s.links)
        ]

    def complete(spans: list[Any]) -> bool:
        # Parents end after their children and may come in a later export batch:
        # wait for both spans of every trace and for every link.
        mine = ours(spans)
        requests = [s for s in mine if s.name == "inference.request"]
        rpcs = [s for s in mine if s.name == "/inference.GRPCInferenceService/ModelInfer"]
        linked = {link for s in linked_batches(spans) for link in s.links}
        return (
            len(requests) == 4
            and len(rpcs) == 4
            and {(s.trace_id, s.span_id) for s in requests} <= linked
        )

    spans = receiver.wait_for(complete)
    mine = ours(spans)
    assert {s.service for s in mine} == {"ragserve-inference"}
    by_id = {s.span_id: s for s in mine}
    for trace_id in trace_ids:
        names = sorted(s.name for s in mine if s.trace_id == trace_id)
        assert names == ["/inference.GRPCInferenceService/ModelInfer", "inference.request"]
    for span in (s for s in mine if s.name == "inference.request"):
        parent = by_id[span.parent_span_id]
        assert parent.name == "/inference.GRPCInferenceService/ModelInfer"
        assert parent.trace_id == span.trace_id
    # A batch span lives in its own trace and links to the request span of each of
    # its rows (the blueprint: one trace per request, batches linked, not parented).
    for batch in linked_batches(spans):
        assert batch.trace_id not in trace_ids
        assert batch.attributes["model"] == MODEL
        assert batch.attributes["batch.rows"] == len(batch.links)
    # Health checks are not traced.
    assert not [s for s in spans if "Health" in s.name]


@pytest.fixture(scope="module")
def small_service(
    model_repository: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceProcess]:
    """A service with a tiny queue and a 1 MiB message limit."""
    repository = tmp_path_factory.mktemp("models")
    source = model_repository / MODEL
    target = repository / MODEL
    (target / "1").mkdir(parents=True)
    config = json.loads((source / "config.json").read_text())
    config["max_batch_size"] = 4
    config["dynamic_batching"]["max_queue_size"] = 4
    (target / "config.json").write_text(json.dumps(config))
    (target / "1" / "model.onnx").symlink_to(source / "1" / "model.onnx")
    shutil.copy(source / "tokenizer.json", target / "tokenizer.json")
    process = ServiceProcess(
        "inference",
        {
            "RAGSERVE_INFERENCE_MODEL_REPOSITORY": str(repository),
            "RAGSERVE_INFERENCE_MAX_MESSAGE_BYTES": str(1024 * 1024),
        },
    )
    with process:
        yield process


async def test_message_over_the_size_limit(small_service: ServiceProcess) -> None:
    async with grpc.aio.insecure_channel(small_service.address) as channel:
        stub = inference_pb2_grpc.GRPCInferenceServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await stub.ModelInfer(text_request(["x" * (2 * 1024 * 1024)]))
    assert raised.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "larger than max" in (raised.value.details() or "")


async def test_full_queue_refuses_at_once(small_service: ServiceProcess) -> None:
    async with grpc.aio.insecure_channel(small_service.address) as channel:
        stub = inference_pb2_grpc.GRPCInferenceServiceStub(channel)
        batch = [f"queued text {i} " * 20 for i in range(4)]
        results = await asyncio.gather(
            *(stub.ModelInfer(text_request(batch)) for _ in range(32)), return_exceptions=True
        )
    refused = [r for r in results if isinstance(r, grpc.aio.AioRpcError)]
    served = [r for r in results if not isinstance(r, BaseException)]
    assert refused and served
    for error in refused:
        assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        details = error.details() or ""
        assert details.startswith("batcher 'all-minilm-l6-v2' queue is full: ")
        # The hint is the batcher's estimate (its measured batch time), in both forms.
        retry_after_ms = int(dict(error.trailing_metadata() or ())["retry-after-ms"])
        assert retry_after_ms >= 1
        assert details.endswith(f"; retry after {retry_after_ms / 1000:.3f} s")
    for response in served:
        assert vectors(response).shape == (4, 384)


async def test_request_timeout_parameter_gives_deadline_exceeded(stub: Any) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stub.ModelInfer(text_request(["too late"], timeout=1))
    assert raised.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert "before the item reached batcher 'all-minilm-l6-v2'" in (raised.value.details() or "")


async def test_sigterm_lets_in_flight_requests_finish(model_repository: Path) -> None:
    process = ServiceProcess(
        "inference",
        {
            "RAGSERVE_INFERENCE_MODEL_REPOSITORY": str(model_repository),
            "RAGSERVE_INFERENCE_MODELS": MODEL,
            "RAGSERVE_INFERENCE_GRACE_PERIOD_S": "60",
        },
    ).start()
    try:
        async with grpc.aio.insecure_channel(process.address) as channel:
            stub = inference_pb2_grpc.GRPCInferenceServiceStub(channel)
            texts = [f"in flight text {i} " * 12 for i in range(64)]
            calls = [asyncio.ensure_future(stub.ModelInfer(text_request(texts))) for _ in range(4)]
            first = await asyncio.wait(calls, return_when=asyncio.FIRST_COMPLETED)
            assert first[0]
            assert process.process is not None
            in_flight = sum(not call.done() for call in calls)
            process.process.send_signal(15)
            assert in_flight > 0, "every request finished before SIGTERM; the test proved nothing"
            responses = await asyncio.gather(*calls)
        assert [vectors(r).shape for r in responses] == [(64, 384)] * 4
        assert process.wait_exit(60) == 0
        events = [r.get("event") for r in process.records()]
        assert events.index("stopping") < events.index("stopped")
    finally:
        process.kill()


async def test_unload_and_load_at_run_time(stub: Any) -> None:
    raw = "minilm-l6-raw"
    await stub.RepositoryModelUnload(pb.RepositoryModelUnloadRequest(model_name=raw))
    assert not (await stub.ModelReady(pb.ModelReadyRequest(name=raw))).ready
    index = await stub.RepositoryIndex(pb.RepositoryIndexRequest())
    states = {m.name: (m.state, m.reason) for m in index.models}
    assert states[raw] == ("UNAVAILABLE", "unloaded")
    request = pb.ModelInferRequest(model_name=raw)
    request.inputs.add(name="input_ids", datatype="INT64", shape=[1, 1])
    await expect_error(
        stub.ModelInfer(request),
        grpc.StatusCode.FAILED_PRECONDITION,
        f"model '{raw}' is not ready (state UNAVAILABLE: unloaded)",
    )
    await stub.RepositoryModelLoad(pb.RepositoryModelLoadRequest(model_name=raw))
    assert (await stub.ModelReady(pb.ModelReadyRequest(name=raw))).ready
    ready_only = await stub.RepositoryIndex(pb.RepositoryIndexRequest(ready=True))
    assert {m.name for m in ready_only.models} == {MODEL, raw}


async def test_metrics_endpoint_shows_batching_and_the_provider(
    stub: Any, service: ServiceProcess, model_repository: Path
) -> None:
    import urllib.request

    provider = provider_for_this_host(model_repository)
    await asyncio.gather(*(stub.ModelInfer(text_request([f"metric {i}"])) for i in range(16)))

    def scrape() -> str:
        url = f"http://127.0.0.1:{service.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=10) as page:
            return str(page.read().decode())

    text = await asyncio.to_thread(scrape)

    def value(line_start: str) -> float:
        lines = [line for line in text.splitlines() if line.startswith(line_start)]
        assert lines, f"no sample {line_start}"
        return float(lines[0].rsplit(" ", 1)[1])

    label = f'{{model="{MODEL}"}}'
    inferences = value(f"ragserve_inference_inferences_total{label}")
    executions = value(f"ragserve_inference_executions_total{label}")
    assert inferences >= 16 and executions >= 1 and inferences >= executions
    assert value(f"ragserve_inference_batch_size_count{label}") == executions
    assert (
        value(f'ragserve_inference_execution_provider{{model="{MODEL}",provider="{provider}"}}')
        == 1
    )
    assert (
        value(f'ragserve_inference_requests_total{{model="{MODEL}",outcome="success",reason=""}}')
        >= 16
    )
    assert value(f"ragserve_inference_model_ready{label}") == 1
    assert (
        value(
            'grpc_server_handled_total{grpc_code="OK",grpc_method="ModelInfer",grpc_service="inference.GRPCInferenceService"}'
        )
        >= 16
    )


async def test_access_logs_are_json_with_trace_ids(service: ServiceProcess, stub: Any) -> None:
    trace_id = "5a1c0ffee0ddba11" * 2
    await stub.ModelInfer(
        text_request(["a line of its own in the access log"]),
        metadata=(("traceparent", f"00-{trace_id}-00000000000000a1-01"),),
    )
    record = await asyncio.to_thread(
        service.wait_for_record,
        lambda r: r.get("message") == "rpc" and r.get("trace_id") == trace_id,
    )
    assert record["service"] == "inference"
    assert record["logger"] == "ragserve.access"
    assert record["rpc.method"] == "/inference.GRPCInferenceService/ModelInfer"
    assert record["rpc.code"] == "OK"
    assert record["rpc.duration_ms"] > 0
    assert len(record["span_id"]) == 16
