#!/bin/sh
# Issue 10's bits/dim table for the bundled model: the first 1000 Fashion-MNIST test images, 2 passes (fresh
# dequantization and Hutchinson noise each), score_sde's protocol at rtol = atol = 1e-5. About 3 hours of 2 CPU
# cores, so it runs in pieces: each run keeps every finished batch in <out>.partial.json (with a digest of the
# weights), and rerunning this script resumes. Commit the journals before a session ends.
#
# JOBS=n (n > 1) splits the run into 8 shards (--shard i/8, the seeds of one run) solved by n processes of one
# onnxruntime thread each, then merges them (`scoresde likelihood --merge`) into the same result file. One process
# keeps only ~1.6 of 2 cores busy (the ODE solver and the small ops are serial), so JOBS=2 is faster on 2 cores.
set -eu
cd "$(dirname "$0")/.."
DATA=$(scripts/fashion-mnist.sh)
# One result file per model version: v1's is bench/results/fashion-mnist-bpd-v1.json (OUT=… for another).
OUT=${OUT:-bench/results/fashion-mnist-bpd-v2.json}
run() {
  node --import tsx src/cli/main.ts likelihood --data "$DATA" --split test --count 1000 --repeats 2 \
    --batch-size 16 --seed 0 "$@"
}
if [ -f "$OUT" ]; then
  echo "likelihood-table.sh: $OUT is complete (delete it to run again)" >&2
  exit 0
fi
JOBS=${JOBS:-1}
if [ "$JOBS" -le 1 ]; then
  run --out "$OUT"
  exit
fi
SHARDS=8
part() { echo "${OUT%.json}.shard$1-of-$SHARDS.json"; }
for i in $(seq 0 $((SHARDS - 1))); do
  # A journal of the unsharded run starts each shard (a shard takes only the batches in its range).
  if [ -f "$OUT.partial.json" ] && [ ! -f "$(part "$i").partial.json" ] && [ ! -f "$(part "$i")" ]; then
    cp "$OUT.partial.json" "$(part "$i").partial.json"
  fi
done
export DATA SHARDS OUT
# xargs hands the next shard to whichever process is free; a shard whose result exists is done.
seq 0 $((SHARDS - 1)) | xargs -P "$JOBS" -I{} sh -c '
  f=${OUT%.json}.shard{}-of-$SHARDS.json
  [ -f "$f" ] && exit 0
  exec node --import tsx src/cli/main.ts likelihood --data "$DATA" --split test --count 1000 --repeats 2 \
    --batch-size 16 --seed 0 --quiet --threads 1 --shard {}/$SHARDS --out "$f"'
PARTS=$(for i in $(seq 0 $((SHARDS - 1))); do part "$i"; done)
# shellcheck disable=SC2086 # the part names have no spaces
node --import tsx src/cli/main.ts likelihood --merge $PARTS --out "$OUT"
# The merged file holds every batch of the parts; they and the unsharded journal are spent.
rm -f $PARTS "$OUT.partial.json"
