# syntax=docker/dockerfile:1
# One image for the operator (`kubemigrate operator`) and for every migration Job
# (`kubemigrate migrate ...`), so the two always agree on the CLI and result format.
#
#   docker build -t ghcr.io/kubemigrate/kubemigrate:0.1.0 .
#
# The runtime runs as uid/gid 65532 (non-root, numeric so Kubernetes' runAsNonRoot
# can verify it) and never writes outside /tmp, so it works with
# readOnlyRootFilesystem: bytecode is compiled at build time and HOME is /tmp.

ARG PYTHON_IMAGE=python:3.11-slim

# --- builder: wheels for kubemigrate and every dependency --------------------------
FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
# The dependencies' wheels from the metadata alone, so that layer stays cached while
# only code changes; then kubemigrate's own wheel.
COPY pyproject.toml README.md ./
RUN python -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]))' > requirements.txt \
    && pip wheel --wheel-dir /wheels -r requirements.txt
COPY operator/ operator/
RUN pip wheel --wheel-dir /wheels --no-deps .

# --- runtime -----------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="kubemigrate" \
      org.opencontainers.image.description="PostgreSQL schema migrations the Kubernetes way: MigrationRun operator and CLI" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HOME=/tmp \
    TMPDIR=/tmp \
    PATH=/opt/kubemigrate/bin:$PATH
# Install from the builder's wheels only (no index: what was built is what ships),
# into a venv owned by root and read-only to the runtime user; pip compiles the
# bytecode now, so nothing needs writing at run time.
RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    python -m venv /opt/kubemigrate \
    && /opt/kubemigrate/bin/pip install --no-index --find-links=/wheels kubemigrate \
    && /opt/kubemigrate/bin/pip uninstall --yes pip \
    && kubemigrate --help > /dev/null
WORKDIR /tmp
USER 65532:65532
ENTRYPOINT ["kubemigrate"]
CMD ["--help"]
