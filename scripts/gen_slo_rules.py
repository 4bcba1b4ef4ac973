"""Write deploy/prometheus/rules/slo.rules.yml from deploy/slo/slos.yaml.

With ``--check`` it only compares and fails when the committed file is stale.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ragserve.slo.rules import render
from ragserve.slo.spec import load_spec

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "deploy" / "slo" / "slos.yaml"
RULES = ROOT / "deploy" / "prometheus" / "rules" / "slo.rules.yml"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if the rules file is stale")
    args = parser.parse_args()
    text = render(load_spec(SPEC))
    if args.check:
        if not RULES.exists() or RULES.read_text(encoding="utf-8") != text:
            print(f"{RULES.relative_to(ROOT)} is stale: run `make slo-rules`", file=sys.stderr)
            return 1
        return 0
    RULES.write_text(text, encoding="utf-8")
    print(f"wrote {RULES.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
