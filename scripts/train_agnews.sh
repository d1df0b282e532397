#!/usr/bin/env bash
# Trains the AG News models behind assets/results/bench-agnews with the project's own commands:
# a full-depth reference, then the token-reduction methods started from it (AdapLeR, trainable
# token gates), plus DACT-BERT and the multi-exit early-exit model from the backbone.
# Then: dact bench (see README). THREADS=1 lets it share a 2-core machine with another run.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-../shared/data/agnews/train.tsv}
OUT=${OUT:-runs/agnews}
COMMON=(--data "$DATA" --label-names World,Sports,Business,Sci/Tech --validation-fraction 0.05 --seed 42)
export HF_HUB_OFFLINE=1 OMP_NUM_THREADS=${THREADS:-2}

[ -f "$OUT/reference/config.json" ] || dact train "${COMMON[@]}" --method reference --epochs 1 \
  --output-dir "$OUT/reference"
[ -f "$OUT/adapler/config.json" ] || dact train "${COMMON[@]}" --method adapler --init-from "$OUT/reference" \
  --epochs 2 --kl-weight 0.1 --length-weight 0.05 --output-dir "$OUT/adapler"
[ -f "$OUT/token-gates/config.json" ] || dact train "${COMMON[@]}" --method token-gates \
  --init-from "$OUT/reference" --epochs 1 --gate-sparsity 0.01 --gate-bimodal 0.01 --knob-learning-rate 0.05 \
  --output-dir "$OUT/token-gates"
[ -f "$OUT/dact/config.json" ] || dact train "${COMMON[@]}" --epochs 1 --ponder-penalty 0.05 \
  --layer-loss-weight 0.5 --output-dir "$OUT/dact"
[ -f "$OUT/multi-exit/config.json" ] || dact train "${COMMON[@]}" --method multi-exit --epochs 1 \
  --output-dir "$OUT/multi-exit"
