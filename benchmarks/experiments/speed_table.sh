#!/usr/bin/env bash
# Seconds per 256x256 image of the slow methods in both precisions, on this machine:
# records benchmarks/results/speed-<precision>_<task>.json (one 256x256 crop each).
set -euo pipefail
cd "$(dirname "$0")/../.."
DATA=${PNP_INTERNAL_DATA:-../shared/data}
for prec in fp32 bf16; do
  .venv/bin/pnp-internal bench sr-x2 --images "$DATA/test/set5" --crop 256 --limit 1 \
    --methods cnn-idbp,ia-idbp,zssr-fast,zssr --precision "$prec" \
    --out "benchmarks/results/speed-${prec}_sr-x2.json"
  .venv/bin/pnp-internal bench denoise-s25 --images "$DATA/test/cbsd68" --crop 256 --limit 1 \
    --methods cnn,cnn-gaintuning,dip --precision "$prec" \
    --out "benchmarks/results/speed-${prec}_denoise-s25.json"
done
