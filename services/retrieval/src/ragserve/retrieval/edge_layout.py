"""On-disk layout of the embedded store, and the crash-safe steps that change it.

```
<data_dir>/collections/<physical>/collection.json     spec, current shard generation
<data_dir>/collections/<physical>/shard-<generation>/  the Qdrant Edge shard
<data_dir>/snapshots/<physical>/<snapshot>/            collection.json + shard/ (a copy)
```

Invariants: ``collection.json`` is replaced atomically (write, fsync, rename) and names the
one live shard; any other ``shard-*`` directory is an unfinished index build and is removed
at start-up, as are directories with a ``.partial`` or ``.trash`` suffix (a creation, restore
or deletion that a crash interrupted). Snapshots live apart from collections, so deleting a
collection keeps its snapshots and a restore can bring it back.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

from ragserve.retrieval.model import CollectionSpec
from ragserve.retrieval.search_calibration import Calibration
from ragserve.retrieval.specs import spec_from_json, spec_to_json

PARTIAL = ".partial"
TRASH = ".trash"
METADATA = "collection.json"


@dataclass(frozen=True)
class Metadata:
    """``calibration``: how the live shard's index is searched (None: never indexed, or
    indexed before calibration existed, which means the service's default ef)."""

    spec: CollectionSpec
    generation: int
    calibration: Calibration | None = None


class Layout:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.collections = data_dir / "collections"
        self.snapshots = data_dir / "snapshots"

    def ensure(self) -> None:
        self.collections.mkdir(parents=True, exist_ok=True)
        self.snapshots.mkdir(parents=True, exist_ok=True)

    def collection_dir(self, physical: str) -> Path:
        return self.collections / physical

    def shard_dir(self, physical: str, generation: int) -> Path:
        return self.collection_dir(physical) / f"shard-{generation}"

    def snapshot_dir(self, physical: str, snapshot: str) -> Path:
        return self.snapshots / physical / snapshot

    def collection_names(self) -> list[str]:
        return sorted(
            path.name
            for path in self.collections.iterdir()
            if path.is_dir() and not path.name.endswith((PARTIAL, TRASH))
        )

    def clean(self) -> list[Path]:
        """Removes what interrupted operations left; returns what it removed. Start-up only."""
        removed: list[Path] = []
        for root in (self.collections, self.snapshots, *self.snapshots.iterdir()):
            if not root.is_dir():
                continue
            for path in root.iterdir():
                if path.name.endswith((PARTIAL, TRASH)):
                    shutil.rmtree(path, ignore_errors=True)
                    removed.append(path)
        for physical in self.collection_names():
            metadata = read_metadata(self.collection_dir(physical))
            live = f"shard-{metadata.generation}"
            for path in self.collection_dir(physical).glob("shard-*"):
                if path.name != live:
                    shutil.rmtree(path, ignore_errors=True)
                    removed.append(path)
        return removed

    def trash(self, path: Path) -> None:
        """Deletes a directory so that a crash midway leaves nothing that looks alive."""
        doomed = path.with_name(f"{path.name}.{uuid.uuid4().hex[:8]}{TRASH}")
        os.replace(path, doomed)
        shutil.rmtree(doomed, ignore_errors=True)


def write_metadata(directory: Path, metadata: Metadata) -> None:
    body = json.dumps(
        {
            "spec": spec_to_json(metadata.spec),
            "generation": metadata.generation,
            "calibration": metadata.calibration.to_json() if metadata.calibration else None,
        }
    )
    temporary = directory / f"{METADATA}{PARTIAL}"
    with open(temporary, "w", encoding="utf-8") as handle:
        handle.write(body)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, directory / METADATA)
    _fsync_dir(directory)


def read_metadata(directory: Path) -> Metadata:
    data = json.loads((directory / METADATA).read_text(encoding="utf-8"))
    calibration = data.get("calibration")
    return Metadata(
        spec=spec_from_json(data["spec"]),
        generation=int(data["generation"]),
        calibration=Calibration.from_json(calibration) if calibration else None,
    )


def directory_size(path: Path) -> int:
    """Bytes on disk (the engine preallocates sparse files, so not the apparent size)."""
    return sum(item.stat().st_blocks * 512 for item in path.rglob("*") if item.is_file())


def copy_tree(source: Path, target: Path) -> None:
    """Copies a shard directory, keeping sparse files sparse (and sharing blocks where the
    file system can), which makes copies of preallocated engine files cheap."""
    if shutil.which("cp") is not None:
        done = subprocess.run(
            ["cp", "-R", "--reflink=auto", "--sparse=always", str(source), str(target)],
            capture_output=True,
            check=False,
        )
        if done.returncode == 0:
            return
        shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(source, target)


def _fsync_dir(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
