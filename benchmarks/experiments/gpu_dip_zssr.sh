#!/bin/bash
# Issue 6/7 measurements on one GPU: DIP (denoising Kodak24 + F16 crops, inpainting, SR x4 Set5,
# seeds), deepinv's DeepImagePrior to its best, and ZSSR variants on Set5/Set14.
# Usage: DATA=<folder with kodak24 dip set12 set5 set14> OUT=<results> bash benchmarks/experiments/gpu_dip_zssr.sh
# Needs torch with CUDA, deepinv and this package importable. Jobs run concurrently (P at once);
# each writes <name>.json (DIP: one JSON line; ZSSR: the bench JSON) and <name>.log, all packed
# into $OUT/results.tar.gz at the end (summaries also on stdout). NO_DEEPINV=1 skips the deepinv baseline runs.
DATA=${DATA:-../shared/data/test}; P=${P:-14}; TL=${TL:-420}
RES=$(mktemp -d)  # job outputs; packed into $OUT at the end (the device returns few files)
export PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1
E="python3 benchmarks/experiments/dip_experiments.py"; Z="python3 benchmarks/experiments/zssr_experiments.py"
D="--device cuda --score-every 10"
{
echo "dip_F16_s0 $E dip --image $DATA/dip/denoising/F16_GT.png --crop 256 --task denoise-s25 --max-iter 2500 $D"
# the CPU/GPU gap on F16 (29.69 dB on the CPU, 30.95 on the H200): precision or random streams?
echo "dip_F16_s0_fp32 $E dip --image $DATA/dip/denoising/F16_GT.png --crop 256 --task denoise-s25 --max-iter 2500 --fp32 $D"
for i in 1 2; do echo "dip_F16_s$i $E dip --image $DATA/dip/denoising/F16_GT.png --crop 256 --task denoise-s25 --max-iter 2500 --seed $i $D"; done
[ -n "$NO_DEEPINV" ] || echo "deepinv_F16 $E deepinv --image $DATA/dip/denoising/F16_GT.png --crop 256 --task denoise-s25 --max-iter 3000 $D"
echo "zssr_x2_rgb $Z sr-x2 --images $DATA/set5 --device cuda --out \$RES/zssr_x2_rgb.bench.json"
echo "zssr_x2_luma $Z sr-x2 --images $DATA/set5 --device cuda --luma --out \$RES/zssr_x2_luma.bench.json"
echo "zssr_x2_paperinit $Z sr-x2 --images $DATA/set5 --device cuda --init paper --out \$RES/zssr_x2_paperinit.bench.json"
echo "zssr_x2_luma_paperinit $Z sr-x2 --images $DATA/set5 --device cuda --luma --init paper --out \$RES/zssr_x2_luma_paperinit.bench.json"
for i in 0 1 2; do echo "dip_kate_s$i $E dip --image $DATA/dip/inpainting/kate.png --mask $DATA/dip/inpainting/kate_mask.png --task inpaint --max-iter 5000 --seed $i $D"; done
echo "dip_library_s0 $E dip --image $DATA/dip/inpainting/library.png --mask $DATA/dip/inpainting/library_mask.png --task inpaint --max-iter 5000 $D"
echo "dip_vase_s0 $E dip --image $DATA/dip/inpainting/vase.png --mask $DATA/dip/inpainting/vase_mask.png --task inpaint --max-iter 5000 $D"
for f in $DATA/set5/*_GT.bmp; do n=$(basename $f _GT.bmp); echo "dip_srx4_${n}_s0 $E dip --image $f --task sr-x4 --max-iter 2000 --reg-noise 0.03 $D"; done
for i in 1 2; do echo "dip_srx4_baby_s$i $E dip --image $DATA/set5/baby_GT.bmp --task sr-x4 --max-iter 2000 --reg-noise 0.03 --seed $i $D"; done
for k in $(seq -w 1 24); do echo "dip_kodim${k}_s0 $E dip --image $DATA/kodak24/kodim$k.png --crop 256 --task denoise-s25 --max-iter 2500 $D"; done
for n in 01 02 03 08 09 10 11 12; do echo "dip_inp50_set12_${n}_s0 $E dip --image $DATA/set12/$n.png --task inpaint --max-iter 5000 $D"; done
for i in 1 2; do echo "dip_inp50_set12_02_s$i $E dip --image $DATA/set12/02.png --task inpaint --max-iter 5000 --seed $i $D"; done
[ -n "$NO_DEEPINV" ] || echo "deepinv_kodim03 $E deepinv --image $DATA/kodak24/kodim03.png --crop 256 --task denoise-s25 --max-iter 3000 $D"
echo "zssr_x4_rgb_gradual $Z sr-x4 --images $DATA/set5 --device cuda --gradual --out \$RES/zssr_x4_rgb_gradual.bench.json"
echo "zssr_x4_luma_gradual $Z sr-x4 --images $DATA/set5 --device cuda --luma --gradual --out \$RES/zssr_x4_luma_gradual.bench.json"
echo "zssr_set14_x4_rgb_gradual $Z sr-x4 --images $DATA/set14 --device cuda --gradual --out \$RES/zssr_set14_x4_rgb_gradual.bench.json"
echo "dip_F16_paper_fp32 $E dip --image $DATA/dip/denoising/F16_GT.png --crop 256 --task denoise-s25 --max-iter 2500 --paper --fp32 --width 128 $D"
} > /tmp/jobs.txt
wc -l /tmp/jobs.txt
START=$(date +%s); DEADLINE=$((START + TL))
export RES DEADLINE
run_job() {  # every job ends by the deadline; one that cannot start 20 s before it is skipped
  name=$1; shift; left=$((DEADLINE - $(date +%s)))
  if [ $left -lt 20 ]; then echo "skipped $name"; return; fi
  eval timeout $left "$@" > $RES/$name.json 2> $RES/$name.log; rc=$?; echo "$(date +%T) $name rc=$rc"
}
export -f run_job
xargs -P $P -L 1 bash -c 'run_job "$@"' _ < /tmp/jobs.txt
echo "all jobs finished in $(( $(date +%s) - START )) s"
tar czf $OUT/results.tar.gz -C $RES .
# one summary line per DIP run on stdout too, in case the archive does not come back
for f in $RES/dip_*.json $RES/deepinv_*.json; do python3 -c "import json,sys
try: d = json.loads([l for l in open(sys.argv[1]) if l.startswith('{')][-1])
except Exception: sys.exit()
print(sys.argv[1].split('/')[-1], {k: d[k] for k in d if k not in ('curve', 'variance', 'trace', 'cfg')})" $f; done
grep -h "zssr-exp:" $RES/zssr_*.log
