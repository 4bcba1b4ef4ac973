"""Model config: the committed configs load; each bad field is refused by name."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from ragserve.errors import InvalidArgument
from ragserve.inference.config import (
    DynamicBatchingConfig,
    ModelConfigError,
    ModelKind,
    Pooling,
    TensorSpec,
    TextConfig,
    TruncationPolicy,
    load_model_config,
    parse_model_config,
)

MODELS = Path(__file__).resolve().parents[3] / "models"

TEXT: dict[str, Any] = {
    "kind": "text_embedding",
    "max_batch_size": 8,
    "inputs": [{"name": "text", "datatype": "BYTES", "dims": [1]}],
    "outputs": [{"name": "embedding", "datatype": "FP32", "dims": [384]}],
    "dynamic_batching": {"max_queue_delay_us": 100},
    "text": {},
}
RAW: dict[str, Any] = {
    "kind": "onnx",
    "max_batch_size": 4,
    "inputs": [{"name": "ids", "datatype": "INT64", "dims": [-1], "pad_value": 0}],
    "outputs": [{"name": "hidden", "datatype": "FP32", "dims": [-1, 8], "trim_like": "ids"}],
}


def test_the_committed_text_model_config() -> None:
    config = load_model_config(MODELS / "all-minilm-l6-v2" / "config.json")
    assert config.name == "all-minilm-l6-v2"
    assert config.kind is ModelKind.TEXT_EMBEDDING
    assert config.max_batch_size == 64
    assert config.inputs == (TensorSpec("text", "BYTES", (1,)),)
    assert config.outputs == (TensorSpec("embedding", "FP32", (384,)),)
    assert config.execution_providers == ("tensorrt", "cuda", "cpu")
    # Two instances with two threads: a batch alone runs wide, overlapping batches
    # narrow (one thread each); see text_embedding.narrow_threads.
    assert (config.intra_op_threads, config.instance_count) == (2, 2)
    assert config.intra_op_spinning is True
    assert config.text == TextConfig(
        tokenizer="tokenizer.json",
        max_tokens=256,
        pooling=Pooling.MEAN,
        normalize=True,
        truncation=TruncationPolicy.TRUNCATE,
        dimension=384,
    )
    # Queue tuning is the operator's to change; only its presence is fixed here.
    assert isinstance(config.dynamic_batching, DynamicBatchingConfig)
    assert config.full_shape(config.outputs[0]) == (-1, 384)


def test_the_committed_raw_model_config() -> None:
    config = load_model_config(MODELS / "minilm-l6-raw")  # a directory works too
    assert config.kind is ModelKind.ONNX
    assert [spec.name for spec in config.inputs] == [
        "input_ids",
        "attention_mask",
        "token_type_ids",
    ]
    assert all(spec.pad_value == 0 and spec.dims == (-1,) for spec in config.inputs)
    assert config.outputs == (
        TensorSpec("last_hidden_state", "FP32", (-1, 384), None, "input_ids"),
    )
    assert config.text is None


def test_defaults_fill_what_is_left_out() -> None:
    config = parse_model_config(RAW, "tiny")
    assert config.name == "tiny"
    assert config.platform == "onnxruntime_onnx"
    assert config.model_filename == "model.onnx"
    assert config.dynamic_batching is None
    assert config.execution_providers == ("tensorrt", "cuda", "cpu")
    assert config.tensorrt.fp16 is True
    assert config.instance_count == 1
    assert config.intra_op_threads == 2


def _with(base: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """``base`` with the dotted ``path`` set to ``value`` (``...`` deletes it)."""
    document = copy.deepcopy(base)
    *parents, last = path.split(".")
    node: Any = document
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    if value is ...:
        del node[last]
    elif isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return document


BAD_TEXT = [
    (
        "dynamic_batching.max_queue_delay_us",
        -5,
        "config field 'dynamic_batching.max_queue_delay_us': input should be greater than or equal to 0, got -5",
    ),
    (
        "dynamic_batching.max_batch_tokens",
        "8k",
        "config field 'dynamic_batching.max_batch_tokens': input should be a valid integer, got \"8k\"",
    ),
    (
        "dynamic_batching.group_by_length",
        1,
        "config field 'dynamic_batching.group_by_length': input should be a valid boolean, got 1",
    ),
    (
        "dynamic_batching.priority_levels",
        0,
        "config field 'dynamic_batching.priority_levels': input should be greater than or equal to 1, got 0",
    ),
    (
        "dynamic_batching.default_priority",
        3,
        "config field 'dynamic_batching.default_priority': must be <= priority_levels (1), got 3",
    ),
    (
        "dynamic_batching.max_delay",
        1,
        "config field 'dynamic_batching.max_delay': is not a known field",
    ),
    ("kind", "tf", "config field 'kind': input should be 'text_embedding' or 'onnx', got \"tf\""),
    ("kind", ..., "config field 'kind': is required"),
    (
        "platform",
        "tensorflow_savedmodel",
        "config field 'platform': input should be 'onnxruntime_onnx', got \"tensorflow_savedmodel\"",
    ),
    ("name", "other", "config field 'name': must match the directory name 'demo', got 'other'"),
    (
        "max_batch_size",
        0,
        "config field 'max_batch_size': must be >= 1 for kind 'text_embedding', got 0",
    ),
    (
        "max_batch_size",
        -1,
        "config field 'max_batch_size': input should be greater than or equal to 0, got -1",
    ),
    (
        "max_batch_size",
        True,
        "config field 'max_batch_size': input should be a valid integer, got true",
    ),
    (
        "instance_count",
        0,
        "config field 'instance_count': input should be greater than or equal to 1, got 0",
    ),
    (
        "intra_op_threads",
        0,
        "config field 'intra_op_threads': input should be greater than or equal to 1, got 0",
    ),
    (
        "intra_op_spinning",
        "no",
        "config field 'intra_op_spinning': input should be a valid boolean, got \"no\"",
    ),
    (
        "execution_providers",
        ["cuda", "rocm"],
        "config field 'execution_providers[1]': input should be 'tensorrt', 'cuda' or 'cpu', got \"rocm\"",
    ),
    ("execution_providers", [], "config field 'execution_providers': must not be empty, got []"),
    ("execution_providers", ["cpu", "cpu"], "config field 'execution_providers[1]': repeats 'cpu'"),
    (
        "tensorrt",
        {"fp16": "yes"},
        "config field 'tensorrt.fp16': input should be a valid boolean, got \"yes\"",
    ),
    ("inputs", [], "config field 'inputs': must not be empty, got []"),
    ("inputs", ..., "config field 'inputs': is required"),
    (
        "inputs.0.datatype",
        "STRING",
        "config field 'inputs[0].datatype': must be a KServe datatype, got \"STRING\"",
    ),
    (
        "inputs.0.dims",
        [0],
        "config field 'inputs[0].dims[0]': must be -1 or a positive integer, got 0",
    ),
    (
        "inputs.0.datatype",
        "INT64",
        "config field 'inputs[0]': must be BYTES with dims [1] (one text per row), got INT64 [1]",
    ),
    (
        "outputs.0.dims",
        [768],
        "config field 'outputs[0]': must be FP32 with dims [384] (text.dimension), got FP32 [768]",
    ),
    ("text", ..., "config field 'text': is required for kind 'text_embedding'"),
    (
        "text.max_tokens",
        1,
        "config field 'text.max_tokens': input should be greater than or equal to 2, got 1",
    ),
    (
        "text.truncation",
        "cut",
        "config field 'text.truncation': input should be 'truncate' or 'refuse', got \"cut\"",
    ),
    (
        "text.pooling",
        "max",
        "config field 'text.pooling': input should be 'mean' or 'cls', got \"max\"",
    ),
    (
        "text.tokenizer",
        "../secret.json",
        "config field 'text.tokenizer': must be a path inside the model directory, got \"../secret.json\"",
    ),
    ("text.vocab", "x", "config field 'text.vocab': is not a known field"),
    ("batching", {}, "config field 'batching': is not a known field"),
]


@pytest.mark.parametrize(("path", "value", "problem"), BAD_TEXT, ids=[c[0] for c in BAD_TEXT])
def test_a_bad_text_config_field_is_refused_by_name(
    tmp_path: Path, path: str, value: Any, problem: str
) -> None:
    model_dir = tmp_path / "demo"
    model_dir.mkdir()
    (model_dir / "config.json").write_text(json.dumps(_with(TEXT, path, value)))
    with pytest.raises(ModelConfigError) as caught:
        load_model_config(model_dir / "config.json")
    assert str(caught.value) == f"model 'demo': {problem}"
    assert isinstance(caught.value, InvalidArgument)
    assert caught.value.model == "demo"


BAD_RAW = [
    (
        "inputs.0.pad_value",
        0.5,
        "config field 'inputs[0].pad_value': must be a value of datatype INT64, got 0.5",
    ),
    ("outputs.0.trim_like", "mask", "config field 'outputs[0].trim_like': names no input: 'mask'"),
    (
        "outputs.0.dims",
        [-1, -1],
        "config field 'outputs[0].trim_like': output 'hidden' has 2 variable dims, input 'ids' has 1",
    ),
    ("outputs.0.pad_value", 0, "config field 'outputs[0].pad_value': is not a known field"),
    ("text", {}, "config field 'text': is only allowed for kind 'text_embedding'"),
    ("max_batch_size", 0, "config field 'dynamic_batching': needs max_batch_size > 0"),
    (
        "model_filename",
        "../model.onnx",
        "config field 'model_filename': must be a plain file name, got \"../model.onnx\"",
    ),
]


@pytest.mark.parametrize(("path", "value", "problem"), BAD_RAW, ids=[c[0] for c in BAD_RAW])
def test_a_bad_raw_config_field_is_refused_by_name(path: str, value: Any, problem: str) -> None:
    base = dict(RAW, dynamic_batching={})
    with pytest.raises(ModelConfigError) as caught:
        parse_model_config(_with(base, path, value), "tiny")
    assert str(caught.value) == f"model 'tiny': {problem}"


def test_repeated_tensor_names_are_refused() -> None:
    inputs = [RAW["inputs"][0], RAW["inputs"][0]]
    with pytest.raises(ModelConfigError) as caught:
        parse_model_config(dict(RAW, inputs=inputs), "tiny")
    assert str(caught.value) == "model 'tiny': config field 'inputs[1].name': repeats 'ids'"


def test_a_missing_or_broken_file_names_the_model(tmp_path: Path) -> None:
    with pytest.raises(ModelConfigError) as caught:
        load_model_config(tmp_path / "ghost" / "config.json")
    assert str(caught.value) == f"model 'ghost': no config.json in {tmp_path / 'ghost'}"

    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "config.json").write_text("{not json")
    with pytest.raises(ModelConfigError) as caught:
        load_model_config(tmp_path / "broken" / "config.json")
    assert str(caught.value).startswith(
        f"model 'broken': cannot read {tmp_path / 'broken' / 'config.json'}: Expecting property name"
    )


def test_the_top_level_must_be_an_object() -> None:
    with pytest.raises(ModelConfigError) as caught:
        parse_model_config([1], "tiny")
    assert str(caught.value) == "model 'tiny': the config must be a JSON object, got [1]"


def test_the_error_carries_the_dotted_field() -> None:
    bad_delay = _with(TEXT, "dynamic_batching.max_queue_delay_us", -5)
    with pytest.raises(ModelConfigError) as caught:
        parse_model_config(bad_delay, "demo")
    assert caught.value.field == "dynamic_batching.max_queue_delay_us"
    assert caught.value.reason == "input should be greater than or equal to 0, got -5"
    with pytest.raises(ModelConfigError) as caught:
        parse_model_config(_with(TEXT, "text.vocab", "x"), "demo")
    assert caught.value.field == "text.vocab"
