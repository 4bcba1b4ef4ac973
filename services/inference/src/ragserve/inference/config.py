"""Per-model configuration: ``models/<name>/config.json``.

The file is JSON and mirrors Triton's model configuration where Triton has the concept,
with KServe datatype names. Every field but ``kind``, ``inputs`` and ``outputs`` (and
``text`` for text models) has a default; unknown fields are refused. The classes below are
the schema (published as ``docs/schemas/model-config.schema.json``); docs/model-repository.md
explains each field.

Raw (``onnx``) models may also give an input ``"pad_value"`` (the value that fills its
variable dims when requests of different shapes share a batch) and an output
``"trim_like": "<input name>"`` (the output's variable dims follow that input's variable
dims, in order, so a batched result is cut back to each request's own size); see
:mod:`ragserve.inference.raw_model`.

Invariant: a :class:`ModelConfig` returned by :func:`load_model_config` is internally
consistent; anything wrong raises :class:`ModelConfigError` (an ``InvalidArgument``) whose
message names the model, the field's path and the problem.
"""

from __future__ import annotations

import json
import re
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Final, Literal, Self

from pydantic import (
    AfterValidator,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    TypeAdapter,
    ValidationError,
    model_validator,
)
from pydantic.dataclasses import dataclass

from ragserve.errors import InvalidArgument, RagserveError
from ragserve.inference.datatypes import DATATYPES
from ragserve.runtime.validation import EntryError, describe, show

CONFIG_FILENAME: Final = "config.json"
PLATFORM: Final = "onnxruntime_onnx"
PROVIDERS: Final = ("tensorrt", "cuda", "cpu")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
# Attribute docstrings become the JSON Schema's descriptions, which editors show.
_STRICT = ConfigDict(extra="forbid", use_attribute_docstrings=True)


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
            message = f"model '{model}': config field '{field}': {problem}"
        else:
            message = f"model '{model}': {problem}"
        RagserveError.__init__(self, message)
        self.field = field
        self.reason = problem
        self.model = model


def _dim(value: int) -> int:
    if value == 0 or value < -1:
        raise ValueError(f"must be -1 or a positive integer, got {value}")
    return value


def _datatype(value: str) -> str:
    if value not in DATATYPES:
        raise ValueError(f"must be a KServe datatype, got {show(value)}")
    return value


def _scalar(value: object) -> object:
    # Before the union sees it, so a string is refused rather than read as a number.
    if value is not None and not isinstance(value, int | float):
        raise ValueError(f"must be a number or true/false, got {show(value)}")
    return value


def _plain_file_name(value: str) -> str:
    if not value or "/" in value or value.startswith("."):
        raise ValueError(f"must be a plain file name, got {show(value)}")
    return value


def _inside_model_directory(value: str) -> str:
    if not value or value.startswith("/") or ".." in Path(value).parts:
        raise ValueError(f"must be a path inside the model directory, got {show(value)}")
    return value


def _distinct(values: tuple[str, ...]) -> tuple[str, ...]:
    for index, value in enumerate(values):
        if values.index(value) != index:
            raise EntryError(f"[{index}]", f"repeats '{value}'")
    return values


Count = Annotated[StrictInt, Field(ge=0)]
Datatype = Annotated[
    str, AfterValidator(_datatype), Field(json_schema_extra={"enum": sorted(DATATYPES)})
]


@dataclass(frozen=True, slots=True, config=_STRICT)
class TensorSpec:
    """One input or output. ``dims`` exclude the batch dim when max_batch_size > 0; -1 = any."""

    name: Annotated[str, Field(min_length=1)]
    datatype: Datatype
    dims: tuple[Annotated[StrictInt, AfterValidator(_dim)], ...]
    pad_value: Annotated[int | float | bool | None, BeforeValidator(_scalar)] = None
    """Inputs only: fills variable dims when requests of different shapes share a batch."""
    trim_like: str | None = None
    """Outputs only: the input whose variable dims this output's follow (cut back per request)."""

    @property
    def has_variable_dims(self) -> bool:
        return -1 in self.dims

    @model_validator(mode="after")
    def _pad_value_fits(self) -> Self:
        value, datatype = self.pad_value, self.datatype
        if value is None:
            return self
        if datatype == "BYTES":
            raise EntryError("pad_value", "is not supported for BYTES inputs")
        if datatype == "BOOL":
            fits = isinstance(value, bool)
        elif datatype.startswith(("INT", "UINT")):
            fits = isinstance(value, int) and not isinstance(value, bool)
            fits = fits and not (datatype.startswith("UINT") and value < 0)
        else:
            fits = not isinstance(value, bool)
        if not fits:
            raise EntryError(
                "pad_value", f"must be a value of datatype {datatype}, got {show(value)}"
            )
        return self


