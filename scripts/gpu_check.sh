#!/usr/bin/env bash
# The GPU check (../shared/GPU.md): one script that, on a machine with one CUDA GPU, no network
# and Python 3.12, installs fairseq from wheels carried in the working tree (.whl/, ignored by
# git) and, sized for about 8 minutes, runs and checks:
#   1. masked_lm_ir + instance_reg at roberta_base size with --fp16 and with --bf16, a few hundred
#      updates each: no NaN/inf in loss, ECP, DPP; the loss falls;
#   2. pretrain_ir.sh through torchrun (LAUNCHER=torchrun) with --ddp-backend pytorch_ddp, 1 GPU;
#   3. the cost benchmark at GPU sizes (masked_lm vs IR vs cheap modes: ratios, tokens/s, memory).
# Every log and summary.md go to OUT_DIR (at most 8 files, so all come back from the device);
# PRECISION sets the recipe step's precision (bf16 on the GPU, fp32 in the rehearsal).
#
#   bash scripts/gpu_check.sh --fetch-wheels           # here, with PyPI: fill .whl/ for Python 3.12
#   bash scripts/gpu_check.sh OUT_DIR                  # on the GPU machine
#   bash scripts/gpu_check.sh --cpu-rehearsal OUT_DIR  # the same steps, tiny, on CPU (tested)
#
# The rehearsal cannot run what needs CUDA: it trains in fp32 and --memory-efficient-fp16
# instead of fp16/bf16, and runs the recipe's CPU launch (2 gloo ranks) instead of torchrun.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ "${1:-}" = --fetch-wheels ]; then
  for wheel in ve-fairseq==0.12.3 hydra-core==1.3.2 omegaconf==2.3.0 bitarray==2.9.2 tensorboardX==2.6.2.2 \
               numpy==1.26.4; do
    pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
      --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 -d "$ROOT/.whl" "$wheel"
  done
  pip wheel --no-deps -w "$ROOT/.whl" antlr4-python3-runtime==4.9.3  # pure Python, published as a source archive only
  ls -l "$ROOT/.whl"
  exit 0
