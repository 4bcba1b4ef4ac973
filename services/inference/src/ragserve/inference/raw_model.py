"""Raw tensor models (kind ``onnx``): named tensors in, named tensors out.

Batching several requests means stacking their rows along dim 0. Requests whose
non-batch shapes agree stack as they are. Requests whose variable dims differ
(token ids of different lengths) stack only when the model says how: every
input with a variable dim declares ``pad_value`` (what fills the gap — 0 for
``input_ids`` and, crucially, 0 for ``attention_mask`` so the padding is ignored)
and every output with a variable dim declares ``trim_like`` (the input whose
variable dims it follows, so each request's rows are cut back to its own size).
Padding is only correct for models built to ignore it; a model that does not
declare both is batched only with requests of identical shapes.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import onnxruntime as ort

from ragserve.errors import FailedPrecondition, InvalidArgument
from ragserve.inference.config import ModelConfig, TensorSpec
from ragserve.inference.datatypes import datatype_of, datatype_of_ort, numpy_dtype
from ragserve.inference.onnx_session import OnnxSession, create_session, quiet_run_options
from ragserve.inference.served_model import ModelFiles


@dataclass(frozen=True, slots=True)
class RawBatch:
    """Several requests stacked along dim 0.

    ``rows[i]`` rows of ``inputs`` belong to request i, in order; ``shapes[i]`` are
    request i's own input shapes, kept to trim padded outputs back.
    """

    inputs: dict[str, np.ndarray]
    rows: tuple[int, ...]
    shapes: tuple[dict[str, tuple[int, ...]], ...]

    @property
    def size(self) -> int:
        return sum(self.rows)


class RawOnnxModel:
    """An ONNX model served as tensors, checked against its config. Thread-safe."""

    def __init__(self, config: ModelConfig, files: ModelFiles, session: OnnxSession) -> None:
        self._config = config
        self._version = files.version
        self._session: ort.InferenceSession | None = session.session
        self._providers = session.providers
        self._run_options = quiet_run_options()
        self._check_session(session.session)
        self._pads = all(
            spec.pad_value is not None for spec in config.inputs if spec.has_variable_dims
        ) and all(spec.trim_like is not None for spec in config.outputs if spec.has_variable_dims)

    @classmethod
    def load(cls, config: ModelConfig, files: ModelFiles) -> RawOnnxModel:
        model_file = files.model_file(config)
        if not model_file.is_file():
            raise FailedPrecondition(f"model '{config.name}': no model file {model_file}")
        session = create_session(
            model_file, config, engine_cache_dir=files.engine_cache_dir(config)
        )
        return cls(config, files, session)

    @property
    def config(self) -> ModelConfig:
        return self._config

    @property
    def version(self) -> str:
        return self._version

    @property
    def providers(self) -> tuple[str, ...]:
        return self._providers

    @property
    def pads_variable_dims(self) -> bool:
        """True when requests of different variable-dim sizes may share a batch."""
        return self._pads

    def validate(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Check ``inputs`` against the config; return them contiguous, in config order.

        Every configured input is required, none other is allowed; datatypes match;
        shapes match the config's dims (the batch dim first, 1 to max_batch_size, the
        same for every input). Errors name the input, what was expected and what came.
        """
        name = self._config.name
        for input_name in inputs:
            if self._config.input(input_name) is None:
                known = ", ".join(spec.name for spec in self._config.inputs)
                raise InvalidArgument(
                    f"input '{input_name}'", f"is not an input of model '{name}' (inputs: {known})"
                )
        checked: dict[str, np.ndarray] = {}
        batch_from: tuple[str, int] | None = None
        for spec in self._config.inputs:
            array = inputs.get(spec.name)
            if array is None:
                raise InvalidArgument(f"input '{spec.name}'", f"is required by model '{name}'")
            self._check_tensor(spec, array)
            if self._config.max_batch_size > 0:
                rows = array.shape[0]
                if batch_from is None:
                    batch_from = (spec.name, rows)
                elif rows != batch_from[1]:
                    raise InvalidArgument(
                        f"input '{spec.name}'",
                        f"batch size {rows} differs from input '{batch_from[0]}' ({batch_from[1]})",
                    )
            checked[spec.name] = np.ascontiguousarray(array)
        return checked

    def run(
        self, inputs: Mapping[str, np.ndarray], outputs: Sequence[str] | None = None
    ) -> dict[str, np.ndarray]:
        """Run validated ``inputs``; return ``outputs`` (all configured ones when None).

        Blocking: call from a worker thread. Inputs the model itself rejects (e.g.
        a token id outside the vocabulary) raise InvalidArgument.
        """
        session = self._session
        if session is None:
            raise FailedPrecondition(f"model '{self._config.name}' is unloaded")
        names = list(outputs) if outputs is not None else [s.name for s in self._config.outputs]
        for output_name in names:
            if self._config.output(output_name) is None:
                raise InvalidArgument(
                    f"output '{output_name}'", f"is not an output of model '{self._config.name}'"
                )
        try:
            results = session.run(names, dict(inputs), self._run_options)
        except ort.capi.onnxruntime_pybind11_state.InvalidArgument as exc:
            raise InvalidArgument(
                "inputs", f"model '{self._config.name}' refused them: {exc}"
            ) from None
        return dict(zip(names, results, strict=True))

    def batch_key(self, inputs: Mapping[str, np.ndarray]) -> Hashable:
        """Requests with equal keys can be stacked by :meth:`concat`.

        Variable dims are left out of the key when the model pads them.
        """
        key: list[tuple[str, tuple[int, ...]]] = []
        for spec in self._config.inputs:
            shape = inputs[spec.name].shape[1:]
            if self.pads_variable_dims:
                shape = tuple(-1 if d == -1 else s for d, s in zip(spec.dims, shape, strict=True))
            key.append((spec.name, tuple(shape)))
        return tuple(key)

    def cost(self, inputs: Mapping[str, np.ndarray]) -> int:
        """Elements of the largest input: what a token budget counts for a raw model."""
        return max(int(np.prod(array.shape)) for array in inputs.values())

    def concat(self, requests: Sequence[Mapping[str, np.ndarray]]) -> RawBatch:
        """Stack validated requests (equal :meth:`batch_key`) into one batch, padding
        variable dims to the largest with each input's ``pad_value``.

        ValueError when the requests cannot share a batch: that is the caller's bug.
        """
        if self._config.max_batch_size == 0:
            raise ValueError(f"model '{self._config.name}' does not batch (max_batch_size 0)")
        if not requests:
            raise ValueError("concat needs at least one request")
        keys = {self.batch_key(request) for request in requests}
        if len(keys) != 1:
            raise ValueError(f"requests with different batch keys cannot share a batch: {keys}")
        rows = tuple(int(request[self._config.inputs[0].name].shape[0]) for request in requests)
        if sum(rows) > self._config.max_batch_size:
            raise ValueError(
                f"{sum(rows)} rows exceed max_batch_size {self._config.max_batch_size}"
            )
        stacked: dict[str, np.ndarray] = {}
        for spec in self._config.inputs:
            arrays = [request[spec.name] for request in requests]
            stacked[spec.name] = _stack(arrays, spec)
        shapes = tuple(
            {spec.name: tuple(request[spec.name].shape) for spec in self._config.inputs}
            for request in requests
        )
        return RawBatch(inputs=stacked, rows=rows, shapes=shapes)

    def split(
        self, batch: RawBatch, outputs: Mapping[str, np.ndarray]
    ) -> list[dict[str, np.ndarray]]:
        """Give each request of ``batch`` its rows of ``outputs``, trimmed to its own sizes.

        Results are views into ``outputs`` where no trimming was needed.
        """
        results: list[dict[str, np.ndarray]] = []
        start = 0
        for rows, shapes in zip(batch.rows, batch.shapes, strict=True):
            own: dict[str, np.ndarray] = {}
            for name, array in outputs.items():
                part = array[start : start + rows]
                spec = self._config.output(name)
                if spec is not None and spec.trim_like is not None and spec.has_variable_dims:
                    part = part[_trim_slices(spec, self._config.input(spec.trim_like), shapes)]
                own[name] = part
            results.append(own)
            start += rows
        return results

    def warm_up(self) -> None:
        """Run once with the smallest inputs the config allows (variable dims of 1)."""
        batch = (1,) if self._config.max_batch_size > 0 else ()
        feeds: dict[str, np.ndarray] = {}
        for spec in self._config.inputs:
            shape = batch + tuple(1 if d == -1 else d for d in spec.dims)
            if spec.datatype == "BYTES":
                feeds[spec.name] = np.full(shape, b"", dtype=np.object_)
            else:
                value = spec.pad_value if spec.pad_value is not None else 0
                feeds[spec.name] = np.full(shape, value, dtype=numpy_dtype(spec.datatype))
        self.run(feeds)

    def close(self) -> None:
        """Drop the session (memory is freed once in-flight runs return); run then fails."""
        self._session = None

    def _check_tensor(self, spec: TensorSpec, array: np.ndarray) -> None:
        got_type = datatype_of(array) or f"numpy {array.dtype}"
        if got_type != spec.datatype:
            raise InvalidArgument(
                f"input '{spec.name}'", f"expected datatype {spec.datatype}, got {got_type}"
            )
        expected = self._config.full_shape(spec)
        shape = tuple(array.shape)
        fits = len(shape) == len(expected) and all(
            want in (-1, got) for want, got in zip(expected, shape, strict=True)
        )
        if not fits:
            raise InvalidArgument(
                f"input '{spec.name}'", f"expected shape {list(expected)}, got {list(shape)}"
            )
        if self._config.max_batch_size > 0 and not 1 <= shape[0] <= self._config.max_batch_size:
            raise InvalidArgument(
                f"input '{spec.name}'",
                f"batch size {shape[0]} must be 1 to {self._config.max_batch_size} "
                "(max_batch_size)",
            )
        if any(size == 0 for size in shape[1:]):
            raise InvalidArgument(f"input '{spec.name}'", f"has an empty dim: {list(shape)}")

    def _check_session(self, session: ort.InferenceSession) -> None:
        """The config must describe the ONNX file: names, datatypes and ranks agree."""
        name = self._config.name
        batch = 1 if self._config.max_batch_size > 0 else 0
        onnx_inputs = {node.name: node for node in session.get_inputs()}
        onnx_outputs = {node.name: node for node in session.get_outputs()}
        for kind, specs, nodes in (
            ("input", self._config.inputs, onnx_inputs),
            ("output", self._config.outputs, onnx_outputs),
        ):
            for spec in specs:
                node = nodes.get(spec.name)
                if node is None:
                    raise FailedPrecondition(
                        f"model '{name}': the ONNX file has no {kind} '{spec.name}' "
                        f"(it has {', '.join(nodes)})"
                    )
                onnx_type = datatype_of_ort(node.type)
                if onnx_type != spec.datatype:
                    raise FailedPrecondition(
                        f"model '{name}': {kind} '{spec.name}' is {onnx_type or node.type} in the "
                        f"ONNX file, config says {spec.datatype}"
                    )
                if len(node.shape) != len(spec.dims) + batch:
                    raise FailedPrecondition(
                        f"model '{name}': {kind} '{spec.name}' has rank {len(node.shape)} in the "
                        f"ONNX file, config dims {list(spec.dims)} give rank {len(spec.dims) + batch}"
                    )
        missing = [n for n in onnx_inputs if self._config.input(n) is None]
        if missing:
            raise FailedPrecondition(f"model '{name}': ONNX inputs {missing} are not in the config")


