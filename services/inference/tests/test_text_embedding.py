"""The text pipeline against sentence-transformers, and its truncation policies."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from ragserve.errors import FailedPrecondition, InvalidArgument
from ragserve.inference.config import TruncationPolicy
from ragserve.inference.repository import ModelRepository
from ragserve.inference.text_embedding import TextEmbeddingModel, narrow_threads

from .conftest import Reference


def cosines(ours: np.ndarray, theirs: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(ours, axis=1) * np.linalg.norm(theirs, axis=1)
    return np.asarray(np.sum(ours * theirs, axis=1) / norms)


def test_reference_covers_short_long_and_empty_texts(reference: Reference) -> None:
    assert len(reference.texts) >= 40
    assert "" in reference.texts
    assert sum(count > reference.max_seq_length for count in reference.token_counts) >= 4


@pytest.fixture(scope="module")
def alone(text_model: TextEmbeddingModel, reference: Reference) -> np.ndarray:
    """Every reference text embedded in a batch of its own."""
    tokenized = text_model.tokenize(reference.texts)
    return np.concatenate([text_model.embed([text]) for text in tokenized])


def test_each_text_alone_matches_sentence_transformers(
    alone: np.ndarray, reference: Reference
) -> None:
    similarity = cosines(alone, reference.vectors)
    worst = int(np.argmin(similarity))
    assert similarity[worst] >= 0.99, (reference.texts[worst][:60], float(similarity[worst]))
    assert float(similarity.mean()) >= 0.998


def test_a_vector_does_not_depend_on_its_batch_companions(
    text_model: TextEmbeddingModel, reference: Reference, alone: np.ndarray
) -> None:
    tokenized = text_model.tokenize(reference.texts)
    by_length = sorted(range(len(tokenized)), key=lambda i: tokenized[i].length)
    # Batches of 8 in length order: what the batcher builds.
    sorted_batches = np.empty_like(alone)
    for start in range(0, len(by_length), 8):
        rows = by_length[start : start + 8]
        sorted_batches[rows] = text_model.embed([tokenized[i] for i in rows])
    # The worst case for padding: the longest text with the shortest ones, in any order.
    mixed_rows = [by_length[-1], *by_length[:6]][::-1]
    mixed = text_model.embed([tokenized[i] for i in mixed_rows])
    for batched, rows in ((sorted_batches, list(range(len(alone)))), (mixed, mixed_rows)):
        assert float(cosines(batched, alone[rows]).min()) >= 0.9999
        assert float(cosines(batched, reference.vectors[rows]).min()) >= 0.99


def test_vectors_are_unit_length_float32(text_model: TextEmbeddingModel) -> None:
    vectors = text_model.embed_texts(["one", "two words", ""])
    assert vectors.dtype == np.float32
    assert vectors.shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_token_counts_match_the_reference_tokenizer(
    text_model: TextEmbeddingModel, reference: Reference
) -> None:
    tokenized = text_model.tokenize(reference.texts)
    assert [text.original_length for text in tokenized] == reference.token_counts
    assert [text.length for text in tokenized] == [min(n, 256) for n in reference.token_counts]
    assert [text.truncated for text in tokenized] == [n > 256 for n in reference.token_counts]


def test_the_empty_text_is_just_the_special_tokens(text_model: TextEmbeddingModel) -> None:
    (empty,) = text_model.tokenize([""])
    assert empty.ids.tolist() == [101, 102]
    assert empty.type_ids.tolist() == [0, 0]
    assert empty.attention_mask.tolist() == [1, 1]
    assert empty.length == 2 and not empty.truncated


def test_truncate_cuts_a_long_text_to_the_limit(text_model: TextEmbeddingModel) -> None:
    (long_text,) = text_model.tokenize(["word " * 300], TruncationPolicy.TRUNCATE)
    assert long_text.length == 256
    assert long_text.original_length == 302
    assert long_text.truncated
    assert long_text.ids[0] == 101 and long_text.ids[-1] == 102  # still [CLS] ... [SEP]


def test_refuse_names_the_text_its_token_count_and_the_limit(
    text_model: TextEmbeddingModel,
) -> None:
    texts = ["short", "fine too", "also fine", "word " * 298]
    with pytest.raises(InvalidArgument) as caught:
        text_model.tokenize(texts, TruncationPolicy.REFUSE)
    assert str(caught.value) == "inputs[0][3]: text has 300 tokens, limit is 256"
    assert caught.value.field == "inputs[0][3]"

    with pytest.raises(InvalidArgument) as caught:
        text_model.tokenize(["word " * 298], TruncationPolicy.REFUSE, field="input 'text'")
    assert str(caught.value) == "input 'text'[0]: text has 300 tokens, limit is 256"


def test_refuse_accepts_a_text_of_exactly_the_limit(text_model: TextEmbeddingModel) -> None:
    (text,) = text_model.tokenize(["word " * 254], TruncationPolicy.REFUSE)
    assert text.length == 256 and not text.truncated


def test_the_configured_policy_is_the_default(text_model: TextEmbeddingModel) -> None:
    assert text_model.config.text is not None
    assert text_model.config.text.truncation is TruncationPolicy.TRUNCATE
    (text,) = text_model.tokenize(["word " * 400])
    assert text.length == 256


def test_decode_texts_takes_n_or_n_by_1_utf8(text_model: TextEmbeddingModel) -> None:
    flat = np.array([b"caf\xc3\xa9", b""], dtype=np.object_)
    assert text_model.decode_texts(flat) == ["café", ""]
    assert text_model.decode_texts(flat.reshape(2, 1)) == ["café", ""]


@pytest.mark.parametrize(
    ("tensor", "message"),
    [
        (
            np.array([b"ok", b"\xff"], dtype=np.object_),
            "inputs[0][1]: text is not valid UTF-8 (byte 0)",
        ),
        (np.array([1, 2], dtype=np.int64), "inputs[0]: expected datatype BYTES, got numpy int64"),
        (
            np.array([[b"a", b"b"]], dtype=np.object_),
            "inputs[0]: expected shape [n] or [n, 1], got [1, 2]",
        ),
        (
            np.array([], dtype=np.object_),
            "inputs[0]: holds 0 texts, must be 1 to 64 (max_batch_size)",
        ),
        (
            np.array([b"x"] * 65, dtype=np.object_),
            "inputs[0]: holds 65 texts, must be 1 to 64 (max_batch_size)",
        ),
    ],
)
def test_decode_texts_refuses_bad_tensors(
    text_model: TextEmbeddingModel, tensor: np.ndarray, message: str
) -> None:
    with pytest.raises(InvalidArgument) as caught:
        text_model.decode_texts(tensor)
    assert str(caught.value) == message


def test_an_empty_batch_embeds_to_no_rows(text_model: TextEmbeddingModel) -> None:
    assert text_model.embed([]).shape == (0, 384)


def test_an_unloaded_model_refuses_to_embed(model_repository_root: object) -> None:
    repository = ModelRepository(str(model_repository_root), warm_up=False)
    model = repository.load("all-minilm-l6-v2")
    assert isinstance(model, TextEmbeddingModel)
    tokenized = model.tokenize(["still here?"])
    repository.unload("all-minilm-l6-v2")
    with pytest.raises(FailedPrecondition) as caught:
        model.embed(tokenized)
    assert str(caught.value) == "model 'all-minilm-l6-v2' is unloaded"


def test_overlapping_batches_use_the_narrow_session_with_the_same_vectors(
    text_model: TextEmbeddingModel,
) -> None:
    # The committed config (2 threads, 2 instances) keeps a 1-thread session for
    # batches that overlap another; its vectors must not differ from the wide one's.
    assert narrow_threads(text_model.config) == 1
    assert text_model.has_narrow_session
    batch = text_model.tokenize(["the narrow session", "a second, somewhat longer text"])
    wide = text_model.embed(batch)
    narrow = text_model.embed(batch, overlapping=True)
    assert np.allclose(wide, narrow, atol=1e-5)


def test_no_narrow_session_without_several_instances_and_threads(
    text_model: TextEmbeddingModel,
) -> None:
    config = text_model.config
    assert narrow_threads(replace(config, instance_count=1)) is None
    assert narrow_threads(replace(config, intra_op_threads=1)) is None
    assert narrow_threads(replace(config, intra_op_threads=4, instance_count=2)) == 2
