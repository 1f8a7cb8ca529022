#!/bin/bash
# Run ON THE GPU MACHINE from the repository root (PyTorch is there; nothing is built):
#   device run, command: bash scripts/train-dit/device-train.sh [SECONDS [train.py flags, e.g. --init .train/w1.npz]]
# Writes weights.npz, config.json, train.log, preview.png to $OUT (four files: the device returns at most eight).
set -u
OUT=${OUT:-/tmp/dit-shapes-train}
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,memory.used,clocks.sm --format=csv,noheader
PYTHONUNBUFFERED=1 python3 scripts/train-dit/train.py --out "$OUT" --seconds "${1:-210}" --batch 1024 "${@:2}"