def _stack(arrays: Sequence[np.ndarray], spec: TensorSpec) -> np.ndarray:
    if len(arrays) == 1:
        return arrays[0]
    first = arrays[0].shape[1:]
    if all(array.shape[1:] == first for array in arrays):
        return np.concatenate(arrays, axis=0)
    target = tuple(max(sizes) for sizes in zip(*(array.shape[1:] for array in arrays), strict=True))
    rows = sum(array.shape[0] for array in arrays)
    stacked = np.full((rows, *target), spec.pad_value, dtype=arrays[0].dtype)
    start = 0
    for array in arrays:
        region = (
            slice(start, start + array.shape[0]),
            *(slice(0, size) for size in array.shape[1:]),
        )
        stacked[region] = array
        start += array.shape[0]
    return stacked


def _trim_slices(
    output: TensorSpec, source: TensorSpec | None, shapes: Mapping[str, tuple[int, ...]]
) -> tuple[slice, ...]:
    """Slices cutting ``output``'s variable dims to the request's sizes of ``source``'s."""
    assert source is not None  # the config parser guarantees trim_like names an input
    own = shapes[source.name][1:]
    sizes = iter(size for dim, size in zip(source.dims, own, strict=True) if dim == -1)
    slices: list[slice] = [slice(None)]
    for dim in output.dims:
        slices.append(slice(0, next(sizes)) if dim == -1 else slice(None))
    return tuple(slices)
