#!/bin/sh
# Issue 10's bits/dim table for the bundled model: the first 1000 Fashion-MNIST test images, 2 passes (fresh
# dequantization and Hutchinson noise each), score_sde's protocol at rtol = atol = 1e-5. About 3 hours of 2 CPU
# cores, so it runs in pieces: bench/results/fashion-mnist-bpd.json.partial.json keeps every finished batch (with a
# digest of the weights), and rerunning this script resumes. Commit the journal before a session ends.
# Extra arguments pass through, e.g. --shard 0/2 with another --out, then `scoresde likelihood --merge`.
set -eu
cd "$(dirname "$0")/.."
DATA=$(scripts/fashion-mnist.sh)
exec node --import tsx src/cli/main.ts likelihood --data "$DATA" --split test --count 1000 --repeats 2 \
  --batch-size 16 --seed 0 --out bench/results/fashion-mnist-bpd.json "$@"
