#!/usr/bin/env bash
# Copyright (c) memvid_mm contributors. All rights reserved.
# CUDA checks and GPU timings on a machine that has a CUDA build of torch
# but neither mmcv nor the internet (a lent GPU machine):
#   1. installs mmengine, mmdet and their pure-Python needs from $WHEELS;
#   2. builds mmcv 2.1.0's ops with CUDA from the source tree $MMCV_SRC;
#   3. runs the CUDA tests (the `cuda_device` fixture and the CUDA-only op
#      tests), the warp's samplers alone, the GPU benchmark at the paper's
#      scale (sections timed with synchronisations, then by CUDA events
#      without any, then so with FlowNet on a second CUDA stream, and with
#      channels-last weights), a kernel-level profile of
#      MemNet-6 frames, the 2-process train/test tests, the warp benchmark
#      of both samplers, the paper-scale benchmark with all three of
#      channels-last weights, the second stream and cuDNN's benchmark mode,
#      the tiny-scale one, one training step's memory (train_memory.py) of
#      the 6- and the 10-frame ClockNet, then the rest of the test suite (on
#      several processes where pytest-xdist is installed), in that order.
# Logs go to $OUT (default work_dirs/cuda_check), 7 files: mmcv_build.log,
# versions.txt, cuda_tests.log, bench.log (every benchmark),
# dist_tests.log, profile_memnet6.log, tests.log. Each step has its own
# time limit and none runs past $DEADLINE seconds (default 540) from the
# start, the mmcv build included: give the device command a little more
# than that. Every step after the build runs even if one before it fails;
# the exit status is 1 if any failed or was cut short or left out by the
# deadline (a failed or cut-short build ends the script at once).
#
# MMCV_CUDA_OPS=all (default) builds every CUDA kernel of mmcv, the normal
# build. MMCV_CUDA_OPS=nms builds mmcv's C++ ops for the CPU and only the CUDA
# kernel of NMS, the one mmcv op that memvid_mm's models run (RPN and box
# NMS; the PS RoI ops are memvid_mm's own): a few minutes instead of many,
# for a short GPU lease. Any other mmcv op called on CUDA then fails loudly
# ("not compiled with GPU support"), it never runs on the CPU instead.
#
# Usage:
#   MMCV_SRC=path/to/mmcv-2.1.0 WHEELS=path/to/wheels \
#       [MMCV_CUDA_OPS=nms] [OUT=dir] bash tools/misc/cuda_check.sh
set -uo pipefail
PY=${PYTHON:-python3}
OUT=${OUT:-work_dirs/cuda_check}
MMCV_CUDA_OPS=${MMCV_CUDA_OPS:-all}
: "${MMCV_SRC:?give MMCV_SRC, the unpacked mmcv-2.1.0 source tree}"
: "${WHEELS:?give WHEELS, a folder of mmengine/mmdet (and needs) wheels}"
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1

step() { echo "[cuda_check] $(date +%T) $*"; }

DEADLINE=${DEADLINE:-540}
within() {  # within CAP CMD...: CMD for at most CAP s, and not past DEADLINE
    local cap=$1 left=$(( DEADLINE - SECONDS ))
    shift
    if [ $left -lt 15 ]; then
        echo "[cuda_check] NOT run, the deadline is near: $*"
        return 124
    fi
    timeout $(( left < cap ? left : cap )) "$@"
}

