#!/bin/bash
# Run ON THE GPU MACHINE from the repository root (PyTorch is there; nothing is built):
#   device run, command: bash scripts/train-dit/device-train.sh [SECONDS [train.py flags: --init .train/w1.npz,
#   --arch '{"depth": 4, "hidden": 192}' --seed 1 for a third model]]
# It ran at ~45 ms a step at batch 1024 on an H200, far above what 2.5 M parameters x 64 tokens x 1024 cost in
# arithmetic (about 1 TFLOP a step); where that time goes was not measured. TRAIN_BATCH sets the batch.
# Writes weights.npz, config.json, train.log, preview.png to $OUT (four files: the device returns at most eight).
set -u
OUT=${OUT:-/tmp/dit-shapes-train}
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,memory.used,clocks.sm --format=csv,noheader
PYTHONUNBUFFERED=1 python3 scripts/train-dit/train.py --out "$OUT" --seconds "${1:-210}" --batch "${TRAIN_BATCH:-1024}" "${@:2}"
