"""A raw tensor model (minilm-l6-raw): validation, running, and batching rows of requests."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from ragserve.errors import InvalidArgument
from ragserve.inference.raw_model import RawOnnxModel
from ragserve.inference.repository import ModelRepository
from ragserve.inference.text_embedding import TextEmbeddingModel


def request(*token_rows: list[int]) -> dict[str, np.ndarray]:
    """Token id rows of equal length as the model's three inputs."""
    ids = np.array(token_rows, dtype=np.int64)
    return {
        "input_ids": ids,
        "attention_mask": np.ones_like(ids),
        "token_type_ids": np.zeros_like(ids),
    }


HELLO = [101, 7592, 2088, 102]  # [CLS] hello world [SEP]
LONGER = [101, 1996, 4248, 2829, 4419, 14523, 2058, 1996, 13971, 3899, 102]


def test_validate_returns_the_inputs_in_config_order(raw_model: RawOnnxModel) -> None:
    inputs = request(HELLO)
    shuffled = {name: inputs[name] for name in reversed(list(inputs))}
    checked = raw_model.validate(shuffled)
    assert list(checked) == ["input_ids", "attention_mask", "token_type_ids"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"extra": np.zeros((1, 4), np.int64)},
            "input 'extra': is not an input of model 'minilm-l6-raw' "
            "(inputs: input_ids, attention_mask, token_type_ids)",
        ),
        ({"token_type_ids": None}, "input 'token_type_ids': is required by model 'minilm-l6-raw'"),
        (
            {"attention_mask": np.ones((1, 4), np.float32)},
            "input 'attention_mask': expected datatype INT64, got FP32",
        ),
        (
            {"attention_mask": np.ones((1, 4), np.complex64)},
            "input 'attention_mask': expected datatype INT64, got numpy complex64",
        ),
        (
            {"input_ids": np.ones((4,), np.int64)},
            "input 'input_ids': expected shape [-1, -1], got [4]",
        ),
        (
            {"input_ids": np.ones((65, 4), np.int64)},
            "input 'input_ids': batch size 65 must be 1 to 64 (max_batch_size)",
        ),
        (
            {"input_ids": np.ones((0, 4), np.int64)},
            "input 'input_ids': batch size 0 must be 1 to 64 (max_batch_size)",
        ),
        ({"input_ids": np.ones((1, 0), np.int64)}, "input 'input_ids': has an empty dim: [1, 0]"),
        (
            {"attention_mask": np.ones((2, 4), np.int64)},
            "input 'attention_mask': batch size 2 differs from input 'input_ids' (1)",
        ),
    ],
)
def test_validate_names_the_input_and_what_was_expected(
    raw_model: RawOnnxModel, change: dict[str, np.ndarray | None], message: str
) -> None:
    inputs: dict[str, np.ndarray] = request(HELLO)
    for name, array in change.items():
        if array is None:
            del inputs[name]
        else:
            inputs[name] = array
    with pytest.raises(InvalidArgument) as caught:
        raw_model.validate(inputs)
    assert str(caught.value) == message


def test_run_gives_the_hidden_states_the_text_model_pools(
    raw_model: RawOnnxModel, text_model: TextEmbeddingModel
) -> None:
    outputs = raw_model.run(raw_model.validate(request(HELLO)))
    hidden = outputs["last_hidden_state"]
    assert hidden.shape == (1, 4, 384) and hidden.dtype == np.float32
    pooled = hidden[0].mean(axis=0)
    pooled /= np.linalg.norm(pooled)
    (tokenized,) = text_model.tokenize(["hello world"])
    assert tokenized.ids.tolist() == HELLO
    np.testing.assert_allclose(pooled, text_model.embed([tokenized])[0], atol=1e-5)