step "installing wheels from $WHEELS"
$PY -m pip install -q --no-index --no-deps "$WHEELS"/*.whl || exit 1

BUILD=$(mktemp -d)/mmcv
cp -r "$MMCV_SRC" "$BUILD"
CSRC=$BUILD/mmcv/ops/csrc
if [ "$MMCV_CUDA_OPS" = nms ]; then
    step "mmcv: CPU ops + the CUDA kernel of NMS only"
    find "$CSRC/pytorch/cuda" -name '*.cu' ! -name nms_cuda.cu -delete
    # the CUDA registration of nms alone, from mmcv's own cudabind.cpp
    {
        sed -n '1,2p' "$CSRC/pytorch/cuda/cudabind.cpp"
        sed -n '/^Tensor NMSCUDAKernelLauncher/,/REGISTER_DEVICE_IMPL(nms_impl, CUDA, nms_cuda);/p' \
            "$CSRC/pytorch/cuda/cudabind.cpp"
    } > "$CSRC/pytorch/cuda/cudabind_nms.cpp"
    rm "$CSRC/pytorch/cuda/cudabind.cpp"
    grep -q 'REGISTER_DEVICE_IMPL(nms_impl, CUDA' \
        "$CSRC/pytorch/cuda/cudabind_nms.cpp" || {
        echo 'nms registration not found in cudabind.cpp'; exit 1; }
    # these three call CUDA launchers directly under MMCV_WITH_CUDA
    for f in spconv_ops nms_rotated nms_quadri; do
        sed -i '1i #undef MMCV_WITH_CUDA' "$CSRC/pytorch/$f.cpp"
    done
elif [ "$MMCV_CUDA_OPS" != all ]; then
    echo "MMCV_CUDA_OPS must be all or nms, got $MMCV_CUDA_OPS"; exit 1
fi

# Headers that mmcv 2.1.0 includes and newer torch may no longer ship.
TORCH_INC=$($PY -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "include"))')
SHIM=$(mktemp -d)
for header in THC/THCAtomics.cuh ATen/cuda/CUDAApplyUtils.cuh; do
    if [ ! -f "$TORCH_INC/$header" ]; then
        step "torch lacks $header: shim includes ATen/cuda/Atomic.cuh"
        mkdir -p "$SHIM/$(dirname $header)"
        echo '#include <ATen/cuda/Atomic.cuh>' > "$SHIM/$header"
    fi
done
ARCH=$($PY -c 'import torch; print("%d.%d" % torch.cuda.get_device_capability())')
step "building mmcv ($MMCV_CUDA_OPS CUDA ops) for sm $ARCH on $(nproc) cores"
start=$SECONDS
# within the deadline too: a full build can outlast a short lease
CPATH=$SHIM${CPATH:+:$CPATH} MMCV_CUDA_ARGS="-I$SHIM" MMCV_WITH_OPS=1 \
    FORCE_CUDA=1 TORCH_CUDA_ARCH_LIST=$ARCH MAX_JOBS=$(nproc) \
    within "$DEADLINE" $PY -m pip install -v --no-index --no-deps \
    --no-build-isolation \
    "$BUILD" > "$OUT/mmcv_build.log" 2>&1
rc=$?
step "mmcv build rc $rc in $((SECONDS - start)) s"
if [ $rc -ne 0 ]; then
    [ $rc -eq 124 ] && echo "[cuda_check] mmcv build cut short by DEADLINE"
    grep -n -m 20 -i 'error' "$OUT/mmcv_build.log"
    tail -n 30 "$OUT/mmcv_build.log"
    exit 1
fi

$PY - <<'EOF' 2>&1 | tee "$OUT/versions.txt" || exit 1
import mmcv, mmdet, mmengine, torch
from mmcv.ops import batched_nms
import memvid_mm
boxes = torch.tensor([[0., 0., 10., 10.], [1., 1., 10., 10.],
                      [20., 20., 30., 30.]], device='cuda')
scores = torch.tensor([0.9, 0.8, 0.7], device='cuda')
dets, keep = batched_nms(boxes, scores, torch.zeros(3, device='cuda'),
                         dict(type='nms', iou_threshold=0.5))
assert keep.tolist() == [0, 2], keep
print(f'torch {torch.__version__} (CUDA {torch.version.cuda}), mmcv '
      f'{mmcv.__version__}, mmdet {mmdet.__version__}, mmengine '
      f'{mmengine.__version__}, {torch.cuda.get_device_name()}; '
      f'mmcv NMS on CUDA ok')
EOF

failed=0
# One log per kind (a lent machine returns few files): every benchmark
# appends to bench.log under a header line.
BENCH_LOG=$OUT/bench.log
bench() {  # bench CAP TITLE ARGS...: a benchmark.py run into bench.log
    local cap=$1 title=$2
    shift 2
    step "benchmark: $title"
    echo "## $title" >> "$BENCH_LOG"
    within "$cap" $PY tools/analysis_tools/benchmark.py --device cuda \
        --frames 200 --warmup 20 "$@" 2>&1 | tee -a "$BENCH_LOG" || failed=1
}
step "CUDA tests"
within 150 $PY -m pytest tests -q -p no:cacheprovider -rs -k cuda \
    2>&1 | tee "$OUT/cuda_tests.log" | tail -n 15 || failed=1
step "the warp's samplers alone, both grid_sample layouts (kernel times)"
echo "## benchmark_grid_sample.py" >> "$BENCH_LOG"
within 60 $PY tools/analysis_tools/benchmark_grid_sample.py --device cuda \
    2>&1 | tee -a "$BENCH_LOG" || failed=1

RFCN=configs/rfcn/rfcn_r101-dc5_8xb1-7e_imagenetvid.py
MEMNET6=configs/memnet/memnet-6_rfcn_r101-dc5_8xb1-7e_imagenetvid.py
# MemNet-6 with the bicubic warp, written next to it and removed at the end
BICUBIC=configs/memnet/_cuda_check_memnet-6_bicubic.py
printf "_base_ = ['./%s']\nmodel = dict(warp=dict(interpolation='bicubic'))\n" \
    "$(basename $MEMNET6)" > "$BICUBIC"
bench 150 "paper scale, section times (+ MemNet-6 bicubic)" \
    --shape 600 1000 --configs "$RFCN" "$MEMNET6" \
    configs/clocknet_r101_vid.py "$BICUBIC"
bench 120 "paper scale, section times by CUDA events (no syncs in a frame)" \
    --preset paper --section-timer events
bench 120 "paper scale, FlowNet on a second CUDA stream, CUDA-event sections" \
    --preset paper --section-timer events --concurrent-flow
bench 100 "paper scale, channels-last (NHWC) weights" \
    --shape 600 1000 --no-section-times --channels-last \
    --configs "$RFCN" "$MEMNET6"
step "profile of MemNet-6 frames at the paper's scale (kernel times)"
within 100 $PY tools/analysis_tools/profile_frame.py "$MEMNET6" \
    --shape 600 1000 --device cuda --frames 8 --rows 40 \
    2>&1 | tee "$OUT/profile_memnet6.log" || failed=1
step "2-process tests (train and test with torchrun; CUDA hidden from them)"
within 240 $PY -m pytest tests/test_tools/test_dist_tools.py -q \
    -p no:cacheprovider 2>&1 | tee "$OUT/dist_tests.log" | tail -n 15 \
    || failed=1
step "one FlowWarp call per sampler: operations and time"
echo "## benchmark_warp.py" >> "$BENCH_LOG"
within 60 $PY tools/analysis_tools/benchmark_warp.py --device cuda \
    --repeats 200 2>&1 | tee -a "$BENCH_LOG" || failed=1
bench 100 "paper scale, channels-last, second stream, cuDNN benchmark mode" \
    --shape 600 1000 --no-section-times --channels-last --concurrent-flow \
    --cudnn-benchmark --configs "$RFCN" "$MEMNET6"
bench 100 "tiny scale" --preset tiny
rm -f "$BICUBIC"
# one training step's activations and GPU peak: ClockNet R-101 on 6-frame
# clips, and on 10-frame clips with its backbone checkpointed; every frame
# kept, only the first, and the expected number under dropout 0.8 (2 of 6,
# 3 of 10) twice, the second step warm
CLOCKNET10=configs/clocknet/clocknet-10_rfcn_r101-dc5_4xb1-7e_imagenetvid.py
for frames_kept_config in "6 2 configs/clocknet_r101_vid.py" \
        "10 3 $CLOCKNET10"; do
    set -- $frames_kept_config
    step "training memory: $3, $1-frame clips"
    echo "## train_memory.py $3" >> "$BENCH_LOG"
    within 90 $PY tools/analysis_tools/train_memory.py "$3" --device cuda \
        --shape 600 1000 --frames "$1" --kept all 1 "$2" "$2" --backward \
        2>&1 | tee -a "$BENCH_LOG" || failed=1
done

# pytest-xdist, where installed, runs the suite on several processes
# (one test file per process, each with a few threads).
XDIST=()
if $PY -c 'import xdist' 2>/dev/null; then
    WORKERS=$(( $(nproc) / 2 > 8 ? 8 : $(nproc) / 2 ))
    [ "$WORKERS" -ge 2 ] && XDIST=(-n "$WORKERS" --dist loadfile)
fi
step "the rest of the suite ${XDIST[*]}, $(( DEADLINE - SECONDS )) s left"
OMP_NUM_THREADS=2 within 100000 $PY -m pytest tests -q -p no:cacheprovider \
    -rs --ignore=tests/test_tools/test_dist_tools.py "${XDIST[@]}" \
    2>&1 | tee "$OUT/tests.log" | tail -n 15 || failed=1
step "done, failed=$failed"
exit $failed
