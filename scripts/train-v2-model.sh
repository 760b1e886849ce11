#!/bin/sh
# The v2 run (issue 20): fine-tunes the v1 run's weights (runs/fashion-mnist, EMA of step 15,165) with the
# recipe the pilots chose (model card: "v2 pilots"), using `scoresde train` only. It spans sessions: a
# checkpoint every 250 steps into runs/fashion-mnist-v2/, and a rerun of this script continues it bit for bit.
#   scripts/train-v2-model.sh                       # start, or continue, towards STEPS
#   nohup scripts/train-v2-model.sh > runs/fashion-mnist-v2.out 2>&1 &   # in the background
set -eu
cd "$(dirname "$0")/.."
STEPS=${STEPS:-60000}
OUT=${OUT:-runs/fashion-mnist-v2}
DATA=$(scripts/fashion-mnist.sh)
# Output cadence is per invocation (a resumed run keeps its trajectory options, not these).
CADENCE="--checkpoint-every 250 --sample-every 2000 --sample-count 36 --diagnose-every 500"
if [ -f "$OUT/training_state/manifest.json" ]; then
  exec node --import tsx src/cli/main.ts train --out "$OUT" --resume --steps "$STEPS" $CADENCE "$@"
fi
exec node --import tsx src/cli/main.ts train \
  --init-from runs/fashion-mnist --data "$DATA" --out "$OUT" \
  --steps "$STEPS" --batch-size 32 --lr 2e-4 --warmup 50 --ema 0.999 --grad-clip 1 \
  --sigma-sampling "${SIGMA_SAMPLING:-0.4*log-uniform+0.6*log-normal:3,1}" \
  --reference-batch "${REFERENCE_BATCH:-1024}" --seed 2 $CADENCE "$@"
