#!/usr/bin/env bash
# Trains the shipped SST-2 default with the project's own commands: a full-depth reference (3 epochs, word
# embeddings trained), then DACT-BERT started from the reference's encoder (one epoch, tau 0.1, per-layer
# loss 0.5), then the compact copy in assets/. About 90 minutes on a 2-core CPU. Then the controlled comparison:
# a multi-exit model from the same reference with the same one-epoch budget (static / DeeBERT / PABEE), and
# DACT-BERT's halting units trained on its frozen exits.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-../shared/data/sst2/train.tsv}
OUT=${OUT:-runs/sst2}
COMMON=(--data "$DATA" --label-names negative,positive --validation-fraction 0.05 --seed 42)
export HF_HUB_OFFLINE=1

[ -f "$OUT/reference-3ep/config.json" ] || dact train "${COMMON[@]}" --method reference --epochs 3 \
  --eval-steps 1000 --output-dir "$OUT/reference-3ep"
[ -f "$OUT/dact-fromref-tau0.1/config.json" ] || dact train "${COMMON[@]}" --backbone "$OUT/reference-3ep" \
  --reference-epochs 0 --freeze-word-embeddings --epochs 1 --eval-steps 500 --ponder-penalty 0.1 --layer-loss-weight 0.5 --halting-bias-init 2 \
  --output-dir "$OUT/dact-fromref-tau0.1"
dact export --model "$OUT/dact-fromref-tau0.1" --output-dir assets/models/dact-sst2 --no-shared-weights --overwrite
dact eval --data ../shared/data/sst2/dev.tsv --output-dir "$OUT/default-dev" --overwrite

[ -f "$OUT/multi-exit-fromref/config.json" ] || dact train "${COMMON[@]}" --backbone "$OUT/reference-3ep" \
  --reference-epochs 0 --method multi-exit --epochs 1 --output-dir "$OUT/multi-exit-fromref"
[ -f "$OUT/dact-on-exits/config.json" ] || dact train "${COMMON[@]}" --init-from "$OUT/multi-exit-fromref" \
  --output-dir "$OUT/dact-on-exits"
for TAU in 0.2 0.3 0.5; do  # more of the frozen-exits curve
  [ -f "$OUT/dact-on-exits-tau$TAU/config.json" ] || dact train "${COMMON[@]}" --init-from "$OUT/multi-exit-fromref" \
    --ponder-penalty "$TAU" --output-dir "$OUT/dact-on-exits-tau$TAU"
done

# the one command on this CPU (both stages; not shipped: 1.10 points below its reference on validation),
# its second stage with frozen word embeddings for comparison, and its bench
[ -f "$OUT/dact/config.json" ] || dact train "${COMMON[@]}" --output-dir "$OUT/dact"
[ -f "$OUT/dact-frozen-stage2/config.json" ] || dact train "${COMMON[@]}" --backbone "$OUT/dact/reference" \
  --reference-epochs 0 --freeze-word-embeddings --output-dir "$OUT/dact-frozen-stage2"
dact bench --data ../shared/data/sst2/dev.tsv --reference "$OUT/dact/reference" --dact "$OUT/dact" --quantize int8 \
  --title "SST-2 dev (872): the one-command DACT-BERT (CPU, seed 42) and int8" \
  --output-dir assets/results/bench-sst2-onecmd-cpu --overwrite
for RUN in dact dact/reference dact-frozen-stage2; do  # each stage's command and validation score, beside the bench
  mkdir -p "assets/results/bench-sst2-onecmd-cpu/training/$RUN"
  cp "$OUT/$RUN/training_config.json" "assets/results/bench-sst2-onecmd-cpu/training/$RUN/"
done
# a lower ponder penalty on the same reference, and the bench of both
[ -f "$OUT/dact-tau0.05/config.json" ] || dact train "${COMMON[@]}" --backbone "$OUT/dact/reference" \
  --reference-epochs 0 --ponder-penalty 0.05 --output-dir "$OUT/dact-tau0.05"
dact bench --data ../shared/data/sst2/dev.tsv --reference "$OUT/dact/reference" --dact "$OUT/dact" "$OUT/dact-tau0.05" \
  --title "SST-2 dev (872): the one-command DACT-BERT (CPU, seed 42) at tau 0.1 and tau 0.05 (second stage from the same reference)" \
  --output-dir assets/results/bench-sst2-onecmd-tau-cpu --overwrite
mkdir -p assets/results/bench-sst2-onecmd-tau-cpu/training/dact-tau0.05
cp "$OUT/dact-tau0.05/training_config.json" assets/results/bench-sst2-onecmd-tau-cpu/training/dact-tau0.05/
