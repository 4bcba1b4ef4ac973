"""The published JSON Schemas (docs/schemas) are current, and the shipped files conform."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

ROOT = Path(__file__).resolve().parents[1]
SCHEMAS = ROOT / "docs" / "schemas"


def test_the_committed_schemas_match_the_code() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_schemas.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize(
    ("schema", "document"),
    [
        ("model-config.schema.json", "models/all-minilm-l6-v2/config.json"),
        ("model-config.schema.json", "models/minilm-l6-raw/config.json"),
        ("providers.schema.json", "deploy/providers.example.json"),
    ],
)
def test_the_shipped_files_conform(schema: str, document: str) -> None:
    validator = jsonschema.Draft202012Validator(
        json.loads((SCHEMAS / schema).read_text(encoding="utf-8"))
    )
    validator.validate(json.loads((ROOT / document).read_text(encoding="utf-8")))


def test_an_editor_sees_the_mistakes_start_up_would_refuse() -> None:
    validator = jsonschema.Draft202012Validator(
        json.loads((SCHEMAS / "providers.schema.json").read_text(encoding="utf-8"))
    )
    document = json.loads((ROOT / "deploy" / "providers.example.json").read_text("utf-8"))
    document["providers"][0]["max_batch"] = 0
    document["providers"][0]["colour"] = "red"
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    assert [(list(e.absolute_path), e.validator) for e in errors] == [
        (["providers", 0], "additionalProperties"),
        (["providers", 0, "max_batch"], "minimum"),
    ]
