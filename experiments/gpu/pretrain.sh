#!/usr/bin/env bash
# One GPU pre-training run, from the repository root:
#   experiments/gpu/pretrain.sh [pretrain.py options]        # e.g. --out "$OUT"; --smoke on a CPU
# Packages the machine lacks come from gpu_carry/wheels (experiments/gpu/fetch_wheels.sh), installed
# into a scratch site directory only when the import check fails, so a machine with them installed
# (the development machine, a user's own GPUs) uses its own.
set -uo pipefail
export PRETRAIN_STARTED=${PRETRAIN_STARTED:-$(date +%s.%N)}  # the script's deadlines count from here
PY=${PYTHON:-python3}
SITE=${PRETRAIN_SITE:-/tmp/pretrain-site}
CHECK="import verovio, pyvips, brotli, jsonargparse, torch, transformers, lightning, cv2, lxml"
export PYTHONUNBUFFERED=1
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
if ! "$PY" -c "$CHECK" 2>/dev/null; then
  if ! ls gpu_carry/wheels/*.whl >/dev/null 2>&1; then
    echo "pretrain.sh: packages missing and no wheels in gpu_carry/wheels (run experiments/gpu/fetch_wheels.sh)" >&2
    exit 2
  fi
  t0=$SECONDS
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$SITE" \
    gpu_carry/wheels/*.whl || { echo "pretrain.sh: installing the wheels failed" >&2; exit 2; }
  export PYTHONPATH="$PWD:$SITE${PYTHONPATH#"$PWD"}"
  "$PY" -c "$CHECK" || { echo "pretrain.sh: imports still fail after installing the wheels" >&2; exit 2; }
  echo "pretrain.sh: wheels installed into $SITE in $((SECONDS - t0)) s"
fi
exec "$PY" experiments/gpu/pretrain.py "$@"
