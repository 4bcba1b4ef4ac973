"""Write the JSON Schemas of the files operators write (`make schemas`), from the code's models.

- docs/schemas/model-config.schema.json: an inference model's ``models/<name>/config.json``;
- docs/schemas/providers.schema.json: the embedding router's providers file (JSON, or TOML
  through an editor that maps TOML onto JSON Schema).

Editors point at them to check a file as it is written. With ``--check`` nothing is written
and the exit status is 1 when a committed schema differs from what the code generates
(the test suite runs it, so a schema cannot go stale).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from ragserve.embedding_router.config import ROUTER_CONFIG
from ragserve.inference.config import MODEL_CONFIG

ROOT = Path(__file__).resolve().parent.parent
SCHEMAS = ROOT / "docs" / "schemas"
DRAFT = "https://json-schema.org/draft/2020-12/schema"

# file name -> (model, title, description)
TARGETS: dict[str, tuple[TypeAdapter[Any], str, str]] = {
    "model-config.schema.json": (
        MODEL_CONFIG,
        "ragserve inference model config (models/<name>/config.json)",
        "Triton-layout model configuration with KServe datatype names; see "
        "docs/model-repository.md.",
    ),
    "providers.schema.json": (
        ROUTER_CONFIG,
        "ragserve embedding router providers file",
        "Models, providers, tenants, routing, breaker and cache of the embedding router; see "
        "docs/embedding-router.md. Also: every provider's model is a configured model, every "
        "model has a provider, and ids are unique.",
    ),
}


def render(adapter: TypeAdapter[Any], title: str, description: str) -> str:
    schema = {"$schema": DRAFT, **adapter.json_schema()}
    schema["title"] = title
    schema["description"] = description
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="fail when a schema is stale")
    args = parser.parse_args(argv)
    stale = []
    for name, (adapter, title, description) in TARGETS.items():
        path = SCHEMAS / name
        text = render(adapter, title, description)
        current = path.read_text(encoding="utf-8") if path.is_file() else None
        if current == text:
            continue
        if args.check:
            stale.append(str(path.relative_to(ROOT)))
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path.relative_to(ROOT)}")
    if stale:
        print(f"stale: {', '.join(stale)}; run `make schemas` and commit", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
