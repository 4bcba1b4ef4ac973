"""What the profilers (``profile_gateway``, ``profile_inference``) share to start a service
process with stage timers loaded, optionally from an earlier revision's code.

The timers come in through a ``sitecustomize`` module on the process's ``PYTHONPATH``
(so the service's own code is untouched); a baseline revision's packages go first on
that path, so its process imports them instead of the working tree's.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def sources_at(revision: str, paths: Sequence[str], into: Path) -> list[Path]:
    """The source directories ``paths`` as they were at ``revision``, extracted ``into``."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", revision, *paths], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return [into / path for path in paths]


def write_hook(directory: Path, timers_module: str) -> Path:
    """A directory whose ``sitecustomize`` installs ``timers_module``'s stage timers."""
    directory.mkdir()
    (directory / "sitecustomize.py").write_text(
        f"import {timers_module}\n{timers_module}.install()\n"
    )
    return directory


def stamped_env(hook: Path, stage_times: Path, sources: Sequence[Path] = ()) -> dict[str, str]:
    """Variables for a process that imports ``sources`` first, loads the timers of
    ``hook`` and writes its stage times to ``stage_times`` at exit."""
    paths = [*map(str, sources), str(hook), str(ROOT)]
    paths += filter(None, [os.environ.get("PYTHONPATH")])
    return {"PYTHONPATH": os.pathsep.join(paths), "RAGSERVE_STAGE_TIMES": str(stage_times)}
