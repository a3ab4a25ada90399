#!/usr/bin/env bash
# Proves the Docker image end to end (issue 21): builds a local Debian base when missing
# (debootstrap + docker import: public images cannot be pulled on the development machines),
# builds the image on it, checks the build context is small, then runs `etl --version`,
# `etl demo` and `etl run` inside the container as its non-root user with a mounted output
# folder, and checks the file that lands on the host. Prints one PASS line, or FAIL and exit 1.
#
#   sudo scripts/docker_smoke.sh            # needs a running Docker engine and root (debootstrap)
#
# Environment (all optional):
#   BASE_IMAGE      base to build on (default sen4map-base:local, built here when missing)
#   IMAGE           tag of the image under test (default sen4map-etl:smoke)
#   EXTRAS          extras to install (default benchmark,dask when a CPU torch is at hand, else
#                   dask: PyPI's torch is the multi-GB CUDA build, so without a CPU torch the
#                   benchmark extra is left out and the script says so)
#   TORCH_INDEX_URL an index with the CPU torch (e.g. https://download.pytorch.org/whl/cpu)
#   TORCH_WHEEL     a local torch-2.13.0+cpu wheel, served to the build on 127.0.0.1
#                   (default: the first one in $PIP_FIND_LINKS, /opt/wheels or pip's cache)
#   INDEX_PORT      the port of that index (default 38471; fixed so reruns reuse the layers)
#   PYPI_INDEX_URL  the index for everything else (default https://pypi.org/simple)
#   MAX_CONTEXT_MB  largest build context accepted (default 10)
#   KEEP=1          keep the work folder (outputs, logs) after a pass
#
# The build uses the legacy builder (DOCKER_BUILDKIT=0): BuildKit would first pull the
# docker/dockerfile:1 frontend named on the Dockerfile's first line, which cannot be pulled
# offline. The local base carries this machine's extra CA certificates (from
# /usr/local/share/ca-certificates) so pip inside the build trusts its TLS egress proxy, as a
# site's own base image would.
set -euo pipefail
cd "$(dirname "$0")/.."

BASE_IMAGE=${BASE_IMAGE:-sen4map-base:local}
IMAGE=${IMAGE:-sen4map-etl:smoke}
TORCH_VERSION=2.13.0
PYPI_INDEX_URL=${PYPI_INDEX_URL:-https://pypi.org/simple}
MAX_CONTEXT_MB=${MAX_CONTEXT_MB:-10}
INDEX_PORT=${INDEX_PORT:-38471}
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
WORK=$(mktemp -d /tmp/sen4map-docker-smoke.XXXXXX)
SERVER_PID=""

say() { printf '== %s\n' "$*"; }
fail() { printf 'FAIL docker smoke: %s (logs in %s)\n' "$*" "$WORK" >&2; exit 1; }
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; fi
}
trap cleanup EXIT

docker info >/dev/null 2>&1 || fail "no Docker engine answers (start dockerd, e.g. 'dockerd &')"

