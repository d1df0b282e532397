#!/usr/bin/env bash
# The AG News models, each trained with `dact train`:
#   * the shipped token-reduction models' candidates: token gates at several sparsity / bi-modal weights lambda:mu
#     from a one-epoch full-depth reference, and AdapLeR at several length penalties phi from the one command's
#     reference; `python scripts/ship_agnews.py --ship` then picks one of each on the validation slice and exports
#     it to assets/models/adapler-agnews and assets/models/token-gates-agnews, and scripts/model_cards.sh writes
#     their model cards;
#   * the models they are measured against in assets/results/bench-agnews*: the one command at tau 0.1 (three
#     seeds) and its second stage at tau 0.07 and 0.05, DACT-BERT from the backbone at several tau, the multi-exit
#     model, and AdapLeR with fixed thresholds, also dropping tokens before layers 1 to 3 only.
# The benches: `dact bench` over these folders (README, "Other methods and the benchmark").
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-../shared/data/agnews/train.tsv}
OUT=${OUT:-runs/agnews}
PHIS=${PHIS:-"0.002 0.005"}
GATES=${GATES:-"0.002:0.001 0.003:0.001 0.005:0.001 0.01:0.01"}  # lambda:mu
TAUS=${TAUS:-"0.01 0.05 0.1"}
COMMON=(--data "$DATA" --label-names World,Sports,Business,Sci/Tech --validation-fraction 0.05 --seed 42
  --freeze-word-embeddings --eval-steps 0)  # the settings these models were trained with (eval once per epoch)
export HF_HUB_OFFLINE=1 OMP_NUM_THREADS=${THREADS:-2}

# the one command at tau 0.1: a 3-epoch full-depth reference (dact/reference), then DACT-BERT from its encoder
# (per-layer loss 0.5, one epoch); assets/results/bench-agnews-default
[ -f "$OUT/dact/config.json" ] || dact train --data "$DATA" --label-names World,Sports,Business,Sci/Tech \
  --validation-fraction 0.05 --seed 42 --ponder-penalty 0.1 --output-dir "$OUT/dact"
for seed in 43 44; do  # two more seeds of the same command (the bench reports mean and spread)
  [ -f "$OUT/dact-seed$seed/config.json" ] || dact train --data "$DATA" --label-names World,Sports,Business,Sci/Tech \
    --validation-fraction 0.05 --seed "$seed" --ponder-penalty 0.1 --output-dir "$OUT/dact-seed$seed"
done
# the default tau 0.07 as the second stage of each seed's one command, from that seed's reference
# (assets/results/bench-agnews-tau-cpu, bench-agnews-tau007-seeds)
[ -f "$OUT/dact-tau0.07/config.json" ] || dact train --data "$DATA" --label-names World,Sports,Business,Sci/Tech \
  --validation-fraction 0.05 --seed 42 --backbone "$OUT/dact/reference" --reference-epochs 0 --output-dir "$OUT/dact-tau0.07"
# tau 0.05, the same second stage (assets/results/bench-agnews-speed-int8)
[ -f "$OUT/dact-tau0.05/config.json" ] || dact train --data "$DATA" --label-names World,Sports,Business,Sci/Tech \
  --validation-fraction 0.05 --seed 42 --backbone "$OUT/dact/reference" --reference-epochs 0 --ponder-penalty 0.05 \
  --output-dir "$OUT/dact-tau0.05"
for seed in 43 44; do
  [ -f "$OUT/dact-seed$seed-tau0.07/config.json" ] || dact train --data "$DATA" \
    --label-names World,Sports,Business,Sci/Tech --validation-fraction 0.05 --seed "$seed" \
    --backbone "$OUT/dact-seed$seed/reference" --reference-epochs 0 --output-dir "$OUT/dact-seed$seed-tau0.07"
done
# a one-epoch reference and the models started from it or from the backbone (assets/results/bench-agnews); the
# shipped token gates come from here
[ -f "$OUT/reference/config.json" ] || dact train "${COMMON[@]}" --method reference --epochs 1 \
  --output-dir "$OUT/reference"
