"""The model repository: ``<root>/<name>/config.json`` + ``<root>/<name>/<version>/model.onnx``.

Triton's layout and Triton's states. Versions are the integer-named directories
of a model; the highest is served. Each model moves through::

    (not loaded) UNAVAILABLE --load--> LOADING --ok--> READY --unload--> UNLOADING --> UNAVAILABLE
                                          \\--fails--> UNAVAILABLE (reason: the error)

A model found on disk but never loaded is reported UNAVAILABLE with reason
"not loaded". Loading a READY model reloads it: the old model keeps serving until
the new one is warmed up and swapped in (a failed reload leaves the old one READY).
READY means warmed up: the first request pays no first-run cost.

All methods are thread-safe. ``load`` and ``unload`` block (seconds; minutes when
TensorRT builds an engine): call them from a worker thread.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from ragserve.errors import FailedPrecondition, InvalidArgument, NotFound
from ragserve.inference.config import CONFIG_FILENAME, ModelKind, load_model_config
from ragserve.inference.raw_model import RawOnnxModel
from ragserve.inference.served_model import ModelFiles, ServedModel
from ragserve.inference.text_embedding import TextEmbeddingModel

logger = logging.getLogger(__name__)

LoadedModel = TextEmbeddingModel | RawOnnxModel
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class ModelState(StrEnum):
    UNAVAILABLE = "UNAVAILABLE"
    LOADING = "LOADING"
    READY = "READY"
    UNLOADING = "UNLOADING"


@dataclass(frozen=True, slots=True)
class RepositoryEntry:
    """One row of the repository index (KServe/Triton ``RepositoryIndexResponse.ModelIndex``).

    ``version`` is the served (or to-be-served) version, "" when the model has none.
    """

    name: str
    version: str
    state: ModelState
    reason: str = ""


@dataclass(slots=True)
class _Record:
    state: ModelState
    version: str
    reason: str
    model: LoadedModel | None = None


class ModelRepository:
    """Models under ``root``: discovered on disk at each :meth:`index`, loaded on demand."""

    def __init__(
        self,
        root: Path | str,
        *,
        warm_up: bool = True,
        on_change: Callable[[RepositoryEntry], None] | None = None,
    ) -> None:
        self._root = Path(root)
        self._warm_up = warm_up
        self._on_change = on_change
        self._lock = threading.Lock()
        self._records: dict[str, _Record] = {}
        self._model_locks: dict[str, threading.Lock] = {}

    def index(self, *, ready_only: bool = False) -> list[RepositoryEntry]:
        """Every model on disk or loaded, sorted by name; READY ones only when asked."""
        on_disk = self._discover()
        with self._lock:
            entries = {name: self._entry(name, record) for name, record in self._records.items()}
        for name in on_disk:
            if name not in entries:
                entries[name] = RepositoryEntry(
                    name, _highest_version(self._root / name), ModelState.UNAVAILABLE, "not loaded"
                )
        rows = [entries[name] for name in sorted(entries)]
        return [row for row in rows if row.state is ModelState.READY] if ready_only else rows

    def status(self, name: str) -> RepositoryEntry:
        """The index row of ``name``; NotFound when neither on disk nor loaded."""
        with self._lock:
            record = self._records.get(name)
            if record is not None:
                return self._entry(name, record)
        self._require_on_disk(name)
        return RepositoryEntry(
            name, _highest_version(self._root / name), ModelState.UNAVAILABLE, "not loaded"
        )

    def get(self, name: str, version: str = "") -> LoadedModel:
        """The READY model ``name``; ``version`` "" means the served one.

        NotFound for an unknown model or a version not served; FailedPrecondition
        when the model exists but is not READY.
        """
        with self._lock:
            record = self._records.get(name)
            if record is not None and record.state is ModelState.READY and record.model:
                if version and version != record.version:
                    raise NotFound(
                        f"model '{name}' version '{version}' is not available "
                        f"(serving version '{record.version}')"
                    )
                return record.model
        if record is None:
            self._require_on_disk(name)
            raise FailedPrecondition(f"model '{name}' is not ready (state UNAVAILABLE: not loaded)")
        reason = f": {record.reason}" if record.reason else ""
        raise FailedPrecondition(f"model '{name}' is not ready (state {record.state}{reason})")

    def load(self, name: str) -> LoadedModel:
        """Load (or reload) ``name`` at its highest version, warm it up, serve it.

        Raises NotFound when the model is not on disk, ModelConfigError for a bad
        config, FailedPrecondition when its files or providers are unusable; the
        model is then UNAVAILABLE with that message as the reason (unless an older
        load of it is still READY).
        """
        self._require_on_disk(name)
        with self._model_lock(name):
            directory = self._root / name
            version = _highest_version(directory)
            with self._lock:
                previous = self._records.get(name)
                serving = previous is not None and previous.state is ModelState.READY
                if not serving:
                    self._set(name, _Record(ModelState.LOADING, version, ""))
            try:
                model = self._build(directory, version)
            except Exception as exc:
                message = getattr(exc, "message", None) or str(exc)
                logger.warning("model %s: load failed: %s", name, message)
                if not serving:
                    with self._lock:
                        self._set(name, _Record(ModelState.UNAVAILABLE, version, message))
                raise
            with self._lock:
                self._set(name, _Record(ModelState.READY, version, "", model))
            logger.info(
                "model %s version %s READY on %s", name, version, ", ".join(model.providers)
            )
            return model

    def unload(self, name: str) -> LoadedModel | None:
        """Stop serving ``name``: UNLOADING (``get`` refuses it), close, UNAVAILABLE.
        The engine closes the model's batcher first, so nothing runs on it by then.

        Returns the unloaded model, None when it was not loaded.
        """
        with self._model_lock(name):
            with self._lock:
                record = self._records.get(name)
                if record is None or record.model is None:
                    if record is None:
                        self._require_on_disk(name)
                    return None
                model = record.model
                self._set(name, _Record(ModelState.UNLOADING, record.version, "", model))
            try:
                model.close()
            finally:
                with self._lock:
                    self._set(name, _Record(ModelState.UNAVAILABLE, record.version, "unloaded"))
            return model

    def load_all(self) -> list[RepositoryEntry]:
        """Load every model on disk; failures are logged and left UNAVAILABLE, not raised."""
        for entry in self.index():
            try:
                self.load(entry.name)
            except Exception:  # one bad model must not keep the others from serving
                continue
        return self.index()

    def close(self) -> None:
        """Unload every loaded model."""
        with self._lock:
            names = [name for name, record in self._records.items() if record.model is not None]
        for name in names:
            self.unload(name)

    def _build(self, directory: Path, version: str) -> LoadedModel:
        config = load_model_config(directory / CONFIG_FILENAME)
        if not version:
            raise FailedPrecondition(
                f"model '{config.name}': no version directory (a directory named by an "
                f"integer, e.g. 1/) in {directory}"
            )
        files = ModelFiles(directory=directory, version=version)
        model: LoadedModel
        if config.kind is ModelKind.TEXT_EMBEDDING:
            model = TextEmbeddingModel.load(config, files)
        else:
            model = RawOnnxModel.load(config, files)
        if self._warm_up:
            model.warm_up()
        return model

    def _discover(self) -> list[str]:
        if not self._root.is_dir():
            return []
        return sorted(
            child.name
            for child in self._root.iterdir()
            if _NAME.match(child.name) and (child / CONFIG_FILENAME).is_file()
        )

    def _require_on_disk(self, name: str) -> None:
        if not _NAME.match(name):
            raise InvalidArgument("model_name", f"'{name}' is not a valid model name")
        if not (self._root / name / CONFIG_FILENAME).is_file():
            raise NotFound(f"model '{name}' is not in the repository {self._root}")

    def _model_lock(self, name: str) -> threading.Lock:
        with self._lock:
            return self._model_locks.setdefault(name, threading.Lock())

    def _set(self, name: str, record: _Record) -> None:
        """Record a state change; call with ``self._lock`` held."""
        self._records[name] = record
        if self._on_change is not None:
            self._on_change(self._entry(name, record))

    @staticmethod
    def _entry(name: str, record: _Record) -> RepositoryEntry:
        return RepositoryEntry(name, record.version, record.state, record.reason)


def _as_served(model: LoadedModel) -> ServedModel:
    """Never called: makes the type checker prove every kind offers the ServedModel API."""
    return model


def _highest_version(directory: Path) -> str:
    """The largest integer-named subdirectory, "" when there is none."""
    if not directory.is_dir():
        return ""
    versions = [
        child.name
        for child in directory.iterdir()
        if child.is_dir() and child.name.isdigit() and child.name.isascii()
    ]
    return max(versions, key=int) if versions else ""
