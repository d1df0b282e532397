#!/usr/bin/env bash
# The SST-2 models of assets/results/sst2_sweep.json and assets/results/bench-sst2, each trained with `dact train`:
# DACT-BERT (one epoch with a per-layer auxiliary loss, then a short run per ponder penalty started
# from it) and a plain full-depth reference classifier with the same total budget.
# Then: python scripts/sst2_sweep.py, and scripts/train_sst2_multi_exit.sh for the bench's multi-exit model.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-../shared/data/sst2/train.tsv}
OUT=${OUT:-runs/sst2}
TAUS=${TAUS:-"0.005 0.02 0.05 0.1 0.13 0.16 0.2"}
COMMON=(--data "$DATA" --label-names negative,positive --validation-fraction 0.05 --seed 42 --freeze-word-embeddings)
export HF_HUB_OFFLINE=1

[ -f "$OUT/dact-base/config.json" ] || dact train "${COMMON[@]}" --epochs 1 --eval-steps 500 --reference-epochs 0 \
  --ponder-penalty 0.01 --layer-loss-weight 0.5 --halting-bias-init 2 --output-dir "$OUT/dact-base"
for tau in $TAUS; do
  [ -f "$OUT/dact-tau$tau/config.json" ] || dact train "${COMMON[@]}" --init-from "$OUT/dact-base" \
    --epochs 0.3 --eval-steps 0 --ponder-penalty "$tau" --layer-loss-weight 0.5 --output-dir "$OUT/dact-tau$tau"
done
[ -f "$OUT/reference/config.json" ] || dact train "${COMMON[@]}" --method reference --epochs 1.3 \
  --eval-steps 500 --output-dir "$OUT/reference"
