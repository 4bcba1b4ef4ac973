"""`make demo`: start the inference service with the default model and embed a
few texts through it with the real `tritonclient`, printing shapes and timings.

The service runs as its own process (`python -m ragserve.inference`) on its
default port (8001; override with RAGSERVE_INFERENCE_PORT; 0 picks a free one)
and is stopped with SIGTERM at the end, as an operator would.
"""

from __future__ import annotations

import os
import statistics
import time

import numpy as np
import tritonclient.grpc as triton

from ragserve.inference.settings import GRPC_PORT
from ragserve.testkit.processes import ServiceProcess

TEXTS = [
    "ragserve serves retrieval-augmented AI over gRPC.",
    "The inference service batches requests from many callers into one ONNX Runtime run.",
    "A cat sat on the mat.",
    "Vector search finds the chunks nearest to a query embedding.",
]


def main() -> None:
    port = int(os.environ.get("RAGSERVE_INFERENCE_PORT", str(GRPC_PORT)))
    print(
        f"starting the inference service (python -m ragserve.inference) on port {port or 'auto'} ..."
    )
    started = time.perf_counter()
    with ServiceProcess("inference", grpc_port=port) as service:
        print(
            f"SERVING at {service.address} after {time.perf_counter() - started:.1f} s (model loaded and warmed up)"
        )
        client = triton.InferenceServerClient(service.address)
        metadata = client.get_model_metadata("all-minilm-l6-v2", as_json=True)
        print(
            f"model {metadata['name']} v{metadata['versions'][0]}: inputs {metadata['inputs']}, outputs {metadata['outputs']}"
        )

        text_input = triton.InferInput("text", [len(TEXTS)], "BYTES")
        text_input.set_data_from_numpy(np.array([t.encode() for t in TEXTS], dtype=np.object_))
        result = client.infer("all-minilm-l6-v2", [text_input])
        vectors = result.as_numpy("embedding")
        print(
            f"embedded {len(TEXTS)} texts: shape {vectors.shape}, dtype {vectors.dtype}, norms {np.round(np.linalg.norm(vectors, axis=1), 4).tolist()}"
        )
        similarity = vectors @ vectors.T
        print(
            "cosine similarity of text 0 to the others:",
            [round(float(s), 3) for s in similarity[0]],
        )

        one = triton.InferInput("text", [1], "BYTES")
        one.set_data_from_numpy(np.array([TEXTS[2].encode()], dtype=np.object_))
        timings = []
        for _ in range(50):
            t0 = time.perf_counter()
            client.infer("all-minilm-l6-v2", [one])
            timings.append((time.perf_counter() - t0) * 1000)
        timings.sort()
        print(
            f"one text, 50 calls: p50 {statistics.median(timings):.2f} ms, p99 {timings[-1]:.2f} ms"
        )

        text_input = triton.InferInput("text", [32], "BYTES")
        text_input.set_data_from_numpy(
            np.array([TEXTS[i % 4].encode() for i in range(32)], dtype=np.object_)
        )
        t0 = time.perf_counter()
        for _ in range(5):
            client.infer("all-minilm-l6-v2", [text_input])
        elapsed = time.perf_counter() - t0
        print(f"batches of 32 texts: {5 * 32 / elapsed:.0f} embeddings/s")
        stats = client.get_inference_statistics("all-minilm-l6-v2").model_stats[0]
        print(
            f"server statistics: {stats.inference_count} inferences in {stats.execution_count} executions"
        )
    print("stopped the service (SIGTERM, graceful)")


if __name__ == "__main__":
    main()
