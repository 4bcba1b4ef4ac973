"""``python -m ragserve.retrieval.edge_index_builder SHARD_DIR SPEC_JSON OPTIONS_JSON``: builds
the HNSW index of a private copy of a shard, calibrates how it should be searched, prints
the calibration as one JSON line on stdout, then exits (0 on success).

A process of its own because ``optimize()`` holds the GIL and a core for the whole build
(minutes at 100k points); the worker that keeps serving waits on this process's stdout,
which closes when it exits. Logs go to stderr; stdout carries only the result.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ragserve.retrieval import edge_engine
from ragserve.retrieval.specs import spec_from_json
from ragserve.runtime.logs import configure_logging, stop_logging


def main(argv: list[str]) -> int:
    # JSON lines on stderr like the service's (stdout carries only the result).
    configure_logging("retrieval")
    shard_dir, spec_json, options_json = argv
    options = json.loads(options_json)
    calibration = edge_engine.build_index(
        Path(shard_dir),
        spec_from_json(json.loads(spec_json)),
        min_recall=float(options["min_recall"]),
        require_faster=bool(options["require_faster"]),
    )
    print(json.dumps(calibration.to_json()), flush=True)
    stop_logging()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
