#!/bin/sh
# Reproduces the shipped default model (models/fashion-mnist/) with `scoresde train` only.
# The run spans several sessions: it checkpoints every 250 steps into runs/fashion-mnist/ (a diffusers pipeline
# folder with training_state/), and a rerun of this script continues it bit for bit with --resume.
#   scripts/train-default-model.sh              # start, or continue, towards STEPS
#   scripts/publish-default-model.sh            # copy the EMA weights into models/fashion-mnist/
# The same recipe with another σ_max, as its own run (the candidate for the next model; see the model card):
#   SIGMA_MAX=20 OUT=runs/fashion-mnist-sigma20 scripts/train-default-model.sh
set -eu
cd "$(dirname "$0")/.."
STEPS=${STEPS:-30000}
SIGMA_MAX=${SIGMA_MAX:-50}
OUT=${OUT:-runs/fashion-mnist}
DATA=$(scripts/fashion-mnist.sh)
# Output cadence is per invocation (a resumed run keeps its trajectory options, not these).
CADENCE="--checkpoint-every 250 --sample-every 1000 --sample-count 36"
if [ -f "$OUT/training_state/manifest.json" ]; then
  exec node --import tsx src/cli/main.ts train --out "$OUT" --resume --steps "$STEPS" $CADENCE "$@"
fi
# Config: scripts/fashion-mnist-unet.json (1×28×28, fourier σ embedding, 1.1M parameters; see the model card).
exec node --import tsx src/cli/main.ts train \
  --config scripts/fashion-mnist-unet.json --data "$DATA" --out "$OUT" \
  --steps "$STEPS" --batch-size 64 --lr 5e-4 --warmup 200 --ema 0.999 --grad-clip 1 \
  --sigma-min 0.01 --sigma-max "$SIGMA_MAX" --seed 0 $CADENCE "$@"
