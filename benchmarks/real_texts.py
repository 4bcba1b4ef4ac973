"""Real text, and its real embeddings, for benchmarks that need many distinct passages.

Random vectors (or real ones with heavy Gaussian noise) have no low-dimensional structure,
so HNSW needs a huge beam to find their neighbours (docs/bench/retrieval.md) and a
benchmark on them says nothing about a collection of real documents. Sentence embeddings of
real prose cluster by topic; that is the case the retrieval index is built for.

The passages are the paragraphs of the docstrings of the Python standard library and of
the packages installed in this project's environment: prose written by people, about a
wide range of topics, present on every machine that can run the suite (no download), and
fixed by uv.lock. ``passages()`` returns them deduplicated in a fixed pseudo-random order
(order by a hash of the text), so the first N are a varied sample at any N.

``embeddings()`` embeds them in this process with the inference service's
``TextEmbeddingModel`` (batches of 32 sorted by length), the same model and code the suite
serves with, and caches the matrix under ``.cache/bench/`` keyed by the texts and the
model's files: the first run at 100k passages takes minutes on 2 cores, later runs load it.
"""

from __future__ import annotations

import ast
import hashlib
import re
import sysconfig
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from ragserve.inference.text_embedding import TextEmbeddingModel

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".cache" / "bench"
MODEL = "all-minilm-l6-v2"
# Paragraphs shorter than this are mostly signatures or one-word notes; longer ones are
# kept whole up to the limit (about 130 tokens), well inside the model's 256.
MIN_CHARS, MAX_CHARS = 40, 600
BATCH = 32

_BLANK_LINE = re.compile(r"\n\s*\n")
_DOCUMENTED = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)


def _source_files() -> Iterator[Path]:
    paths = sysconfig.get_paths()
    for root in sorted({Path(paths["stdlib"]), Path(paths["purelib"])}):
        for path in sorted(root.rglob("*.py")):
            if "test" in path.parts or "tests" in path.parts:
                continue  # test docstrings repeat the code's own
            yield path


def _is_prose(text: str) -> bool:
    return MIN_CHARS <= len(text) <= MAX_CHARS and sum(c.isalpha() for c in text) > 0.6 * len(text)


def _paragraphs(path: Path) -> Iterator[str]:
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (SyntaxError, UnicodeDecodeError, ValueError):
        return
    for node in ast.walk(tree):
        if isinstance(node, _DOCUMENTED):
            docstring = ast.get_docstring(node)
            for paragraph in _BLANK_LINE.split(docstring or ""):
                text = " ".join(paragraph.split())
                if _is_prose(text):
                    yield text


def _order_key(text: str) -> bytes:
    return hashlib.blake2b(text.encode(), digest_size=8).digest()


def passages(count: int) -> list[str]:
    """The first ``count`` distinct docstring paragraphs in hash order; cached as text."""
    CACHE.mkdir(parents=True, exist_ok=True)
    cached = CACHE / "passages.txt"
    if not cached.exists():
        unique = {text for path in _source_files() for text in _paragraphs(path)}
        ordered = sorted(unique, key=_order_key)
        cached.write_text("\n".join(ordered) + "\n", encoding="utf-8")
    texts = cached.read_text(encoding="utf-8").splitlines()
    if len(texts) < count:
        raise SystemExit(f"only {len(texts)} passages on this machine, {count} asked for")
    return texts[:count]


def _model_fingerprint(repository: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted((repository / MODEL).rglob("*")):
        if path.is_file():
            digest.update(path.name.encode())
            digest.update(str(path.stat().st_size).encode())
    return digest.hexdigest()[:16]


def load_model(repository: Path) -> TextEmbeddingModel:
    """The model as the inference service runs it, with at least 2 intra-op threads (the
    in-process ceiling the benchmarks compare with)."""
    from ragserve.inference.config import load_model_config
    from ragserve.inference.served_model import ModelFiles
    from ragserve.inference.text_embedding import TextEmbeddingModel

    config = load_model_config(repository / MODEL)
    config = replace(config, intra_op_threads=max(config.intra_op_threads, 2))
    return TextEmbeddingModel.load(config, ModelFiles(repository / MODEL, "1"))


def embeddings(
    texts: list[str], repository: Path, report: Callable[[str], None] = print
) -> npt.NDArray[np.float32]:
    """float32 [len(texts), 384], row i the model's vector of texts[i]; cached."""
    digest = hashlib.sha256("\n".join(texts).encode())
    digest.update(_model_fingerprint(repository).encode())
    cached = CACHE / f"embeddings-{len(texts)}-{digest.hexdigest()[:16]}.npy"
    if cached.exists():
        loaded: npt.NDArray[np.float32] = np.load(cached)
        return loaded

    model = load_model(repository)
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    vectors = np.zeros((len(texts), 384), dtype=np.float32)
    started = time.perf_counter()
    for done, start in enumerate(range(0, len(order), BATCH)):
        rows = order[start : start + BATCH]
        vectors[rows] = model.embed_texts([texts[i] for i in rows])
        if done % 200 == 0:
            report(f"embedded {start + len(rows)} of {len(texts)} passages")
    model.close()
    report(f"{len(texts)} passages embedded in {time.perf_counter() - started:.0f} s")
    np.save(cached, vectors)
    return vectors
