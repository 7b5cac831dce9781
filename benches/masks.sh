#!/usr/bin/env bash
# What one mask adds, in one sitting (the README's mask-cost table): each of
# detection.toml and segmentation.toml at its own size and at 224, on both
# backends, without and with one u8 mask, alternating, 3 rounds. Prints
# "round pipeline backend masks median_s images/s" a line.
# Usage: bash benches/masks.sh [path/to/gpu-augment] (default: target/release/gpu-augment)
set -euo pipefail
cd "$(dirname "$0")/.."
B="${1:-target/release/gpu-augment}"
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp/xdg-$(id -u)}"
mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sed 's/size = 512/size = 224/' examples/pipelines/detection.toml > "$tmp/det224.toml"
sed 's/size = 384/size = 224/g' examples/pipelines/segmentation.toml > "$tmp/seg224.toml"
for round in 1 2 3; do
  for pipe in examples/pipelines/detection.toml examples/pipelines/segmentation.toml "$tmp/det224.toml" "$tmp/seg224.toml"; do
    for be in cpu gpu; do
      for m in 0 1; do
        if [ "$be" = cpu ]; then opt=(--threads 2 --replicate 50); else opt=(--replicate 16); fi
        r=$("$B" bench --input tests/data/photos --pipeline "$pipe" --backend "$be" "${opt[@]}" \
              --batch-size 48 --repeats 3 --masks "$m" 2>&1 | grep -E "^\| [a-z0-9_]+ \| (cpu|gpu)" | awk -F'|' '{print $7, $8}')
        echo "$round $(basename "$pipe" .toml) $be masks=$m $r"
      done
    done
  done
done
