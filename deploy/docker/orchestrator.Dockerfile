# syntax=docker/dockerfile:1.7
# The orchestrator (ingest and query pipelines) image. Build from the repository root (the uv workspace is the context):
#   docker build -f deploy/docker/orchestrator.Dockerfile -t ragserve/orchestrator .
# Only ragserve-orchestrator's locked dependencies go in (uv sync --package); see deploy/README.md.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS builder
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv
# uv from PyPI, the version the Makefile pins.
RUN pip install --no-cache-dir uv==0.13.8
WORKDIR /src
COPY pyproject.toml uv.lock ./
COPY libs libs
COPY services services
# Non-editable: the venv holds the code itself, so the runtime stage needs no source tree.
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-editable --package ragserve-orchestrator

FROM ${PYTHON_IMAGE} AS runtime
RUN useradd --system --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin ragserve \
    && mkdir -p /app/var \
    && chown 10001:10001 /app/var
COPY --from=builder /app/.venv /app/.venv
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /app
USER 10001:10001
EXPOSE 50052 9152
ENTRYPOINT ["python", "-m", "ragserve.orchestrator"]
