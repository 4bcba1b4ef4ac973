"""Text embedding models: texts in, one L2-normalised vector per text out.

Two steps with a batcher between them:

- :meth:`TextEmbeddingModel.tokenize` runs once per request, before queueing. It
  applies the truncation policy, so a request that cannot be served is refused
  before it waits, and each :class:`TokenizedText` carries its ``length`` — the
  cost the batcher budgets by (``max_batch_tokens`` counts padded tokens).
- :meth:`TextEmbeddingModel.embed` runs a batch: pads to the longest text of that
  batch, runs the ONNX model, pools over the attention mask and normalises.

A text's vector does not depend on its batch companions: padded positions are
masked out of attention and of pooling (measured: cosine > 0.9999 batched vs alone).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Final

import numpy as np
import numpy.typing as npt
import onnxruntime as ort
from tokenizers import Tokenizer

from ragserve.errors import FailedPrecondition, InvalidArgument
from ragserve.inference.config import ModelConfig, Pooling, TruncationPolicy
from ragserve.inference.onnx_session import OnnxSession, create_session, quiet_run_options
from ragserve.inference.served_model import ModelFiles

_IDS: Final = "input_ids"
_MASK: Final = "attention_mask"
_TYPES: Final = "token_type_ids"
_KNOWN_INPUTS: Final = (_IDS, _MASK, _TYPES)
_WARM_UP_TEXTS: Final = ("warm up", "a somewhat longer text to warm up a second shape " * 8)


@dataclass(frozen=True, slots=True)
class TokenizedText:
    """One text, tokenized and (per policy) truncated, with the special tokens.

    ``ids`` and ``type_ids`` are int64 of ``length`` elements; there is no padding,
    so the attention mask is all ones. ``original_length`` counts the tokens the
    whole text needed; it exceeds ``length`` exactly when the text was truncated.
    """

    ids: npt.NDArray[np.int64]
    type_ids: npt.NDArray[np.int64]
    original_length: int

    @property
    def length(self) -> int:
        return int(self.ids.shape[0])

    @property
    def truncated(self) -> bool:
        return self.original_length > self.length

    @property
    def attention_mask(self) -> npt.NDArray[np.int64]:
        return np.ones(self.length, dtype=np.int64)


def narrow_threads(config: ModelConfig) -> int | None:
    """Intra-op threads of the narrow CPU session, or None when the model needs none.

    With several instances, batches overlap under load; each running on all
    cores' worth of threads oversubscribes the CPU (measured on 2 cores: one
    2-thread instance 109 emb/s, two 1-thread instances 119 emb/s at 64
    clients), while a batch that runs alone is fastest with every thread (a
    lone text: 11.8 ms with 2 threads, 19 ms with 1). So a model with
    ``instance_count`` > 1 and ``intra_op_threads`` > 1 keeps a second session
    with the threads divided among the instances, for batches that overlap.
    """
    if config.instance_count < 2 or config.intra_op_threads < 2:
        return None
    return max(1, config.intra_op_threads // config.instance_count)


class TextEmbeddingModel:
    """A ``text_embedding`` model: tokenizer + ONNX encoder + pooling + normalisation.

    Thread-safe: tokenize and embed may run concurrently from several threads.
    """

    def __init__(
        self,
        config: ModelConfig,
        files: ModelFiles,
        session: OnnxSession,
        tokenizer: Tokenizer,
        narrow_session: OnnxSession | None = None,
    ) -> None:
        if config.text is None:
            raise ValueError(f"model '{config.name}' is not a text model")
        self._config = config
        self._text = config.text
        self._version = files.version
        self._session: ort.InferenceSession | None = session.session
        # See narrow_threads(): a session with fewer threads for batches that overlap.
        self._narrow_session: ort.InferenceSession | None = (
            narrow_session.session if narrow_session is not None else None
        )
        self._providers = session.providers
        self._run_options = quiet_run_options()
        self._tokenizer = tokenizer
        padding = tokenizer.padding
        self._pad_id = int(padding["pad_id"]) if padding else 0
        # Shipped tokenizer.json files often fix padding (this one pads to 128) and a
        # truncation length other than the model's; both change the vectors.
        tokenizer.no_padding()
        tokenizer.enable_truncation(self._text.max_tokens)
        self._specials = tokenizer.num_special_tokens_to_add(is_pair=False)
        self._input_names = self._check_session_inputs(session)
        self._output_name = session.session.get_outputs()[0].name

    @classmethod
    def load(cls, config: ModelConfig, files: ModelFiles) -> TextEmbeddingModel:
        """Open the tokenizer and the ONNX session of ``files`` (blocking; seconds on a GPU
        when TensorRT builds an engine)."""
        assert config.text is not None
        tokenizer_path = files.directory / config.text.tokenizer
        try:
            tokenizer = Tokenizer.from_file(str(tokenizer_path))
        except Exception as exc:  # tokenizers raises a bare Exception for every failure
            raise FailedPrecondition(
                f"model '{config.name}': cannot load tokenizer {tokenizer_path}: {exc}"
            ) from None
        model_file = files.model_file(config)
        if not model_file.is_file():
            raise FailedPrecondition(f"model '{config.name}': no model file {model_file}")
        batch, tokens = config.max_batch_size, config.text.max_tokens
        profile = {
            "trt_profile_min_shapes": ",".join(f"{n}:1x1" for n in _KNOWN_INPUTS),
            "trt_profile_opt_shapes": ",".join(
                f"{n}:{min(batch, 32)}x{min(tokens, 128)}" for n in _KNOWN_INPUTS
            ),
            "trt_profile_max_shapes": ",".join(f"{n}:{batch}x{tokens}" for n in _KNOWN_INPUTS),
        }
        session = create_session(
            model_file,
            config,
            engine_cache_dir=files.engine_cache_dir(config),
            tensorrt_profile=profile,
        )
        narrow = None
        threads = narrow_threads(config)
        if threads is not None and session.providers[:1] == ("CPUExecutionProvider",):
            narrow = create_session(
                model_file,
                replace(config, intra_op_threads=threads),
                engine_cache_dir=files.engine_cache_dir(config),
            )
        return cls(config, files, session, tokenizer, narrow)

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
    def max_tokens(self) -> int:
        return self._text.max_tokens

    @property
    def dimension(self) -> int:
        return self._text.dimension

    def decode_texts(self, tensor: np.ndarray, field: str = "inputs[0]") -> list[str]:
        """The texts of a BYTES input tensor of shape [n] or [n, 1] (1 <= n <= max_batch_size).

        Elements are UTF-8 ``bytes`` (``str`` is accepted too); errors name ``field[i]``.
        """
        if tensor.dtype != np.object_:
            raise InvalidArgument(field, f"expected datatype BYTES, got numpy {tensor.dtype}")
        shape = tensor.shape
        if not (len(shape) == 1 or (len(shape) == 2 and shape[1] == 1)):
            raise InvalidArgument(field, f"expected shape [n] or [n, 1], got {list(shape)}")
        count = shape[0]
        if not 1 <= count <= self._config.max_batch_size:
            raise InvalidArgument(
                field,
                f"holds {count} texts, must be 1 to {self._config.max_batch_size} (max_batch_size)",
            )
        texts: list[str] = []
        for index, element in enumerate(tensor.reshape(count)):
            if isinstance(element, str):
                texts.append(element)
                continue
            if not isinstance(element, bytes | bytearray | memoryview):
                raise InvalidArgument(f"{field}[{index}]", "text must be bytes")
            try:
                texts.append(bytes(element).decode("utf-8"))
            except UnicodeDecodeError as exc:
                raise InvalidArgument(
                    f"{field}[{index}]", f"text is not valid UTF-8 (byte {exc.start})"
                ) from None
        return texts

    def tokenize(
        self,
        texts: Sequence[str],
        policy: TruncationPolicy | None = None,
        *,
        field: str = "inputs[0]",
    ) -> list[TokenizedText]:
        """Tokenize ``texts`` (in order) under ``policy`` (the config's when None).

        ``refuse``: a text over max_tokens raises InvalidArgument naming ``field[i]``,
        its token count and the limit. ``truncate``: it is cut to max_tokens. The empty
        text is allowed (only the special tokens).
        """
        policy = policy or self._text.truncation
        encodings = self._tokenizer.encode_batch(list(texts))
        result: list[TokenizedText] = []
        for index, encoding in enumerate(encodings):
            length = len(encoding.ids)
            # With stride 0 the overflow is the rest of the text in chunks, each wrapped
            # in its own special tokens: this sum is the untruncated count, exactly.
            original = length + sum(len(o.ids) - self._specials for o in encoding.overflowing)
            if original > length and policy is TruncationPolicy.REFUSE:
                raise InvalidArgument(
                    f"{field}[{index}]",
                    f"text has {original} tokens, limit is {self._text.max_tokens}",
                )
            result.append(
                TokenizedText(
                    ids=np.asarray(encoding.ids, dtype=np.int64),
                    type_ids=np.asarray(encoding.type_ids, dtype=np.int64),
                    original_length=original,
                )
            )
        return result

    @property
    def has_narrow_session(self) -> bool:
        return self._narrow_session is not None

    def embed(
        self, batch: Sequence[TokenizedText], *, overlapping: bool = False
    ) -> npt.NDArray[np.float32]:
        """float32 [len(batch), dimension], row i for batch[i]; blocking, call from a worker thread.

        Pads to the longest text of this batch only, so sorting a batch by length is
        what keeps padding low (the batcher's job). ``overlapping``: another batch
        is running at the same time, so use the narrow session when there is one.
        """
        session = self._session
        if overlapping and self._narrow_session is not None and session is not None:
            session = self._narrow_session
        if session is None:
            raise FailedPrecondition(f"model '{self._config.name}' is unloaded")
        count = len(batch)
        if count == 0:
            return np.zeros((0, self._text.dimension), dtype=np.float32)
        lengths = np.fromiter((t.length for t in batch), dtype=np.int64, count=count)
        longest = int(lengths.max())
        ids = np.full((count, longest), self._pad_id, dtype=np.int64)
        type_ids = np.zeros((count, longest), dtype=np.int64)
        for row, text in enumerate(batch):
            ids[row, : text.length] = text.ids
            type_ids[row, : text.length] = text.type_ids
        mask = (np.arange(longest, dtype=np.int64)[None, :] < lengths[:, None]).astype(np.int64)
        feeds = {_IDS: ids, _MASK: mask, _TYPES: type_ids}
        inputs = {name: feeds[name] for name in self._input_names}
        (hidden,) = session.run([self._output_name], inputs, self._run_options)
        return self._pool(np.asarray(hidden, dtype=np.float32), mask, lengths)

    def embed_texts(
        self, texts: Sequence[str], policy: TruncationPolicy | None = None
    ) -> npt.NDArray[np.float32]:
        """tokenize + embed in one call, for callers without a batcher."""
        return self.embed(self.tokenize(texts, policy))

    def warm_up(self) -> None:
        vectors = self.embed_texts(list(_WARM_UP_TEXTS), TruncationPolicy.TRUNCATE)
        if vectors.shape != (len(_WARM_UP_TEXTS), self._text.dimension):
            raise FailedPrecondition(
                f"model '{self._config.name}': the model produced vectors of shape "
                f"{list(vectors.shape[1:])}, config says text.dimension {self._text.dimension}"
            )

    def close(self) -> None:
        """Drop the sessions (memory is freed once in-flight runs return); embed then fails."""
        self._session = None
        self._narrow_session = None

    def _pool(
        self,
        hidden: npt.NDArray[np.float32],
        mask: npt.NDArray[np.int64],
        lengths: npt.NDArray[np.int64],
    ) -> npt.NDArray[np.float32]:
        if hidden.ndim != 3:
            raise FailedPrecondition(
                f"model '{self._config.name}': output '{self._output_name}' has rank "
                f"{hidden.ndim}, pooling needs [batch, tokens, dimension]"
            )
        if self._text.pooling is Pooling.CLS:
            pooled = hidden[:, 0, :]
        else:
            # One batched matmul sums the unmasked token vectors of every row.
            summed = np.matmul(mask.astype(np.float32)[:, None, :], hidden)[:, 0, :]
            pooled = summed / np.maximum(lengths, 1).astype(np.float32)[:, None]
        if self._text.normalize:
            norms = np.linalg.norm(pooled, axis=1, keepdims=True)
            pooled = pooled / np.maximum(norms, 1e-12)
        return np.ascontiguousarray(pooled, dtype=np.float32)

    def _check_session_inputs(self, session: OnnxSession) -> tuple[str, ...]:
        names = tuple(node.name for node in session.session.get_inputs())
        unknown = [name for name in names if name not in _KNOWN_INPUTS]
        if unknown or _IDS not in names:
            raise FailedPrecondition(
                f"model '{self._config.name}': a text model's ONNX inputs must be input_ids "
                f"[+ attention_mask, token_type_ids], got {list(names)}"
            )
        return names
