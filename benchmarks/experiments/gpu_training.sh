#!/bin/bash
# Three warm-started trainings at once on one GPU (issues 23 and 26): MZSR's x2 start for the
# kernel family and its bicubic start (train-meta, pre-training only, the lr decaying over the
# time budget), and a stage of the colour DRUNet-lite (train-denoiser, nb 4, from
# drunet-lite-color-fullres). Pairs are made on the CPU, so each job gets several threads.
# Usage: DATA=<folder holding color80 and urban100> TL=<seconds per training> OUT=<results> \
#        [JOBS="mzsr-family mzsr-bicubic color"] [COLOR_INIT=<weights>] bash benchmarks/experiments/gpu_training.sh
# Needs torch with CUDA, deepinv and this package importable (PYTHONPATH=.). Writes the three
# trained files into $OUT with the jobs' logs (logs.tar.gz; their last lines also on stdout).
DATA=${DATA:-../shared/data/train}; TL=${TL:-420}; DEV=${DEV:-cuda}  # DEV=cpu: a dry run
JOBS=${JOBS:-"mzsr-family mzsr-bicubic color"}
COLOR_INIT=${COLOR_INIT:-pnp_internal/priors/weights/drunet-lite-color-fullres.safetensors}
export PYTHONUNBUFFERED=1
CLI="python3 -m pnp_internal.cli"
W=pnp_internal/meta/weights
D="--data $DATA/color80 $DATA/urban100 --device $DEV --time-limit $TL"
M="--input-back-projection 10 --pretrain-steps 1000000 --steps 1000000 --meta-batch 8 \
   --task-batch 4 --lr 2e-4 --checkpoint-every 90 --threads 6"
python3 -c "import torch, deepinv, pnp_internal; assert \"$DEV\" == \"cpu\" or torch.cuda.is_available(); \
print(torch.__version__, deepinv.__version__, torch.cuda.is_available() and torch.cuda.get_device_name())" || exit 1
START=$(date +%s)
[[ $JOBS == *mzsr-family* ]] && $CLI train-meta $D $M --init $W/mzsr-x2.safetensors --seed 11 \
    --out $OUT/mzsr-x2-gpu.safetensors > $OUT/mzsr-family.log 2>&1 &
[[ $JOBS == *mzsr-bicubic* ]] && $CLI train-meta $D $M --init $W/mzsr-x2-bicubic.safetensors --bicubic 1.0 --seed 12 \
    --out $OUT/mzsr-x2-bicubic-gpu.safetensors > $OUT/mzsr-bicubic.log 2>&1 &
[[ $JOBS == *color* ]] && $CLI train-denoiser $D --channels 3 --nb 4 --steps 10000000 --batch 64 --patch 96 --lr 3e-5 --warmup 500 \
    --scales 1 0.5 0.333 --checkpoint-every 60 --threads 3 --seed 13 \
    --init $COLOR_INIT \
    --out $OUT/color-gpu.safetensors > $OUT/color.log 2>&1 &
wait
echo "all jobs finished in $(( $(date +%s) - START )) s"
rm -f $OUT/*.ckpt.pt
for f in $OUT/*.log; do echo "== $f"; tr '\r' '\n' < $f | grep -v "^ *$" | tail -12; done
tar czf $OUT/logs.tar.gz -C $OUT $(cd $OUT && ls *.log) && rm -f $OUT/*.log
ls -la $OUT