for pair in $GATES; do
  lambda=${pair%%:*} mu=${pair##*:}
  [ -f "$OUT/token-gates-lambda$lambda-mu$mu/config.json" ] || dact train "${COMMON[@]}" --method token-gates \
    --init-from "$OUT/reference" --epochs 1 --gate-sparsity "$lambda" --gate-bimodal "$mu" --knob-learning-rate 0.05 \
    --output-dir "$OUT/token-gates-lambda$lambda-mu$mu"
done
for tau in $TAUS; do
  [ -f "$OUT/dact-tau$tau/config.json" ] || dact train "${COMMON[@]}" --epochs 1 --ponder-penalty "$tau" \
    --reference-epochs 0 --layer-loss-weight 0.5 --output-dir "$OUT/dact-tau$tau"
done
for phi in $PHIS; do
  [ -f "$OUT/adapler-phi$phi/config.json" ] || dact train "${COMMON[@]}" --method adapler \
    --init-from "$OUT/reference" --epochs 2 --kl-weight 0.1 --length-weight "$phi" --knob-learning-rate 0.002 \
    --output-dir "$OUT/adapler-phi$phi"
done
[ -f "$OUT/multi-exit/config.json" ] || dact train "${COMMON[@]}" --method multi-exit --epochs 1 \
  --output-dir "$OUT/multi-exit"
# AdapLeR from the one command's 3-epoch reference (dact/reference) instead of the 1-epoch one above, with the same
# settings, 2 epochs at phi 0.002 and 0.0005 and 4 and 6 epochs at phi 0.002 (assets/results/bench-agnews-adapler)
for run in 0.002:2 0.0005:2 0.002:4 0.002:6; do
  phi=${run%%:*} epochs=${run##*:}
  name=adapler-fromref-phi$phi$([ "$epochs" = 2 ] || echo "-${epochs}ep")
  [ -f "$OUT/$name/config.json" ] || dact train "${COMMON[@]}" --method adapler --init-from "$OUT/dact/reference" \
    --epochs "$epochs" --kl-weight 0.1 --length-weight "$phi" --knob-learning-rate 0.002 --output-dir "$OUT/$name"
done
# the same 4 epochs with the thresholds fixed (not learned: --knob-learning-rate 0) at eta 0.3, which keeps more tokens
# than the learned thresholds do, and at 0.4, 0.45 and 0.5 (assets/results/bench-agnews-adapler-eta, -eta045, -int8)
for eta in 0.3 0.4 0.45 0.5; do
  [ -f "$OUT/adapler-fromref-eta$eta-fixed-4ep/config.json" ] || dact train "${COMMON[@]}" --method adapler \
    --init-from "$OUT/dact/reference" --epochs 4 --kl-weight 0.1 --length-weight 0.002 --knob-learning-rate 0 \
    --eta-init "$eta" --output-dir "$OUT/adapler-fromref-eta$eta-fixed-4ep"
done
# tokens dropped only before layers 1 to 3 (--removal-layers): with fixed thresholds the later layers drop almost
# nothing, and no predictor runs before them (assets/results/bench-agnews-adapler-layers)
for eta in 0.4 0.45; do
  [ -f "$OUT/adapler-fromref-eta$eta-fixed-4ep-layers123/config.json" ] || dact train "${COMMON[@]}" --method adapler \
    --init-from "$OUT/dact/reference" --epochs 4 --kl-weight 0.1 --length-weight 0.002 --knob-learning-rate 0 \
    --eta-init "$eta" --removal-layers 1,2,3 --output-dir "$OUT/adapler-fromref-eta$eta-fixed-4ep-layers123"
done
# two more seeds of the eta 0.4 model, from the same reference
for seed in 43 44; do
  [ -f "$OUT/adapler-fromref-eta0.4-fixed-4ep-seed$seed/config.json" ] || dact train --data "$DATA" \
    --label-names World,Sports,Business,Sci/Tech --validation-fraction 0.05 --seed "$seed" --freeze-word-embeddings \
    --eval-steps 0 --method adapler --init-from "$OUT/dact/reference" --epochs 4 --kl-weight 0.1 --length-weight 0.002 \
    --knob-learning-rate 0 --eta-init 0.4 --output-dir "$OUT/adapler-fromref-eta0.4-fixed-4ep-seed$seed"
done
