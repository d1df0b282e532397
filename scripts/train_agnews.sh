#!/usr/bin/env bash
# The shipped AG News token-reduction models, each trained with `dact train` on the 10k training sample and exported
# with `dact export` (then scripts/model_cards.sh writes their cards from a test-set evaluation):
#   assets/models/token-gates-agnews  token gates (lambda 0.01, mu 0.01), one epoch from a one-epoch reference
#   assets/models/adapler-agnews      AdapLeR (phi 0.002), four epochs from the reference stage of the one command
# Both were chosen among other settings on the held-out validation slice: the fewest token-layers within 1 point of
# their reference's validation accuracy (assets/models/*/NOTES.md).
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-../shared/data/agnews/train.tsv}
OUT=${OUT:-runs/agnews}
LABELS=(--label-names World,Sports,Business,Sci/Tech --validation-fraction 0.05 --seed 42)
COMMON=(--data "$DATA" "${LABELS[@]}" --freeze-word-embeddings --eval-steps 0)
export HF_HUB_OFFLINE=1

[ -f "$OUT/reference/config.json" ] || dact train "${COMMON[@]}" --method reference --epochs 1 \
  --output-dir "$OUT/reference"
[ -f "$OUT/token-gates/config.json" ] || dact train "${COMMON[@]}" --method token-gates --init-from "$OUT/reference" \
  --epochs 1 --gate-sparsity 0.01 --gate-bimodal 0.01 --knob-learning-rate 0.05 --output-dir "$OUT/token-gates"
dact export --model "$OUT/token-gates" --output-dir assets/models/token-gates-agnews --overwrite

# the one command at tau 0.1: its first stage is a 3-epoch full-depth reference (word embeddings trained)
[ -f "$OUT/dact/config.json" ] || dact train --data "$DATA" "${LABELS[@]}" --ponder-penalty 0.1 --output-dir "$OUT/dact"
[ -f "$OUT/adapler/config.json" ] || dact train "${COMMON[@]}" --method adapler --init-from "$OUT/dact/reference" \
  --epochs 4 --kl-weight 0.1 --length-weight 0.002 --knob-learning-rate 0.002 --output-dir "$OUT/adapler"
dact export --model "$OUT/adapler" --output-dir assets/models/adapler-agnews --overwrite
