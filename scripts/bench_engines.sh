#!/usr/bin/env bash
# The engine benchmarks: the shipped DACT-BERT on ONNX Runtime (float32 and int8) against the full-depth model of the
# same size on the same engine and precision, and against eager PyTorch, on all of SST-2 dev at batch 1 and in
# batches of 32 (assets/results/bench-sst2-onnx); then the guarantee on the engine for every precision on SST-2 dev
# and AG News test (the AG News model is trained first: one epoch from the packaged backbone). Run on a quiet machine:
# the timer interleaves, but two processes still share the cores.
set -euo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1
OUT=${OUT:-runs}
dact bench --data ../shared/data/sst2/dev.tsv --dact assets/models/dact-sst2 --quantize int8 --threads 2 \
  --latency-examples 872 --throughput-examples 872 --title "SST-2 dev: DACT-BERT on ONNX Runtime" \
  --output-dir assets/results/bench-sst2-onnx --overwrite
dact eval --data ../shared/data/sst2/dev.tsv --threads 2 --compare-torch
dact eval --data ../shared/data/sst2/dev.tsv --threads 2 --quantize int8  # halted == its own full depth; int8 == float
[ -f "$OUT/agnews-dact/config.json" ] || dact train --data ../shared/data/agnews/train.tsv \
  --label-names World,Sports,Business,Sci/Tech --validation-fraction 0.05 --seed 42 --freeze-word-embeddings \
  --eval-steps 0 --reference-epochs 0 --epochs 1 --output-dir "$OUT/agnews-dact"
dact eval --model "$OUT/agnews-dact" --data ../shared/data/agnews/test.tsv --threads 2 --compare-torch
dact eval --model "$OUT/agnews-dact" --data ../shared/data/agnews/test.tsv --threads 2 --quantize int8