def test_run_refuses_unknown_outputs_and_out_of_vocabulary_ids(
    raw_model: RawOnnxModel, capfd: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(InvalidArgument) as caught:
        raw_model.run(request(HELLO), ["pooler_output"])
    assert str(caught.value) == "output 'pooler_output': is not an output of model 'minilm-l6-raw'"

    with pytest.raises(InvalidArgument) as caught:
        raw_model.run(request([101, 999_999, 102]))
    assert str(caught.value).startswith("inputs: model 'minilm-l6-raw' refused them: ")
    assert "idx=999999" in str(caught.value)
    captured = capfd.readouterr()
    assert captured.out == "" and captured.err == ""  # the failure is the caller's, not a log's


def test_requests_of_different_lengths_share_a_padded_batch(raw_model: RawOnnxModel) -> None:
    requests = [request(HELLO), request(LONGER, LONGER[::-1]), request(HELLO[:3])]
    assert raw_model.pads_variable_dims
    assert len({raw_model.batch_key(r) for r in requests}) == 1

    batch = raw_model.concat(requests)
    assert batch.rows == (1, 2, 1) and batch.size == 4
    assert batch.inputs["input_ids"].shape == (4, 11)
    assert batch.inputs["input_ids"][0].tolist() == [*HELLO, 0, 0, 0, 0, 0, 0, 0]
    assert batch.inputs["attention_mask"][3].tolist() == [1, 1, 1] + [0] * 8

    parts = raw_model.split(batch, raw_model.run(batch.inputs))
    for own, alone in zip(parts, requests, strict=True):
        expected = raw_model.run(alone)["last_hidden_state"]
        assert own["last_hidden_state"].shape == expected.shape
        np.testing.assert_allclose(own["last_hidden_state"], expected, atol=2e-4)


def test_split_keeps_only_the_outputs_that_were_run(raw_model: RawOnnxModel) -> None:
    batch = raw_model.concat([request(HELLO), request(HELLO)])
    parts = raw_model.split(batch, raw_model.run(batch.inputs, ["last_hidden_state"]))
    assert [list(part) for part in parts] == [["last_hidden_state"], ["last_hidden_state"]]
    assert [part["last_hidden_state"].shape for part in parts] == [(1, 4, 384), (1, 4, 384)]


def test_concat_refuses_what_cannot_share_a_batch(raw_model: RawOnnxModel) -> None:
    with pytest.raises(ValueError, match="65 rows exceed max_batch_size 64"):
        raw_model.concat([request(*[HELLO] * 60), request(*[HELLO] * 5)])
    with pytest.raises(ValueError, match="at least one request"):
        raw_model.concat([])


@pytest.fixture(scope="module")
def unpadded_model(
    model_repository_root: Path, tmp_path_factory: pytest.TempPathFactory
) -> RawOnnxModel:
    """minilm-l6-raw declared without pad values: it must not batch differing lengths."""
    root = tmp_path_factory.mktemp("repository")
    source = model_repository_root / "minilm-l6-raw"
    target = root / "unpadded"
    (target / "1").mkdir(parents=True)
    (target / "1" / "model.onnx").symlink_to(source / "1" / "model.onnx")
    config = json.loads((source / "config.json").read_text())
    del config["name"]
    for spec in config["inputs"]:
        del spec["pad_value"]
    (target / "config.json").write_text(json.dumps(config))
    model = ModelRepository(root, warm_up=False).load("unpadded")
    assert isinstance(model, RawOnnxModel)
    shutil.rmtree(root, ignore_errors=True)  # the session holds the model in memory
    return model


def test_a_model_without_pad_values_batches_only_equal_shapes(unpadded_model: RawOnnxModel) -> None:
    assert not unpadded_model.pads_variable_dims
    short, longer = request(HELLO), request(LONGER)
    assert unpadded_model.batch_key(short) != unpadded_model.batch_key(longer)
    assert unpadded_model.batch_key(short) == unpadded_model.batch_key(request(LONGER[:4]))
    with pytest.raises(ValueError, match="different batch keys"):
        unpadded_model.concat([short, longer])
    batch = unpadded_model.concat([short, request(LONGER[:4])])
    assert batch.inputs["input_ids"].shape == (2, 4)
