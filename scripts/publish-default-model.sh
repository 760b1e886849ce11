#!/bin/sh
# Copies the EMA weights of a run (RUN, default runs/fashion-mnist; see train-default-model.sh) into the
# bundled pipeline folder models/fashion-mnist/ (model_index.json, unet/, scheduler/, and gaussian.safetensors
# fitted to the training images; the model card models/fashion-mnist/README.md is kept). Each file is written to a temp name and renamed into place.
set -eu
cd "$(dirname "$0")/.."
RUN=${RUN:-runs/fashion-mnist}
DEST=models/fashion-mnist
[ -f "$RUN/unet/config.json" ] || { echo "publish-default-model.sh: no checkpoint in $RUN" >&2; exit 1; }
mkdir -p "$DEST/unet" "$DEST/scheduler"
for f in model_index.json unet/config.json unet/diffusion_pytorch_model.safetensors scheduler/scheduler_config.json; do
  cp "$RUN/$f" "$DEST/$f.tmp" && mv "$DEST/$f.tmp" "$DEST/$f"
done
# The training data's Gaussian beside it (mean and covariance eigenpairs: the samplers' --gaussian-above).
node --import tsx tools/fit-gaussian.ts "$(scripts/fashion-mnist.sh)" "$DEST"
step=$(sed -n 's/.*"step": *\([0-9]*\).*/\1/p' "$RUN/training_state/manifest.json")
echo "published $RUN (step $step) to $DEST"
