#!/usr/bin/env bash
# The multi-exit early-exit model (static / DeeBERT / PABEE) of assets/results/bench-sst2, with the same data,
# split and budget as the DACT-BERT models of scripts/train_sst2_sweep.sh (1.3 epochs).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-runs/sst2}
export HF_HUB_OFFLINE=1
[ -f "$OUT/multi-exit/config.json" ] || dact train --data "${DATA:-../shared/data/sst2/train.tsv}" \
  --label-names negative,positive --validation-fraction 0.05 --seed 42 --method multi-exit --epochs 1.3 \
  --eval-steps 500 --freeze-word-embeddings --output-dir "$OUT/multi-exit"
