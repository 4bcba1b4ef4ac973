"""Per-model configuration: ``models/<name>/config.json``.

The file is JSON and mirrors Triton's model configuration where Triton has the
concept, with KServe datatype names. Every field but ``kind``, ``inputs`` and
``outputs`` (and ``text`` for text models) has a default::

    {
      "name": "all-minilm-l6-v2",          # optional; must equal the directory name
      "kind": "text_embedding",            # "text_embedding" | "onnx"
      "platform": "onnxruntime_onnx",      # the only backend
      "model_filename": "model.onnx",      # inside each version directory
      "max_batch_size": 64,                # 0 = the model does not batch; >0: dims exclude batch
      "inputs":  [{"name": "text", "datatype": "BYTES", "dims": [1]}],
      "outputs": [{"name": "embedding", "datatype": "FP32", "dims": [384]}],
      "dynamic_batching": {                # absent = every request runs alone
        "max_queue_delay_us": 2000,        # wait measured from the first queued request
        "max_batch_tokens": 8192,          # padded tokens (rows x longest) per batch; 0 = no cap
        "max_queue_size": 1024,            # requests waiting; more are refused; 0 = no cap
        "priority_levels": 1,              # priorities are 1..priority_levels, 1 served first
        "default_priority": 1,
        "group_by_length": true,           # batch texts of similar length together
        "default_timeout_us": 0            # queue timeout when a request sets none; 0 = none
      },
      "execution_providers": ["tensorrt", "cuda", "cpu"],   # tried in order
      "tensorrt": {"fp16": true, "engine_cache_dir": ""},   # "" = <version dir>/trt-engines
      "instance_count": 1,                 # batches of this model that may run at once
      "intra_op_threads": 2,               # ONNX Runtime intra-op threads per session
      "intra_op_spinning": true,           # let idle intra-op threads spin-wait for work
      "text": {                            # text_embedding only
        "tokenizer": "tokenizer.json",     # relative to the model directory
        "max_tokens": 256,                 # including the special tokens
        "pooling": "mean",                 # "mean" | "cls"
        "normalize": true,                 # L2-normalise the pooled vector
        "truncation": "truncate",          # default policy: "truncate" | "refuse"
        "dimension": 384
      }
    }

Raw (``onnx``) models may also give an input ``"pad_value"`` (the value that
fills its variable dims when requests of different shapes share a batch) and an
output ``"trim_like": "<input name>"`` (the output's variable dims follow that
input's variable dims, in order, so a batched result is cut back to each
request's own size). A model batches requests of differing shapes only when it
declares both; see :mod:`ragserve.inference.raw_model`.

Invariant: a :class:`ModelConfig` returned by :func:`load_model_config` is
internally consistent; anything wrong raises :class:`ModelConfigError` (an
``InvalidArgument``) whose message names the model and the field.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Final

from ragserve.errors import InvalidArgument, RagserveError
from ragserve.inference.datatypes import DATATYPES

CONFIG_FILENAME: Final = "config.json"
PLATFORM: Final = "onnxruntime_onnx"
PROVIDERS: Final = ("tensorrt", "cuda", "cpu")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class ModelKind(StrEnum):
    TEXT_EMBEDDING = "text_embedding"
    ONNX = "onnx"


class TruncationPolicy(StrEnum):
    TRUNCATE = "truncate"
    REFUSE = "refuse"


class Pooling(StrEnum):
    MEAN = "mean"
    CLS = "cls"


class ModelConfigError(InvalidArgument):
    """A config that cannot be served. ``model`` and ``field`` (dotted path) name the culprit."""

    def __init__(self, model: str, field: str, problem: str) -> None:
        if field:
            message = f"model '{model}': config field '{field}' {problem}"
        else:
            message = f"model '{model}': {problem}"
        RagserveError.__init__(self, message)
        self.field = field
        self.reason = problem
        self.model = model


@dataclass(frozen=True, slots=True)
class TensorSpec:
    """One input or output. ``dims`` exclude the batch dim when max_batch_size > 0; -1 = any."""

    name: str
    datatype: str
    dims: tuple[int, ...]
    pad_value: int | float | bool | None = None
    trim_like: str | None = None

    @property
    def has_variable_dims(self) -> bool:
        return -1 in self.dims


@dataclass(frozen=True, slots=True)
class DynamicBatchingConfig:
    max_queue_delay_us: int = 0
    max_batch_tokens: int = 0
    max_queue_size: int = 1024
    priority_levels: int = 1
    default_priority: int = 1
    group_by_length: bool = True
    default_timeout_us: int = 0


@dataclass(frozen=True, slots=True)
class TensorRTConfig:
    fp16: bool = True
    engine_cache_dir: str = ""


@dataclass(frozen=True, slots=True)
class TextConfig:
    tokenizer: str = "tokenizer.json"
    max_tokens: int = 256
    pooling: Pooling = Pooling.MEAN
    normalize: bool = True
    truncation: TruncationPolicy = TruncationPolicy.TRUNCATE
    dimension: int = 384


@dataclass(frozen=True, slots=True)
class ModelConfig:
    name: str
    kind: ModelKind
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    platform: str = PLATFORM
    model_filename: str = "model.onnx"
    max_batch_size: int = 0
    dynamic_batching: DynamicBatchingConfig | None = None
    execution_providers: tuple[str, ...] = PROVIDERS
    tensorrt: TensorRTConfig = field(default_factory=TensorRTConfig)
    instance_count: int = 1
    intra_op_threads: int = 2
    intra_op_spinning: bool = True
    text: TextConfig | None = None

    def input(self, name: str) -> TensorSpec | None:
        return next((spec for spec in self.inputs if spec.name == name), None)

    def output(self, name: str) -> TensorSpec | None:
        return next((spec for spec in self.outputs if spec.name == name), None)

    def full_shape(self, spec: TensorSpec) -> tuple[int, ...]:
        """The shape a client sees (KServe metadata): the batch dim (-1) first when batching."""
        return ((-1,) if self.max_batch_size > 0 else ()) + spec.dims


def load_model_config(path: Path | str) -> ModelConfig:
    """Read and validate ``path`` (a config.json, or the model directory holding one).

    The model's name is its directory's name; a ``name`` field must agree with it.
    """
    path = Path(path)
    if path.is_dir():
        path = path / CONFIG_FILENAME
    directory_name = path.parent.name
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelConfigError(
            directory_name, "", f"no {CONFIG_FILENAME} in {path.parent}"
        ) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelConfigError(directory_name, "", f"cannot read {path}: {exc}") from None
    return parse_model_config(raw, directory_name)


def parse_model_config(raw: object, directory_name: str) -> ModelConfig:
    """Validate an already-decoded config.json object for the model directory ``directory_name``."""
    return _Parser(directory_name).model(raw)


class _Parser:
    """Walks the JSON once; every check raises with the model name and the field's dotted path."""

    def __init__(self, model: str) -> None:
        self._model = model

    def _fail(self, field: str, problem: str) -> ModelConfigError:
        return ModelConfigError(self._model, field, problem)

    def _object(self, value: object, field: str, allowed: set[str]) -> Mapping[str, Any]:
        if not isinstance(value, dict):
            if not field:
                raise self._fail("", f"the config must be a JSON object, got {_show(value)}")
            raise self._fail(field, f"must be an object, got {_show(value)}")
        for key in value:
            if key not in allowed:
                dotted = f"{field}.{key}" if field else key
                error = ModelConfigError(self._model, "", f"unknown config field '{dotted}'")
                error.field = dotted
                raise error
        return value

    def _int(self, obj: Mapping[str, Any], key: str, field: str, default: int, minimum: int) -> int:
        value = obj.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self._fail(field, f"must be an integer, got {_show(value)}")
        if value < minimum:
            raise self._fail(field, f"must be >= {minimum}, got {value}")
        return value

    def _bool(self, obj: Mapping[str, Any], key: str, field: str, default: bool) -> bool:
        value = obj.get(key, default)
        if not isinstance(value, bool):
            raise self._fail(field, f"must be true or false, got {_show(value)}")
        return value

    def _str(self, obj: Mapping[str, Any], key: str, field: str, default: str | None) -> str:
        if key not in obj and default is None:
            raise self._fail(field, "is required")
        value = obj.get(key, default)
        if not isinstance(value, str):
            raise self._fail(field, f"must be a string, got {_show(value)}")
        return value

    def _choice(
        self, obj: Mapping[str, Any], key: str, field: str, default: str | None, choices: list[str]
    ) -> str:
        value = self._str(obj, key, field, default)
        if value not in choices:
            listed = ", ".join(_show(choice) for choice in choices)
            raise self._fail(field, f"must be one of {listed}, got {_show(value)}")
        return value

    def model(self, raw: object) -> ModelConfig:
        obj = self._object(raw, "", _MODEL_FIELDS)
        if not _NAME.match(self._model):
            raise ModelConfigError(
                self._model, "", "directory name is not a valid model name (letters, digits, _.-)"
            )
        name = self._str(obj, "name", "name", self._model)
        if name != self._model:
            raise self._fail("name", f"must match the directory name '{self._model}', got '{name}'")
        kind = ModelKind(self._choice(obj, "kind", "kind", None, [k.value for k in ModelKind]))
        platform = self._choice(obj, "platform", "platform", PLATFORM, [PLATFORM])
        model_filename = self._str(obj, "model_filename", "model_filename", "model.onnx")
        if not model_filename or "/" in model_filename or model_filename.startswith("."):
            raise self._fail("model_filename", f"must be a plain file name, got '{model_filename}'")
        max_batch_size = self._int(obj, "max_batch_size", "max_batch_size", 0, 0)
        inputs = self._tensors(obj, "inputs", is_input=True)
        outputs = self._tensors(obj, "outputs", is_input=False)
        for index, spec in enumerate(outputs):
            if spec.trim_like is not None:
                self._check_trim_like(spec, f"outputs[{index}].trim_like", inputs)
        providers = self._providers(obj)
        tensorrt = self._tensorrt(obj.get("tensorrt", {}))
        instance_count = self._int(obj, "instance_count", "instance_count", 1, 1)
        intra_op_threads = self._int(obj, "intra_op_threads", "intra_op_threads", 2, 1)
        intra_op_spinning = self._bool(obj, "intra_op_spinning", "intra_op_spinning", True)
        text = None
        if kind is ModelKind.TEXT_EMBEDDING:
            if "text" not in obj:
                raise self._fail("text", "is required for kind 'text_embedding'")
            text = self._text(obj["text"])
            self._check_text_tensors(inputs, outputs, text, max_batch_size)
        elif "text" in obj:
            raise self._fail("text", "is only allowed for kind 'text_embedding'")
        batching = None
        if "dynamic_batching" in obj:
            batching = self._batching(obj["dynamic_batching"])
            if max_batch_size == 0:
                raise self._fail("dynamic_batching", "needs max_batch_size > 0")
        return ModelConfig(
            name=name,
            kind=kind,
            inputs=inputs,
            outputs=outputs,
            platform=platform,
            model_filename=model_filename,
            max_batch_size=max_batch_size,
            dynamic_batching=batching,
            execution_providers=providers,
            tensorrt=tensorrt,
            instance_count=instance_count,
            intra_op_threads=intra_op_threads,
            intra_op_spinning=intra_op_spinning,
            text=text,
        )

    def _tensors(
        self, obj: Mapping[str, Any], key: str, *, is_input: bool
    ) -> tuple[TensorSpec, ...]:
        if key not in obj:
            raise self._fail(key, "is required")
        value = obj[key]
        if not isinstance(value, list) or not value:
            raise self._fail(key, f"must be a non-empty list, got {_show(value)}")
        specs: list[TensorSpec] = []
        for index, item in enumerate(value):
            specs.append(self._tensor(item, f"{key}[{index}]", is_input=is_input))
        names = [spec.name for spec in specs]
        for index, spec_name in enumerate(names):
            if names.index(spec_name) != index:
                raise self._fail(f"{key}[{index}].name", f"repeats '{spec_name}'")
        return tuple(specs)

    def _tensor(self, item: object, where: str, *, is_input: bool) -> TensorSpec:
        extra = {"pad_value"} if is_input else {"trim_like"}
        obj = self._object(item, where, {"name", "datatype", "dims"} | extra)
        name = self._str(obj, "name", f"{where}.name", None)
        if not name:
            raise self._fail(f"{where}.name", "must not be empty")
        datatype = self._str(obj, "datatype", f"{where}.datatype", None)
        if datatype not in DATATYPES:
            raise self._fail(f"{where}.datatype", f"must be a KServe datatype, got '{datatype}'")
        dims_value = obj.get("dims")
        if "dims" not in obj:
            raise self._fail(f"{where}.dims", "is required")
        if not isinstance(dims_value, list):
            raise self._fail(
                f"{where}.dims", f"must be a list of integers, got {_show(dims_value)}"
            )
        dims: list[int] = []
        for position, dim in enumerate(dims_value):
            if isinstance(dim, bool) or not isinstance(dim, int) or dim == 0 or dim < -1:
                raise self._fail(
                    f"{where}.dims[{position}]",
                    f"must be -1 or a positive integer, got {_show(dim)}",
                )
            dims.append(dim)
        pad_value = obj.get("pad_value")
        if pad_value is not None:
            self._check_pad_value(pad_value, datatype, f"{where}.pad_value")
        trim_like = None
        if "trim_like" in obj:
            trim_like = self._str(obj, "trim_like", f"{where}.trim_like", None)
        return TensorSpec(name, datatype, tuple(dims), pad_value, trim_like)

    def _check_trim_like(
        self, spec: TensorSpec, field: str, inputs: tuple[TensorSpec, ...]
    ) -> None:
        source = next((i for i in inputs if i.name == spec.trim_like), None)
        if source is None:
            raise self._fail(field, f"names no input: '{spec.trim_like}'")
        if spec.dims.count(-1) > source.dims.count(-1):
            raise self._fail(
                field,
                f"output '{spec.name}' has {spec.dims.count(-1)} variable dims, input "
                f"'{source.name}' has {source.dims.count(-1)}",
            )

    def _check_pad_value(self, value: object, datatype: str, field: str) -> None:
        if datatype == "BYTES":
            raise self._fail(field, "is not supported for BYTES inputs")
        if datatype == "BOOL":
            ok = isinstance(value, bool)
        elif datatype.startswith(("INT", "UINT")):
            ok = isinstance(value, int) and not isinstance(value, bool)
            ok = ok and not (datatype.startswith("UINT") and isinstance(value, int) and value < 0)
        else:
            ok = isinstance(value, int | float) and not isinstance(value, bool)
        if not ok:
            raise self._fail(field, f"must be a value of datatype {datatype}, got {_show(value)}")

    def _batching(self, value: object) -> DynamicBatchingConfig:
        where = "dynamic_batching"
        obj = self._object(value, where, _BATCHING_FIELDS)
        defaults = DynamicBatchingConfig()

        def integer(key: str, minimum: int) -> int:
            return self._int(obj, key, f"{where}.{key}", getattr(defaults, key), minimum)

        levels = integer("priority_levels", 1)
        default_priority = integer("default_priority", 1)
        if default_priority > levels:
            raise self._fail(
                f"{where}.default_priority",
                f"must be <= priority_levels ({levels}), got {default_priority}",
            )
        return DynamicBatchingConfig(
            max_queue_delay_us=integer("max_queue_delay_us", 0),
            max_batch_tokens=integer("max_batch_tokens", 0),
            max_queue_size=integer("max_queue_size", 0),
            priority_levels=levels,
            default_priority=default_priority,
            group_by_length=self._bool(
                obj, "group_by_length", f"{where}.group_by_length", defaults.group_by_length
            ),
            default_timeout_us=integer("default_timeout_us", 0),
        )

    def _providers(self, obj: Mapping[str, Any]) -> tuple[str, ...]:
        value = obj.get("execution_providers", list(PROVIDERS))
        if not isinstance(value, list) or not value:
            raise self._fail("execution_providers", f"must be a non-empty list, got {_show(value)}")
        for index, provider in enumerate(value):
            if provider not in PROVIDERS:
                listed = ", ".join(f'"{p}"' for p in PROVIDERS)
                raise self._fail(
                    f"execution_providers[{index}]",
                    f"must be one of {listed}, got {_show(provider)}",
                )
            if value.index(provider) != index:
                raise self._fail(f"execution_providers[{index}]", f"repeats '{provider}'")
        return tuple(value)

    def _tensorrt(self, value: object) -> TensorRTConfig:
        obj = self._object(value, "tensorrt", {"fp16", "engine_cache_dir"})
        return TensorRTConfig(
            fp16=self._bool(obj, "fp16", "tensorrt.fp16", True),
            engine_cache_dir=self._str(obj, "engine_cache_dir", "tensorrt.engine_cache_dir", ""),
        )

    def _text(self, value: object) -> TextConfig:
        obj = self._object(value, "text", _TEXT_FIELDS)
        tokenizer = self._str(obj, "tokenizer", "text.tokenizer", "tokenizer.json")
        if not tokenizer or tokenizer.startswith("/") or ".." in Path(tokenizer).parts:
            raise self._fail(
                "text.tokenizer", f"must be a path inside the model directory, got '{tokenizer}'"
            )
        return TextConfig(
            tokenizer=tokenizer,
            max_tokens=self._int(obj, "max_tokens", "text.max_tokens", 256, 2),
            pooling=Pooling(
                self._choice(obj, "pooling", "text.pooling", "mean", [p.value for p in Pooling])
            ),
            normalize=self._bool(obj, "normalize", "text.normalize", True),
            truncation=TruncationPolicy(
                self._choice(
                    obj,
                    "truncation",
                    "text.truncation",
                    "truncate",
                    [t.value for t in TruncationPolicy],
                )
            ),
            dimension=self._int(obj, "dimension", "text.dimension", 384, 1),
        )

    def _check_text_tensors(
        self,
        inputs: tuple[TensorSpec, ...],
        outputs: tuple[TensorSpec, ...],
        text: TextConfig,
        max_batch_size: int,
    ) -> None:
        if max_batch_size == 0:
            raise self._fail("max_batch_size", "must be >= 1 for kind 'text_embedding', got 0")
        if len(inputs) != 1:
            raise self._fail("inputs", f"must hold exactly one BYTES input, got {len(inputs)}")
        if inputs[0].datatype != "BYTES" or inputs[0].dims not in ((1,), ()):
            raise self._fail(
                "inputs[0]",
                f"must be BYTES with dims [1] (one text per row), got {inputs[0].datatype} "
                f"{list(inputs[0].dims)}",
            )
        if len(outputs) != 1:
            raise self._fail("outputs", f"must hold exactly one FP32 output, got {len(outputs)}")
        if outputs[0].datatype != "FP32" or outputs[0].dims != (text.dimension,):
            raise self._fail(
                "outputs[0]",
                f"must be FP32 with dims [{text.dimension}] (text.dimension), got "
                f"{outputs[0].datatype} {list(outputs[0].dims)}",
            )


_MODEL_FIELDS: Final = {
    "name",
    "kind",
    "platform",
    "model_filename",
    "max_batch_size",
    "inputs",
    "outputs",
    "dynamic_batching",
    "execution_providers",
    "tensorrt",
    "instance_count",
    "intra_op_threads",
    "intra_op_spinning",
    "text",
}
_BATCHING_FIELDS: Final = {
    "max_queue_delay_us",
    "max_batch_tokens",
    "max_queue_size",
    "priority_levels",
    "default_priority",
    "group_by_length",
    "default_timeout_us",
}
_TEXT_FIELDS: Final = {"tokenizer", "max_tokens", "pooling", "normalize", "truncation", "dimension"}


def _show(value: object) -> str:
    """A config value as it appears in JSON, so messages quote what the author wrote."""
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return repr(value)
