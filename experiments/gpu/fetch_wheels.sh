#!/usr/bin/env bash
# Download the packages the GPU machine lacks (it has torch, transformers, Lightning, numpy, lxml,
# pillow, opencv, fonttools, timm, but no network) as cp312 manylinux x86_64 wheels into wheels/
# (ignored by git), to travel with the working tree. pretrain.sh installs them there.
#   experiments/gpu/fetch_wheels.sh [PYTHON]     # run on the development machine, from the repo root
set -euo pipefail
PY=${1:-/work/main/.venv/bin/python}
DEST=gpu_carry/wheels
# Pinned to the versions the project is tested with (requirements/lock.txt); --no-deps fetches no
# dependency, so each one the machine lacks is named: cffi + pycparser (pyvips), docstring-parser
# + typeshed-client (jsonargparse[signatures], for omrformer-train's LightningCLI).
PKGS=(verovio==6.4.1 pyvips-binary==8.18.7 cffi==2.1.1 pycparser==3.12 brotli==1.2.1
      jsonargparse==4.53.0 docstring-parser==0.18.0 typeshed-client==2.15.0)
# pyvips 3 publishes only an sdist (pure Python, cffi ABI mode over pyvips-binary's libvips):
# build its py3-none-any wheel here.
PURE=(pyvips==3.2.0)
mkdir -p "$DEST"
for p in "${PURE[@]}"; do
  "$PY" -m pip wheel -q --no-deps -w "$DEST" "$p"
done
for p in "${PKGS[@]}"; do
  "$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 --platform manylinux1_x86_64 -d "$DEST" "$p"
done
# The CC0 Lieder training scores (experiments/gpu/staff_gpu.yaml): ../shared does not travel.
CORPUS=${CORPUS:-../shared/corpus/lieder/train}
if [[ -d "$CORPUS" ]]; then
  rm -rf gpu_carry/corpus/lieder_train && mkdir -p gpu_carry/corpus && cp -r "$CORPUS" gpu_carry/corpus/lieder_train
else
  echo "fetch_wheels: $CORPUS not found: the GPU run then needs --source random" >&2
fi
total=$(du -cb "$DEST"/*.whl | tail -1 | cut -f1)
echo "wheels: $(ls "$DEST"/*.whl | wc -l) files, $((total / 1024 / 1024)) MiB in $DEST/"
total=$(du -cb gpu_carry | tail -1 | cut -f1)
echo "gpu_carry: $((total / 1024 / 1024)) MiB in all"
if (( total > 48 * 1024 * 1024 )); then  # the repository itself travels in the same 64 MiB
  echo "fetch_wheels: gpu_carry/ is over 48 MiB (the working tree may carry 64 MiB in all)" >&2
  exit 1
fi