@dataclass(frozen=True, slots=True, config=_STRICT)
class DynamicBatchingConfig:
    max_queue_delay_us: Count = 0
    """Longest wait for more requests, measured from the first queued one."""
    max_batch_tokens: Count = 0
    """Padded tokens (rows x longest) per batch; 0 = no cap."""
    max_queue_size: Count = 1024
    """Requests waiting; more are refused; 0 = no cap."""
    priority_levels: Annotated[StrictInt, Field(ge=1)] = 1
    """Priorities are 1..priority_levels, 1 served first."""
    default_priority: Annotated[StrictInt, Field(ge=1)] = 1
    group_by_length: StrictBool = True
    """Batch texts of similar length together."""
    default_timeout_us: Count = 0
    """Queue timeout when a request sets none; 0 = none."""

    @model_validator(mode="after")
    def _default_priority_is_a_level(self) -> Self:
        if self.default_priority > self.priority_levels:
            raise EntryError(
                "default_priority",
                f"must be <= priority_levels ({self.priority_levels}), got {self.default_priority}",
            )
        return self


@dataclass(frozen=True, slots=True, config=_STRICT)
class TensorRTConfig:
    fp16: StrictBool = True
    engine_cache_dir: str = ""
    """Where built TensorRT engines are kept; "" = <version dir>/trt-engines."""


@dataclass(frozen=True, slots=True, config=_STRICT)
class TextConfig:
    tokenizer: Annotated[str, AfterValidator(_inside_model_directory)] = "tokenizer.json"
    """The tokenizer.json, relative to the model directory."""
    max_tokens: Annotated[StrictInt, Field(ge=2)] = 256
    """Longest text in tokens, including the special tokens."""
    pooling: Pooling = Pooling.MEAN
    normalize: StrictBool = True
    """L2-normalise the pooled vector."""
    truncation: TruncationPolicy = TruncationPolicy.TRUNCATE
    """What happens to a longer text when a request sets no policy."""
    dimension: Annotated[StrictInt, Field(ge=1)] = 384


