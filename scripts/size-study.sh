#!/bin/sh
# Size study for the bundled model (issue: "try a few sizes briefly, pick by quality per hour").
# Trains each config with exactly the default model's recipe (scripts/train-default-model.sh: same seed, so the
# same batches, σ and noise draws) for MINUTES of wall-clock time on a quiet machine, then stops it with SIGINT
# (the trainer checkpoints and exits). Compare the runs with tools/size-study-report.ts, which also reads the
# default run's own log (runs/fashion-mnist) for the [32, 64, 64] config.
#   MINUTES=15 scripts/size-study.sh [small large]
set -eu
cd "$(dirname "$0")/.."
MINUTES=${MINUTES:-15}
DATA=$(scripts/fashion-mnist.sh)
NAMES=${*:-small large}
for name in $NAMES; do
  out=runs/size-study/$name
  rm -rf "$out"
  echo "size-study: $name for $MINUTES min -> $out" >&2
  timeout -s INT "$((MINUTES * 60))" node --import tsx src/cli/main.ts train -q \
    --config "scripts/size-study/$name.json" --data "$DATA" --out "$out" \
    --steps 100000 --batch-size 64 --lr 5e-4 --warmup 200 --ema 0.999 --grad-clip 1 \
    --sigma-min 0.01 --sigma-max 50 --seed 0 --checkpoint-every 100000 --sample-every 100000 || true
done
