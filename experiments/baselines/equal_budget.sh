#!/usr/bin/env bash
# Issue 13 parts 1-2: our staff reader ("all"), the CRNN-CTC baseline and the plain-ViT variants,
# each trained from scratch for the same CPU-time budget (--clock cpu) at one thread on the same staff shards,
# evaluated greedily on the same held-out real-music staves (Lieder dev split, never trained on).
# Run one variant per core; a concurrent job on the other core is the same for every variant.
#   bash experiments/baselines/equal_budget.sh TRAIN HELDOUT OUT [MINUTES] [VIT_MINUTES] [VARIANTS]
# e.g. bash experiments/baselines/equal_budget.sh data/staff_mix data/heldout/lieder_dev_staves runs/equal 20 12
# then: python experiments/learning_curves.py report --out OUT --png docs/img/equal_budget.png --md OUT/table.md
set -euo pipefail
train=${1:?TRAIN shards}; heldout=${2:?HELDOUT shards}; out=${3:?OUT folder}
minutes=${4:-20}; vit_minutes=${5:-12}; variants=${6:-"all crnn pos2d c16 c1 posnone"}
py=${PYTHON:-.venv/bin/python}
export OMP_NUM_THREADS=1
mkdir -p "$out"
common=(--train "$train" --heldout "$heldout" --eval-every 5 --heldout-batches 6 --batch 8 --threads 1 --out "$out")
for v in $variants; do
  case $v in
    all) "$py" experiments/learning_curves.py train --variant all --minutes "$minutes" "${common[@]}" ;;
    crnn) "$py" experiments/baselines/crnn_ctc.py --minutes "$minutes" "${common[@]}" ;;
    *) "$py" experiments/learning_curves.py train --variant "$v" --minutes "$vit_minutes" "${common[@]}" ;;
  esac > "$out/$v.log" 2>&1
done
