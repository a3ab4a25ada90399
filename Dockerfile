# syntax=docker/dockerfile:1
# sen4map-etl. `docker build -t sen4map-etl .`, then `docker run --rm sen4map-etl` (the help) or
# `docker run --rm -v "$PWD/data:/data" sen4map-etl etl run --country AT ... --out /data/out`.
# Build arguments, the CPU torch and an offline build: README, "Docker".
# No heredocs: the legacy builder and an offline BuildKit (which cannot pull the frontend named
# on the first line) parse this file as it is.

# Any image with Python >= 3.11 and its venv module: python:3.11-slim, or a plain Debian
# bookworm with python3 and python3-venv (scripts/docker_smoke.sh builds one with debootstrap).
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}

# The extras of pyproject.toml to install, comma-separated: benchmark (`etl benchmark`:
# torch, scikit-learn, matplotlib), dask (`etl run --scheduler`); empty for the core only.
ARG EXTRAS=benchmark,dask
# torch for the benchmark extra comes from this index (the CPU build, 200 MB; PyPI's build of
# the same version pulls gigabytes of CUDA libraries); everything else from PyPI.
ARG TORCH_VERSION=2.13.0
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
ARG PYPI_INDEX_URL=https://pypi.org/simple
# The user that runs `etl`; pass your own uid so files written to a mounted folder are yours.
ARG APP_UID=1000

ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 VIRTUAL_ENV=/opt/venv PATH=/opt/venv/bin:$PATH \
    MPLCONFIGDIR=/tmp/matplotlib

# A virtual environment, root-owned: the same layout on python:3.11-slim and on a Debian base
# whose system Python refuses pip installs (PEP 668).
RUN python3 -m venv /opt/venv \
 && useradd --create-home --uid "${APP_UID}" --user-group --shell /bin/sh etl \
 && mkdir -p /data && chown etl:etl /data

WORKDIR /app

# Dependency layer first: rebuilt only when pyproject.toml or the build arguments change.
COPY pyproject.toml ./
COPY scripts/docker_requirements.py scripts/
RUN python scripts/docker_requirements.py pyproject.toml "${EXTRAS}" > /tmp/requirements.txt \
 && if grep -q '^torch' /tmp/requirements.txt; then \
      pip install "torch==${TORCH_VERSION}" --index-url "${TORCH_INDEX_URL}" \
          --extra-index-url "${PYPI_INDEX_URL}"; \
    fi \
 && pip install --index-url "${PYPI_INDEX_URL}" -r /tmp/requirements.txt \
 && if grep -q '^torch' /tmp/requirements.txt; then \
      python -c "import sys, torch; sys.exit(0 if torch.version.cuda is None else \
'torch ' + torch.__version__ + ' is a CUDA build; set TORCH_INDEX_URL to a CPU index')"; \
    fi

# Then the sources (README.md is the package's long description).
COPY README.md ./
COPY lucas ./lucas
COPY exports ./exports
COPY pipeline ./pipeline
COPY benchmark ./benchmark
RUN pip install --no-deps . && etl --version

USER etl
WORKDIR /data
CMD ["etl", "--help"]
