"""Driven by test_tritonclient.py in its own process: tritonclient defines the
same `inference` proto package as our stubs, so the two never share a process.

Usage: python tritonclient_checks.py HOST:PORT; prints one JSON object.
"""

from __future__ import annotations

import json
import queue
import sys

import numpy as np
import tritonclient.grpc as triton
from tritonclient.utils import InferenceServerException


def main(url: str) -> None:
    client = triton.InferenceServerClient(url)
    report: dict[str, object] = {
        "live": client.is_server_live(),
        "ready": client.is_server_ready(),
        "model_ready": client.is_model_ready("all-minilm-l6-v2"),
    }
    metadata = client.get_model_metadata("all-minilm-l6-v2", as_json=True)
    report["metadata"] = {
        "name": metadata["name"],
        "inputs": metadata["inputs"],
        "outputs": metadata["outputs"],
        "platform": metadata["platform"],
    }
    texts = np.array([b"the cat sat on the mat", "naïve café".encode()], dtype=np.object_)
    text_input = triton.InferInput("text", [2], "BYTES")
    text_input.set_data_from_numpy(texts)
    result = client.infer(
        "all-minilm-l6-v2",
        [text_input],
        outputs=[triton.InferRequestedOutput("embedding")],
        priority=1,
        timeout=5_000_000,
    )
    vectors = result.as_numpy("embedding")
    report["embedding"] = {"shape": list(vectors.shape), "first": vectors[0].tolist()}

    ids = np.array([[101, 7592, 2088, 102]], dtype=np.int64)
    raw_inputs = []
    for name, array in (
        ("input_ids", ids),
        ("attention_mask", np.ones_like(ids)),
        ("token_type_ids", np.zeros_like(ids)),
    ):
        tensor = triton.InferInput(name, list(array.shape), "INT64")
        tensor.set_data_from_numpy(array)
        raw_inputs.append(tensor)
    raw = client.infer("minilm-l6-raw", raw_inputs).as_numpy("last_hidden_state")
    report["raw"] = {"shape": list(raw.shape), "dtype": str(raw.dtype)}

    # Stream: good, bad (unknown model), good; the bad one must not close the stream.
    responses: queue.Queue[tuple[object, object]] = queue.Queue()
    client.start_stream(callback=lambda result, error: responses.put((result, error)))
    for request_id, model in (
        ("a", "all-minilm-l6-v2"),
        ("b", "no-such-model"),
        ("c", "all-minilm-l6-v2"),
    ):
        one = triton.InferInput("text", [1], "BYTES")
        one.set_data_from_numpy(np.array([f"stream {request_id}".encode()], dtype=np.object_))
        client.async_stream_infer(model, [one], request_id=request_id)
    stream: dict[str, object] = {}
    for _ in range(3):
        outcome, error = responses.get(timeout=30)
        if error is not None:
            assert isinstance(error, InferenceServerException)
            stream["error"] = error.message()
        else:
            stream[outcome.get_response().id] = list(outcome.as_numpy("embedding").shape)  # type: ignore[attr-defined]
    client.stop_stream()
    report["stream"] = stream
    print(json.dumps(report))


if __name__ == "__main__":
    main(sys.argv[1])