build_base() {
  [ "$(id -u)" = 0 ] || fail "building $BASE_IMAGE needs root (debootstrap); run as root or pass BASE_IMAGE"
  command -v debootstrap >/dev/null || fail "debootstrap is missing: apt-get install -y debootstrap"
  local rootfs="$WORK/rootfs"
  say "building $BASE_IMAGE: debootstrap bookworm from $DEBIAN_MIRROR (a few minutes)"
  debootstrap --variant=minbase --include=python3,python3-venv,python3-pip,ca-certificates \
    bookworm "$rootfs" "$DEBIAN_MIRROR" >"$WORK/debootstrap.log" 2>&1 \
    || fail "debootstrap failed, see $WORK/debootstrap.log"
  if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
    cp /usr/local/share/ca-certificates/*.crt "$rootfs/usr/local/share/ca-certificates/"
    chroot "$rootfs" update-ca-certificates >>"$WORK/debootstrap.log" 2>&1
  fi
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  tar -C "$rootfs" -c . | docker import \
    --change 'ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt' \
    --change 'CMD ["/bin/bash"]' - "$BASE_IMAGE" >/dev/null
  rm -rf "$rootfs"
}

find_torch_wheel() {
  local dir
  for dir in ${PIP_FIND_LINKS:-} /opt/wheels "$HOME/.cache/pip"; do
    [ -d "$dir" ] || continue
    find "$dir" -name "torch-${TORCH_VERSION}+cpu-cp311-*.whl" -print -quit 2>/dev/null
  done | head -n 1
}

serve_wheel() {  # a one-project index (./torch/<wheel>) on 127.0.0.1, trusted by pip
  local index="$WORK/torch-index" port
  mkdir -p "$index/torch"
  ln -s "$(readlink -f "$1")" "$index/torch/$(basename "$1")"
  port=$INDEX_PORT  # a fixed port: the URL is a build argument, so a new one would redo the deps
  python3 -m http.server --bind 127.0.0.1 --directory "$index" "$port" >"$WORK/index.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 50); do
    curl -sf "http://127.0.0.1:$port/torch/" >/dev/null 2>&1 && break
    sleep 0.1
  done
  kill -0 "$SERVER_PID" 2>/dev/null \
    || fail "cannot serve the torch wheel on 127.0.0.1:$port (busy?); set INDEX_PORT to a free port"
  TORCH_INDEX_URL="http://127.0.0.1:$port/"
}

# 1. the base
if docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
  say "base $BASE_IMAGE present"
else
  build_base
fi

# 2. where the CPU torch comes from, and so which extras
if [ -z "${TORCH_INDEX_URL:-}" ]; then
  TORCH_WHEEL=${TORCH_WHEEL:-$(find_torch_wheel)}
  if [ -n "$TORCH_WHEEL" ]; then
    serve_wheel "$TORCH_WHEEL"
    say "torch: the local CPU wheel $TORCH_WHEEL, served on $TORCH_INDEX_URL"
  fi
fi
if [ -n "${TORCH_INDEX_URL:-}" ]; then
  EXTRAS=${EXTRAS:-benchmark,dask}
else
  EXTRAS=${EXTRAS:-dask}
  TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
  case ",$EXTRAS," in *,benchmark,*) ;; *)
    say "extras $EXTRAS: benchmark left out (no CPU torch wheel here; PyPI's torch is the CUDA build)";;
  esac
fi

# 3. the image
say "docker build --build-arg BASE_IMAGE=$BASE_IMAGE --build-arg EXTRAS=$EXTRAS -t $IMAGE ."
started=$SECONDS
DOCKER_BUILDKIT=0 docker build --network host \
  --build-arg "BASE_IMAGE=$BASE_IMAGE" --build-arg "EXTRAS=$EXTRAS" \
  --build-arg "TORCH_INDEX_URL=$TORCH_INDEX_URL" --build-arg "PYPI_INDEX_URL=$PYPI_INDEX_URL" \
  -t "$IMAGE" . >"$WORK/build.log" 2>&1 || { tail -n 30 "$WORK/build.log" >&2; fail "docker build failed"; }
context=$(grep -o 'Sending build context to Docker daemon *[0-9.]*[kMG]*B' "$WORK/build.log" \
  | tail -n 1 | awk '{print $NF}')
[ -n "$context" ] || fail "the build log names no context size"
context_mb=$(awk -v s="$context" 'BEGIN {
  n = s + 0; u = s; sub(/^[0-9.]+/, "", u)
  f = (u == "kB") ? 1e-3 : (u == "MB") ? 1 : (u == "GB") ? 1e3 : 1e-6; printf "%.2f", n * f }')
awk -v c="$context_mb" -v m="$MAX_CONTEXT_MB" 'BEGIN { exit !(c <= m) }' \
  || fail "build context is $context, over $MAX_CONTEXT_MB MB: check .dockerignore"
say "built in $((SECONDS - started)) s, build context $context"

# 4. inside the container, as its user, no network
run() { docker run --rm --network none -v "$WORK/data:/data" "$IMAGE" "$@"; }
user=$(docker run --rm "$IMAGE" id -un)
uid=$(docker run --rm "$IMAGE" id -u)
[ "$uid" != 0 ] || fail "the image runs as root"
version=$(run etl --version)
want=$(python3 -c 'import tomllib; print(tomllib.load(open("pyproject.toml", "rb"))["project"]["version"])')
case "$version" in *"$want"*) ;; *) fail "etl --version says '$version', pyproject.toml says $want";; esac
say "$version, running as $user (uid $uid)"

mkdir -p "$WORK/data" && chown "$uid:$uid" "$WORK/data"
run etl demo --out /data/demo-data --points 8 --step-days 15 >"$WORK/demo.log" 2>&1 \
  || { cat "$WORK/demo.log" >&2; fail "etl demo failed"; }
catalog_args=(--country AT --lucas /data/demo-data/lucas_harmo_uf_2018.csv
              --source stac --catalog /data/demo-data/stac/catalog.json)
run etl run "${catalog_args[@]}" --out /data/demo-out >"$WORK/run.log" 2>&1 \
  || { cat "$WORK/run.log" >&2; fail "etl run failed"; }
tail -n 4 "$WORK/run.log"

h5="$WORK/data/demo-out/2018/AT.h5"
[ -f "$h5" ] || fail "etl run wrote no $h5"
owner=$(stat -c %u "$h5")
[ "$owner" = "$uid" ] || fail "$h5 is owned by uid $owner, not the container's user ($uid)"
points=$(run python -c 'import h5py
with h5py.File("/data/demo-out/2018/AT.h5") as f:
    names = [n for n in f if n.startswith("Lucas_Point_")]
    assert names and all(f[n].shape[1:] == (64, 64) for n in names), "bad patches"
    print(len(names))') || fail "AT.h5 does not hold 64x64 point patches"
say "AT.h5: $points points of 64x64, owned by uid $owner"

# 5. the extras: dask's scheduler writes the same file; torch is the CPU build
case ",$EXTRAS," in *,dask,*)
  run etl run "${catalog_args[@]}" --out /data/demo-out-dask --scheduler local:2 \
    >"$WORK/run-dask.log" 2>&1 || { cat "$WORK/run-dask.log" >&2; fail "etl run --scheduler local:2 failed"; }
  run python -c 'import h5py, numpy as np
with h5py.File("/data/demo-out/2018/AT.h5") as a, h5py.File("/data/demo-out-dask/2018/AT.h5") as b:
    assert sorted(a) == sorted(b), "other points"
    assert all(np.array_equal(a[n][()], b[n][()]) for n in a), "other pixels"' \
    || fail "etl run --scheduler local:2 wrote another AT.h5 than the plain run"
  say "--scheduler local:2: the same AT.h5";;
esac
case ",$EXTRAS," in *,benchmark,*)
  torch=$(run python -c 'import matplotlib, sklearn, torch
assert torch.version.cuda is None, torch.__version__
print(torch.__version__)') || fail "the benchmark extra is not importable, or torch is a CUDA build"
  run etl benchmark --help >/dev/null || fail "etl benchmark --help failed"
  say "benchmark extra: torch $torch (CPU), etl benchmark --help";;
esac

size=$(docker image inspect -f '{{.Size}}' "$IMAGE" | awk '{printf "%.0f MB", $1 / 1e6}')
[ "${KEEP:-0}" = 1 ] || rm -rf "$WORK"
echo "PASS docker smoke: $IMAGE ($size) on $BASE_IMAGE, extras '$EXTRAS', context $context," \
  "etl demo + etl run as $user (uid $uid): AT.h5 with $points points"
