#!/usr/bin/env bash
# The GPU-machine check of issue 19, as one prepared script: run it from anywhere on a machine with a GPU.
#
#   OUT=/some/folder HW3_DATA_DIR=/path/to/data bash tools/gpu_check.sh
#
# Steps (each a log in $OUT, default runs/gpu_check; a summary with the counts in $OUT/summary.txt):
#   1. the whole pytest suite, each test limited to $HW3_TEST_TIMEOUT seconds (default 240);
#   2. python main.py --quick  (everything on small slices; without IMDB or GloVe: its written and lm parts);
#   3. python main.py mlp --quick --device cuda  (the sweeps on the GPU; skipped without IMDB or GloVe);
#   4. torchrun with one process more than there are GPUs: each falls back to the CPU with gloo.
# A missing data set skips the steps that need it, with a line that says so. Each step has a wall-clock limit
# (STEP_TIMEOUT_SUITE, default 270 s; STEP_TIMEOUT, default 100 s), so the script ends within about 10 min.
# SUITE=0 leaves the suite out. The exit code is 0 only if every step that ran passed.
set -uo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-runs/gpu_check}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
data="${HW3_DATA_DIR:-../shared/data}"
export HW3_DATA_DIR="$data" MPLBACKEND=Agg HW3_TEST_TIMEOUT="${HW3_TEST_TIMEOUT:-240}"
export HW3_CACHE_DIR="${HW3_CACHE_DIR:-$out/hw3-cache}"
python="${PYTHON:-python}"
summary="$out/summary.txt"
failed=0
: >"$summary"

say() { echo "$*" | tee -a "$summary"; }

step() {  # step NAME LIMIT COMMAND...: run it with its log in $out/NAME.log; the summary gets rc, time, tail
    local name=$1 limit=$2
    shift 2
    say "=== $(date -u +%H:%M:%S) $name: $*"
    local start rc
    start=$(date +%s)
    timeout --signal=INT --kill-after=20 "$limit" "$@" >"$out/$name.log" 2>&1
    rc=$?
    say "rc $rc in $(($(date +%s) - start)) s$([ "$rc" = 124 ] && echo " (stopped at its limit of $limit s)")"
    tail -n 4 "$out/$name.log" | tee -a "$summary"
    [ "$rc" = 0 ] || failed=1
}

say "=== machine"
{ nvidia-smi -L 2>/dev/null || echo "nvidia-smi: not found"; } | tee -a "$summary"
"$python" -c "import torch, datasets; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'gpus',
torch.cuda.device_count(), 'datasets', datasets.__version__)" 2>&1 | tee -a "$summary"
gpus=$("$python" -c "import torch; print(torch.cuda.device_count())" 2>/dev/null || echo 0)
say "data: $data ($(ls "$data" 2>/dev/null | tr '\n' ' '))"
sentiment=1
for f in imdb/imdb_train.csv.gz imdb/imdb_test.csv.gz glove/glove.6B.50d.txt.gz; do
    [ -f "$data/$f" ] || { sentiment=0; say "note: $data/$f is absent: the steps that need IMDB and GloVe skip"; }
done
wikitext=1
[ -f "$data/wikitext-2/wiki.valid.tokens.gz" ] || { wikitext=0; say "note: no WikiText-2 in $data: the lm steps skip"; }

if [ "${SUITE:-1}" != 0 ]; then
    step pytest "${STEP_TIMEOUT_SUITE:-270}" "$python" -m pytest -q -ra -p no:cacheprovider --durations=10
    grep -E "^(FAILED|ERROR)|[0-9]+ (passed|failed)" "$out/pytest.log" | tail -n 30 >>"$summary"
fi

limit="${STEP_TIMEOUT:-100}"
if [ "$sentiment" = 1 ] && [ "$wikitext" = 1 ]; then
    step quick "$limit" "$python" main.py --quick --out-dir "$out/quick" --ckpt-dir "$out/quick/ck"
else
    say "=== quick: python main.py --quick needs IMDB, GloVe and WikiText-2; running the parts the data allows"
    step quick_written "$limit" "$python" main.py written --out-dir "$out/quick"
    if [ "$wikitext" = 1 ]; then
        step quick_lm "$limit" "$python" main.py lm --quick --out-dir "$out/quick" --ckpt-dir "$out/quick/ck"
    fi
fi

if [ "$sentiment" = 1 ]; then
    step mlp_cuda "$limit" "$python" main.py mlp --quick --device cuda --out-dir "$out/mlp" --ckpt-dir "$out/mlp/ck"
else
    say "=== mlp_cuda: skipped: python main.py mlp --quick --device cuda needs IMDB and GloVe"
fi

if [ "$wikitext" = 1 ]; then  # more processes than GPUs: all on the CPU with gloo, said in one line
    step torchrun_over "$limit" "$python" -m torch.distributed.run --standalone --nproc_per_node=$((gpus + 1)) \
        main.py lm --quick --epochs 1 --cache-size 0 --out-dir "$out/torchrun" --ckpt-dir "$out/torchrun/ck"
    grep -m1 "processes on this machine" "$out/torchrun_over.log" | tee -a "$summary"
fi

say "=== $(date -u +%H:%M:%S) end: $([ "$failed" = 0 ] && echo "every step passed" || echo "some step FAILED")"
exit "$failed"