fi
MODE=gpu
if [ "${1:-}" = --cpu-rehearsal ]; then MODE=cpu; shift; fi
if [ $# -ne 1 ]; then
  echo "usage: bash scripts/gpu_check.sh [--cpu-rehearsal] OUT_DIR | --fetch-wheels" >&2
  exit 2
fi
OUT="$(mkdir -p "$1" && cd "$1" && pwd)"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/gpu_check.XXXXXX")"
STEPS="$OUT/steps.tsv"
: > "$STEPS"

if [ $MODE = gpu ]; then
  PY="${PYTHON:-python3}"
  if ! "$PY" -c "import fairseq" 2>/dev/null; then
    ls "$ROOT"/.whl/*.whl > /dev/null 2>&1 || { echo "ir_fairseq: error: fairseq is not installed and $ROOT/.whl holds no wheels (bash scripts/gpu_check.sh --fetch-wheels)" >&2; exit 1; }
    "$PY" -m pip install -q --no-index --no-deps --target "$WORK/site" "$ROOT"/.whl/*.whl
    export PYTHONPATH="$WORK/site:$ROOT${PYTHONPATH:+:$PYTHONPATH}"
  fi
  PRECISIONS="fp16 bf16"; UPDATES=300; LAYERS=12; WIDTH=768; TOKENS=512; BATCH=16
  BENCH=(--device cuda --dtype bf16 --layers 12 --width 768 --tokens 512 --batch 32 --vocab 50000)
  RECIPE_ENV=(GPUS=1 LAUNCHER=torchrun PRECISION="${PRECISION:-bf16}"); RECIPE_ARGS=(--ddp-backend pytorch_ddp)
  DEVICE=()
else
  PY="${PYTHON:-$ROOT/.venv/bin/python}"
  PRECISIONS="fp32 memory-efficient-fp16"; UPDATES=20; LAYERS=2; WIDTH=64; TOKENS=64; BATCH=8
  BENCH=(--layers 2 --width 64 --tokens 64 --batch 4 --vocab 1000 --updates 1 --repeats 2 --warmup 1 --skip-memory)
  RECIPE_ENV=(GPUS=2 PRECISION="${PRECISION:-fp32}" OMP_NUM_THREADS=1); RECIPE_ARGS=()
  DEVICE=(--cpu)
fi
export PYTHONUNBUFFERED=1

step() {  # name command...: run, time, record the status; a failing step does not stop the others
  local name="$1"; shift
  local started=$SECONDS status=0
  echo "[gpu_check] $name"
  "$@" > "$OUT/$name.log" 2>&1 || status=$?
  printf '%s\t%s\t%s\n' "$name" "$status" "$((SECONDS - started))" >> "$STEPS"
}

prepare_data() {
  "$PY" -m ir_fairseq synthetic-data "$WORK/raw" --seed 1
  "$PY" -m ir_fairseq spm train --input "$WORK/raw/train.txt" --model-prefix "$WORK/spm" --vocab-size 1000
  for split in train valid; do
    "$PY" -m ir_fairseq spm encode --model "$WORK/spm.model" < "$WORK/raw/$split.txt" > "$WORK/$split.spm"
  done
  "$PY" -m fairseq_cli.preprocess --only-source --trainpref "$WORK/train.spm" --validpref "$WORK/valid.spm" \
    --destdir "$WORK/data-bin" --workers 2
  cp "$WORK/spm.model" "$WORK/data-bin/"
}

train() {  # precision
  local precision=(); case "$1" in fp16) precision=(--fp16) ;; bf16) precision=(--bf16) ;;
    memory-efficient-fp16) precision=(--memory-efficient-fp16) ;; esac
  "$PY" -m fairseq_cli.train "$WORK/data-bin" --user-dir "$ROOT/ir_fairseq" --task masked_lm_ir \
    --criterion instance_reg --arch roberta_base --encoder-layers "$LAYERS" --encoder-embed-dim "$WIDTH" \
    --encoder-ffn-embed-dim $((4 * WIDTH)) --encoder-attention-heads $((WIDTH / 64 > 0 ? WIDTH / 64 : 1)) \
    --max-positions "$TOKENS" --tokens-per-sample "$TOKENS" --batch-size "$BATCH" --optimizer adam \
    --adam-betas "(0.9,0.98)" --lr 5e-4 --lr-scheduler polynomial_decay --warmup-updates $((UPDATES / 10)) \
    --total-num-update "$UPDATES" --max-update "$UPDATES" --seed 1 --log-format json --log-interval 5 \
    --no-progress-bar --save-dir "$WORK/ck_$1" --no-save --validate-interval-updates "$UPDATES" \
    --num-workers 0 --data-buffer-size 0 "${precision[@]}" "${DEVICE[@]}"
}

recipe() {
  env DATA="$WORK/data-bin" SAVE_DIR="$WORK/ck_recipe" MAX_UPDATE="$UPDATES" LR=5e-4 TOKENS="$TOKENS" \
    BATCH="$BATCH" TOTAL_BATCH="$BATCH" LOG_INTERVAL=5 PYTHON="$PY" "${RECIPE_ENV[@]}" \
    bash "$ROOT/scripts/pretrain_ir.sh" --encoder-layers "$LAYERS" --encoder-embed-dim "$WIDTH" \
    --encoder-ffn-embed-dim $((4 * WIDTH)) --encoder-attention-heads $((WIDTH / 64 > 0 ? WIDTH / 64 : 1)) \
    --max-positions "$TOKENS" --num-workers 0 --data-buffer-size 0 --log-format json "${RECIPE_ARGS[@]}"
}

echo "[gpu_check] mode=$MODE OUT=$OUT WORK=$WORK"
step data prepare_data
for precision in $PRECISIONS; do
  step "train_$precision" train "$precision"
done
step recipe recipe
step benchmark "$PY" "$ROOT/examples/benchmark_ir.py" "${BENCH[@]}"
"$PY" "$ROOT/examples/gpu_check_report.py" "$OUT" "$MODE" | tee "$OUT/summary.md"
rm -rf "$WORK"
