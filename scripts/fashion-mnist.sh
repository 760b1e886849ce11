#!/bin/sh
# Prints the folder of the full Fashion-MNIST set (IDX .gz files: train-images-idx3-ubyte.gz, t10k-..., with labels),
# installing Debian's `dataset-fashion-mnist` (MIT licence, Zalando SE) with apt when it is missing (needs root).
# Usage: DATA=$(scripts/fashion-mnist.sh) && scoresde train --data "$DATA" ...
set -eu
DIR=/usr/share/datasets/fashion-mnist
if [ ! -f "$DIR/train-images-idx3-ubyte.gz" ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "fashion-mnist.sh: $DIR is missing; run as root (or: sudo apt-get install dataset-fashion-mnist)" >&2
    exit 1
  fi
  echo "fashion-mnist.sh: installing dataset-fashion-mnist with apt" >&2
  apt-get update >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y dataset-fashion-mnist >&2
fi
for f in train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz; do
  [ -f "$DIR/$f" ] || { echo "fashion-mnist.sh: $DIR/$f is missing after install" >&2; exit 1; }
done
echo "$DIR"
