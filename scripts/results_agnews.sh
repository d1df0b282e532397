#!/usr/bin/env bash
# The AG News comparison (assets/results/agnews-early-exit and assets/results/agnews-token-methods): every method
# trained by `dact train` from the packaged MiniLM on the 10k training sample, then measured by `dact bench` on the
# whole test set.
#
#   reference     a plain full-depth classifier, 3 epochs (the others start from its encoder)
#   DACT-BERT     one epoch from the reference's encoder (the second stage of the one command), tau 0.07
#   multi-exit    one epoch from the same encoder: static, DeeBERT and PABEE exits at every setting
#   AdapLeR       two epochs from the reference (phi 0.002)
#   token gates   one epoch from the reference (lambda 0.003, mu 0.001)
#
# Early exits run on ONNX Runtime (the engine a CPU user deploys); the token-dropping methods run on PyTorch only,
# so their comparison is a second bench on PyTorch with the same reference and DACT-BERT beside them.
# Run on a quiet machine: training and timing both want the cores. Models go to $OUT (default runs/agnews-results).
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-../shared/data/agnews/train.tsv}
TEST=${TEST:-../shared/data/agnews/test.tsv}
OUT=${OUT:-runs/agnews-results}
COMMON=(--data "$DATA" --label-names World,Sports,Business,Sci/Tech --validation-fraction 0.05 --seed 42
  --freeze-word-embeddings --eval-steps 0)
export HF_HUB_OFFLINE=1

[ -f "$OUT/reference/config.json" ] || dact train "${COMMON[@]}" --method reference --epochs 3 \
  --output-dir "$OUT/reference"
[ -f "$OUT/dact/config.json" ] || dact train "${COMMON[@]}" --backbone "$OUT/reference" --reference-epochs 0 \
  --epochs 1 --output-dir "$OUT/dact"
[ -f "$OUT/multi-exit/config.json" ] || dact train "${COMMON[@]}" --method multi-exit --backbone "$OUT/reference" \
  --epochs 1 --output-dir "$OUT/multi-exit"
[ -f "$OUT/adapler/config.json" ] || dact train "${COMMON[@]}" --method adapler --init-from "$OUT/reference" \
  --epochs 2 --kl-weight 0.1 --length-weight 0.002 --knob-learning-rate 0.002 --output-dir "$OUT/adapler"
[ -f "$OUT/token-gates/config.json" ] || dact train "${COMMON[@]}" --method token-gates --init-from "$OUT/reference" \
  --epochs 1 --gate-sparsity 0.003 --gate-bimodal 0.001 --knob-learning-rate 0.05 --output-dir "$OUT/token-gates"

dact bench --data "$TEST" --reference "$OUT/reference" --dact "$OUT/dact" --multi-exit "$OUT/multi-exit" \
  --threads 2 --latency-examples 400 --throughput-examples 800 \
  --title "AG News test: DACT-BERT against static, DeeBERT and PABEE exits (ONNX Runtime)" \
  --output-dir assets/results/agnews-early-exit --overwrite
dact bench --data "$TEST" --reference "$OUT/reference" --dact "$OUT/dact" \
  --token-methods "$OUT/adapler" "$OUT/token-gates" --threads 2 --latency-examples 400 --throughput-examples 800 \
  --title "AG News test: DACT-BERT against AdapLeR and token gates (PyTorch)" \
  --output-dir assets/results/agnews-token-methods --overwrite
