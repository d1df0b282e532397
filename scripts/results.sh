#!/usr/bin/env bash
# The main comparison on one task (assets/results/TASK-early-exit and assets/results/TASK-token-methods), where TASK
# is agnews (the 10k training sample, measured on the test set) or sst2 (the whole training set, measured on dev).
# Every method is trained by `dact train` from the packaged MiniLM, then measured by `dact bench`:
#
#   reference     a plain full-depth classifier, 3 epochs (the others start from its encoder)
#   DACT-BERT     one epoch from the reference's encoder (the second stage of the one command), tau 0.07
#   multi-exit    one epoch from the same encoder: static, DeeBERT and PABEE exits at every setting
#   AdapLeR       from the reference (phi 0.002): two epochs of the AG News sample, one of SST-2's 67k rows
#   token gates   one epoch from the reference (lambda 0.003, mu 0.001)
#
# Early exits run on ONNX Runtime (the engine a CPU user deploys); the token-dropping methods run on PyTorch only,
# so their comparison is a second bench on PyTorch with the same reference and DACT-BERT beside them.
# Run on a quiet machine: training and timing both want the cores. Models go to $OUT (default runs/TASK-results).
#
#   bash scripts/results.sh agnews
#   bash scripts/results.sh sst2
set -euo pipefail
cd "$(dirname "$0")/.."
TASK=${1:?usage: bash scripts/results.sh agnews|sst2}
case "$TASK" in
  agnews) DATA=../shared/data/agnews/train.tsv TEST=../shared/data/agnews/test.tsv
    LABELS=World,Sports,Business,Sci/Tech ADAPLER_EPOCHS=2 SPLIT="AG News test" LATENCY=400 THROUGHPUT=800 ;;
  sst2) DATA=../shared/data/sst2/train.tsv TEST=../shared/data/sst2/dev.tsv
    LABELS=negative,positive ADAPLER_EPOCHS=1 SPLIT="SST-2 dev" LATENCY=872 THROUGHPUT=872 ;;
  *) echo "unknown task '$TASK': use agnews or sst2" >&2; exit 2 ;;
esac
OUT=${OUT:-runs/$TASK-results}
COMMON=(--data "$DATA" --label-names "$LABELS" --validation-fraction 0.05 --seed 42
  --freeze-word-embeddings --eval-steps 0)
export HF_HUB_OFFLINE=1

[ -f "$OUT/reference/config.json" ] || dact train "${COMMON[@]}" --method reference --epochs 3 \
  --output-dir "$OUT/reference"
[ -f "$OUT/dact/config.json" ] || dact train "${COMMON[@]}" --backbone "$OUT/reference" --reference-epochs 0 \
  --epochs 1 --output-dir "$OUT/dact"
[ -f "$OUT/multi-exit/config.json" ] || dact train "${COMMON[@]}" --method multi-exit --backbone "$OUT/reference" \
  --epochs 1 --output-dir "$OUT/multi-exit"
[ -f "$OUT/adapler/config.json" ] || dact train "${COMMON[@]}" --method adapler --init-from "$OUT/reference" \
  --epochs "$ADAPLER_EPOCHS" --kl-weight 0.1 --length-weight 0.002 --knob-learning-rate 0.002 --output-dir "$OUT/adapler"
[ -f "$OUT/token-gates/config.json" ] || dact train "${COMMON[@]}" --method token-gates --init-from "$OUT/reference" \
  --epochs 1 --gate-sparsity 0.003 --gate-bimodal 0.001 --knob-learning-rate 0.05 --output-dir "$OUT/token-gates"

dact bench --data "$TEST" --reference "$OUT/reference" --dact "$OUT/dact" --multi-exit "$OUT/multi-exit" \
  --threads 2 --latency-examples "$LATENCY" --throughput-examples "$THROUGHPUT" \
  --title "$SPLIT: DACT-BERT against static, DeeBERT and PABEE exits (ONNX Runtime)" \
  --output-dir "assets/results/$TASK-early-exit" --overwrite
dact bench --data "$TEST" --reference "$OUT/reference" --dact "$OUT/dact" \
  --token-methods "$OUT/adapler" "$OUT/token-gates" --threads 2 --latency-examples "$LATENCY" \
  --throughput-examples "$THROUGHPUT" --title "$SPLIT: DACT-BERT against AdapLeR and token gates (PyTorch)" \
  --output-dir "assets/results/$TASK-token-methods" --overwrite
