#!/usr/bin/env bash
# Writes the model card (README.md, Hugging Face format) of each shipped model from a fresh `dact eval` of it, so that
# every number in a card is one that this evaluation measured, with its command beside it: the SST-2 default on SST-2
# dev, the AG News token-reduction models on all of AG News test. The evaluations go to $OUT (not committed); each
# card is written in place by `dact export --card-only`, which leaves the weights and the hand-written NOTES.md as
# they are.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-runs/cards}
THREADS=${THREADS:-2}
export HF_HUB_OFFLINE=1

dact eval --model assets/models/dact-sst2 --data ../shared/data/sst2/dev.tsv --threads "$THREADS" \
  --output-dir "$OUT/dact-sst2-dev" --overwrite
# the shipped file was exported from runs/sst2/dact-tau0.07 (scripts/train_sst2_default.sh); that run's training
# record ships in the model's training/ folder (not beside the weights, where `dact bench` would read its seed)
dact export --model assets/models/dact-sst2 --card-only --eval-dir "$OUT/dact-sst2-dev" \
  --training-config assets/models/dact-sst2/training/training_config.json

# the AG News models' training records were not kept: their cards link NOTES.md, which gives the commands
for MODEL in adapler-agnews token-gates-agnews; do
  dact eval --model "assets/models/$MODEL" --data ../shared/data/agnews/test.tsv --threads "$THREADS" \
    --output-dir "$OUT/$MODEL-test" --overwrite
  dact export --model "assets/models/$MODEL" --card-only --eval-dir "$OUT/$MODEL-test"
done
