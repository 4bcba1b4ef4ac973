"""Regenerate the Python stubs in libs/api from protos/ (`make protos`).

Proto package = directory = import path, so protoc runs from the repository
root and the generated modules import each other with no rewriting. With
``--check`` it generates into a temporary tree and fails when the committed
code differs (CI's guard against hand edits and forgotten regenerations).
"""

from __future__ import annotations

import argparse
import filecmp
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROTO_ROOT = ROOT / "protos"
OUT_ROOT = ROOT / "libs" / "api" / "src"
GENERATED_PACKAGE = Path("ragserve") / "api"
GENERATED_SUFFIXES = ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py", "_pb2_grpc.pyi")


def proto_files() -> list[Path]:
    return sorted(PROTO_ROOT.rglob("*.proto"))


def generate(out_root: Path) -> None:
    protos = [str(p.relative_to(PROTO_ROOT)) for p in proto_files()]
    command = [
        sys.executable,
        "-m",
        "grpc_tools.protoc",
        f"--proto_path={PROTO_ROOT}",
        f"--python_out={out_root}",
        f"--pyi_out={out_root}",
        f"--grpc_python_out={out_root}",
        f"--mypy_grpc_out={out_root}",
        *protos,
    ]
    bin_dir = str(Path(sys.executable).parent)
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin"}
    subprocess.run(command, check=True, cwd=ROOT, env=env)
    # Every generated directory is a regular package (ragserve itself stays a
    # namespace package) so type checkers and wheels see the modules.
    for directory in {p.parent for p in (out_root / GENERATED_PACKAGE).rglob("*_pb2.py")}:
        current = directory
        while current != out_root / "ragserve":
            (current / "__init__.py").touch()
            current = current.parent


def generated_files(root: Path) -> set[Path]:
    return {
        p.relative_to(root)
        for p in (root / GENERATED_PACKAGE).rglob("*")
        if p.is_file() and (p.name.endswith(GENERATED_SUFFIXES) or p.name == "__init__.py")
    }


def check() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp)
        generate(fresh)
        expected, committed = generated_files(fresh), generated_files(OUT_ROOT)
        stale = sorted(
            str(p)
            for p in expected | committed
            if p not in expected
            or p not in committed
            or not filecmp.cmp(fresh / p, OUT_ROOT / p, shallow=False)
        )
    if stale:
        print("generated code differs from protos/ (run `make protos`):", *stale, sep="\n  ")
        return 1
    print(f"generated code is up to date ({len(expected)} files)")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if committed code is stale")
    args = parser.parse_args()
    if args.check:
        return check()
    target = OUT_ROOT / GENERATED_PACKAGE
    for path in target.rglob("*"):
        if path.is_file() and path.name.endswith(GENERATED_SUFFIXES):
            path.unlink()
    generate(OUT_ROOT)
    shutil.rmtree(target / "__pycache__", ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
