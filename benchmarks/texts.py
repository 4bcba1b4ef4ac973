"""Deterministic benchmark texts of realistic length (about 13 to 74 tokens),
the range FACTS.md measured in-process ONNX Runtime with."""

from __future__ import annotations

import random

WORDS = [
    "retrieval",
    "augmented",
    "generation",
    "serves",
    "answers",
    "from",
    "documents",
    "indexed",
    "as",
    "vectors",
    "in",
    "a",
    "collection",
    "the",
    "query",
    "is",
    "embedded",
    "and",
    "compared",
    "with",
    "every",
    "chunk",
    "nearest",
    "neighbours",
    "come",
    "back",
    "ranked",
    "by",
    "cosine",
    "similarity",
    "operators",
    "watch",
    "latency",
    "throughput",
    "and",
    "error",
    "budgets",
    "while",
    "platform",
    "teams",
    "deploy",
    "models",
    "on",
    "gpus",
    "and",
    "cpus",
    "batching",
    "keeps",
    "hardware",
    "busy",
    "tokenizers",
    "split",
    "words",
    "into",
    "pieces",
    "padding",
    "wastes",
    "compute",
    "when",
    "lengths",
    "differ",
    "widely",
    "kubernetes",
    "scales",
    "replicas",
    "on",
    "queue",
    "depth",
    "redis",
    "caches",
    "vectors",
    "for",
    "repeated",
    "questions",
]


def make_texts(count: int, seed: int = 7, min_words: int = 8, max_words: int = 56) -> list[str]:
    rng = random.Random(seed)
    texts = []
    for index in range(count):
        length = rng.randint(min_words, max_words)
        words = [rng.choice(WORDS) for _ in range(length)]
        texts.append(f"{index}: " + " ".join(words) + ".")
    return texts
