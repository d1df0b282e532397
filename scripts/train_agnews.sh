#!/usr/bin/env bash
# Trains the AG News models behind assets/results/bench-agnews with the project's own commands:
# a full-depth reference, then the token-reduction methods started from it (AdapLeR at several
# length penalties phi, trainable token gates at several sparsity weights lambda), DACT-BERT at
# several ponder penalties tau, and the multi-exit early-exit model from the backbone.
# About 3 minutes per epoch on a 2-core CPU. Then: dact bench (see README).
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-../shared/data/agnews/train.tsv}
OUT=${OUT:-runs/agnews}
PHIS=${PHIS:-"0.005 0.01 0.02 0.05"}
LAMBDAS=${LAMBDAS:-"0.001 0.003 0.01"}
TAUS=${TAUS:-"0.01 0.05 0.1"}
COMMON=(--data "$DATA" --label-names World,Sports,Business,Sci/Tech --validation-fraction 0.05 --seed 42)
export HF_HUB_OFFLINE=1 OMP_NUM_THREADS=${THREADS:-2}

[ -f "$OUT/reference/config.json" ] || dact train "${COMMON[@]}" --method reference --epochs 1 \
  --output-dir "$OUT/reference"
for lambda in $LAMBDAS; do
  [ -f "$OUT/token-gates-lambda$lambda/config.json" ] || dact train "${COMMON[@]}" --method token-gates \
    --init-from "$OUT/reference" --epochs 1 --gate-sparsity "$lambda" --gate-bimodal 0.01 --knob-learning-rate 0.05 \
    --output-dir "$OUT/token-gates-lambda$lambda"
done
for tau in $TAUS; do
  [ -f "$OUT/dact-tau$tau/config.json" ] || dact train "${COMMON[@]}" --epochs 1 --ponder-penalty "$tau" \
    --layer-loss-weight 0.5 --output-dir "$OUT/dact-tau$tau"
done
for phi in $PHIS; do
  [ -f "$OUT/adapler-phi$phi/config.json" ] || dact train "${COMMON[@]}" --method adapler \
    --init-from "$OUT/reference" --epochs 2 --kl-weight 0.1 --length-weight "$phi" --output-dir "$OUT/adapler-phi$phi"
done
[ -f "$OUT/multi-exit/config.json" ] || dact train "${COMMON[@]}" --method multi-exit --epochs 1 \
  --output-dir "$OUT/multi-exit"