@dataclass(frozen=True, slots=True, config=_STRICT)
class ModelConfig:
    kind: ModelKind
    inputs: Annotated[tuple[TensorSpec, ...], Field(min_length=1)]
    outputs: Annotated[tuple[TensorSpec, ...], Field(min_length=1)]
    name: str = ""
    """Optional in the file; must equal the directory name."""
    platform: Literal["onnxruntime_onnx"] = PLATFORM
    model_filename: Annotated[str, AfterValidator(_plain_file_name)] = "model.onnx"
    """The ONNX file inside each version directory."""
    max_batch_size: Count = 0
    """0 = the model does not batch; > 0: dims exclude the batch dim."""
    dynamic_batching: DynamicBatchingConfig | None = None
    """Absent: every request runs alone."""
    execution_providers: Annotated[
        tuple[Literal["tensorrt", "cuda", "cpu"], ...],
        Field(min_length=1),
        AfterValidator(_distinct),
    ] = PROVIDERS
    """Tried in order."""
    tensorrt: TensorRTConfig = TensorRTConfig()
    instance_count: Annotated[StrictInt, Field(ge=1)] = 1
    """Batches of this model that may run at once."""
    intra_op_threads: Annotated[StrictInt, Field(ge=1)] = 2
    """ONNX Runtime intra-op threads per session."""
    intra_op_spinning: StrictBool = True
    """Let idle intra-op threads spin-wait for work."""
    text: TextConfig | None = None
    """Required for kind text_embedding, refused otherwise."""

    def input(self, name: str) -> TensorSpec | None:
        return next((spec for spec in self.inputs if spec.name == name), None)

    def output(self, name: str) -> TensorSpec | None:
        return next((spec for spec in self.outputs if spec.name == name), None)

    def full_shape(self, spec: TensorSpec) -> tuple[int, ...]:
        """The shape a client sees (KServe metadata): the batch dim (-1) first when batching."""
        return ((-1,) if self.max_batch_size > 0 else ()) + spec.dims

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        for key, specs in (("inputs", self.inputs), ("outputs", self.outputs)):
            names = [spec.name for spec in specs]
            for index, spec in enumerate(specs):
                if names.index(spec.name) != index:
                    raise EntryError(f"{key}[{index}].name", f"repeats '{spec.name}'")
                misplaced = spec.trim_like if key == "inputs" else spec.pad_value
                if misplaced is not None:
                    other = "trim_like" if key == "inputs" else "pad_value"
                    raise EntryError(f"{key}[{index}].{other}", "is not a known field")
        for index, spec in enumerate(self.outputs):
            if spec.trim_like is not None:
                self._check_trim_like(spec, f"outputs[{index}].trim_like")
        if self.kind is ModelKind.TEXT_EMBEDDING:
            if self.text is None:
                raise EntryError("text", "is required for kind 'text_embedding'")
            self._check_text_tensors(self.text)
        elif self.text is not None:
            raise EntryError("text", "is only allowed for kind 'text_embedding'")
        if self.dynamic_batching is not None and self.max_batch_size == 0:
            raise EntryError("dynamic_batching", "needs max_batch_size > 0")
        return self

    def _check_trim_like(self, spec: TensorSpec, field: str) -> None:
        source = self.input(spec.trim_like or "")
        if source is None:
            raise EntryError(field, f"names no input: '{spec.trim_like}'")
        if spec.dims.count(-1) > source.dims.count(-1):
            raise EntryError(
                field,
                f"output '{spec.name}' has {spec.dims.count(-1)} variable dims, input "
                f"'{source.name}' has {source.dims.count(-1)}",
            )

    def _check_text_tensors(self, text: TextConfig) -> None:
        if self.max_batch_size == 0:
            raise EntryError("max_batch_size", "must be >= 1 for kind 'text_embedding', got 0")
        inputs, outputs = self.inputs, self.outputs
        if len(inputs) != 1:
            raise EntryError("inputs", f"must hold exactly one BYTES input, got {len(inputs)}")
        if inputs[0].datatype != "BYTES" or inputs[0].dims not in ((1,), ()):
            raise EntryError(
                "inputs[0]",
                f"must be BYTES with dims [1] (one text per row), got {inputs[0].datatype} "
                f"{list(inputs[0].dims)}",
            )
        if len(outputs) != 1:
            raise EntryError("outputs", f"must hold exactly one FP32 output, got {len(outputs)}")
        if outputs[0].datatype != "FP32" or outputs[0].dims != (text.dimension,):
            raise EntryError(
                "outputs[0]",
                f"must be FP32 with dims [{text.dimension}] (text.dimension), got "
                f"{outputs[0].datatype} {list(outputs[0].dims)}",
            )


MODEL_CONFIG: Final = TypeAdapter(ModelConfig)


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
    if not isinstance(raw, dict):
        raise ModelConfigError(
            directory_name, "", f"the config must be a JSON object, got {show(raw)}"
        )
    if not _NAME.match(directory_name):
        raise ModelConfigError(
            directory_name, "", "directory name is not a valid model name (letters, digits, _.-)"
        )
    document: dict[str, Any] = {"name": directory_name, **raw}
    try:
        config = MODEL_CONFIG.validate_python(document)
    except ValidationError as error:
        raise ModelConfigError(directory_name, *describe(error.errors()[0])) from None
    if config.name != directory_name:
        raise ModelConfigError(
            directory_name,
            "name",
            f"must match the directory name '{directory_name}', got '{config.name}'",
        )
    return config
