#!/usr/bin/env bash
# Fine-tune a pre-trained checkpoint on one GLUE task with fairseq's sentence_prediction, then
# write dev_metrics.json, dev_predictions.tsv and the test submission files (glue_predict).
#
#   bash scripts/finetune_glue.sh TASK CHECKPOINT TASK_BIN SAVE_DIR [extra fairseq-train args]
#   SWEEP=1 bash scripts/finetune_glue.sh ...   # grid over LRS x BATCHES x EPOCHS_LIST x SEEDS,
#                                               # keeps the best dev run in SAVE_DIR
# Defaults per task follow the paper's search space (README table); every tunable is an
# environment variable (LR, BATCH, EPOCHS, SEED, WARMUP_RATIO, WEIGHT_DECAY).
set -euo pipefail
if [ $# -lt 4 ]; then
  echo "usage: bash scripts/finetune_glue.sh TASK CHECKPOINT TASK_BIN SAVE_DIR [extra fairseq-train args]" >&2
  exit 2
fi
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TASK="$1"; CHECKPOINT="$2"; TASK_BIN="$3"; SAVE_DIR="$4"; shift 4
PY="${PYTHON:-$ROOT/.venv/bin/python}"

case "$TASK" in  # lr batch epochs classes  (defaults within the paper's grid)
  CoLA)  D=(1e-5 16 5 2) ;;  SST-2) D=(1e-5 32 3 2) ;;  MRPC) D=(2e-5 16 5 2) ;;
  STS-B) D=(2e-5 16 5 1) ;;  QQP)   D=(2e-5 32 3 2) ;;  MNLI) D=(1e-5 32 3 3) ;;
  QNLI)  D=(1e-5 32 3 2) ;;  RTE)   D=(2e-5 16 5 2) ;;  WNLI) D=(1e-5 16 3 2) ;;
  *) echo "ir_fairseq: error: unknown GLUE task $TASK" >&2; exit 2 ;;
esac
LR="${LR:-${D[0]}}"; BATCH="${BATCH:-${D[1]}}"; EPOCHS="${EPOCHS:-${D[2]}}"; CLASSES="${D[3]}"
SEED="${SEED:-1}"; WARMUP_RATIO="${WARMUP_RATIO:-0.1}"; WEIGHT_DECAY="${WEIGHT_DECAY:-0.01}"
SWEEP="${SWEEP:-0}"; SUBMISSION="${SUBMISSION:-1}"  # SUBMISSION=0: dev only, no test-set files
PREDICT_ARGS=(); [ "$SUBMISSION" = 0 ] && PREDICT_ARGS=(--no-submission)
LRS="${LRS:-8e-6 1e-5 2e-5 3e-5}"; BATCHES="${BATCHES:-16 24 32}"
EPOCHS_LIST="${EPOCHS_LIST:-2 3 4 5}"; SEEDS="${SEEDS:-1 2 3}"
[ -f "$CHECKPOINT" ] || { echo "ir_fairseq: error: checkpoint not found: $CHECKPOINT" >&2; exit 1; }
[ -f "$TASK_BIN/splits.tsv" ] || { echo "ir_fairseq: error: $TASK_BIN has no splits.tsv (run scripts/preprocess_glue.sh)" >&2; exit 1; }
echo "[finetune_glue] TASK=$TASK LR=$LR BATCH=$BATCH EPOCHS=$EPOCHS SEED=$SEED WARMUP_RATIO=$WARMUP_RATIO WEIGHT_DECAY=$WEIGHT_DECAY SWEEP=$SWEEP SUBMISSION=$SUBMISSION"

read -r -a ARCH <<< "$("$PY" -m ir_fairseq.model_flags "$CHECKPOINT")"
TRAIN_ROWS=$(awk -F'\t' '$1=="train" {print $3}' "$TASK_BIN/splits.tsv")
DEVICE=(); "$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" || DEVICE=(--cpu)
case "$TASK" in
  CoLA)  METRIC=(--report-mcc --best-checkpoint-metric mcc --maximize-best-checkpoint-metric) ;;
  STS-B) METRIC=(--regression-target --report-pearson-and-spearman --best-checkpoint-metric spearman --maximize-best-checkpoint-metric) ;;
  *)     METRIC=(--best-checkpoint-metric accuracy --maximize-best-checkpoint-metric) ;;
esac

run_one() {  # lr batch epochs seed dir [extra]
  local lr="$1" batch="$2" epochs="$3" seed="$4" dir="$5"; shift 5
  local updates=$(( (TRAIN_ROWS + batch - 1) / batch * epochs ))
  local warmup; warmup=$("$PY" -c "print(int($updates * $WARMUP_RATIO))")
  mkdir -p "$dir"
  "$PY" -m fairseq_cli.train "$TASK_BIN" --user-dir "$ROOT/ir_fairseq" "${ARCH[@]}" \
    --restore-file "$CHECKPOINT" --reset-optimizer --reset-dataloader --reset-meters \
    --reset-lr-scheduler --task sentence_prediction --criterion sentence_prediction \
    --num-classes "$CLASSES" --init-token 0 --separator-token 2 --shorten-method truncate \
    --batch-size "$batch" --optimizer adam --adam-betas "(0.9,0.98)" --adam-eps 1e-6 \
    --weight-decay "$WEIGHT_DECAY" --lr "$lr" --lr-scheduler polynomial_decay \
    --warmup-updates "$warmup" --total-num-update "$updates" --max-epoch "$epochs" \
    --seed "$seed" --save-dir "$dir" --no-epoch-checkpoints --no-last-checkpoints \
    --log-format json --log-interval 50 --no-progress-bar "${METRIC[@]}" "${DEVICE[@]}" "$@" \
    > "$dir/train.log" 2>&1 || { tail -5 "$dir/train.log" >&2; return 1; }
  "$PY" -m ir_fairseq.glue_predict "$dir/checkpoint_best.pt" "$TASK" "$TASK_BIN" "$dir" "${PREDICT_ARGS[@]}" > "$dir/predict.log" 2>&1 \
    || { tail -5 "$dir/predict.log" >&2; return 1; }
}

if [ "$SWEEP" != "1" ]; then
  run_one "$LR" "$BATCH" "$EPOCHS" "$SEED" "$SAVE_DIR" "$@"
  echo "[finetune_glue] $(cat "$SAVE_DIR/dev_metrics.json" | tr -d '\n ')"
  exit 0
fi

mkdir -p "$SAVE_DIR"
SUMMARY="$SAVE_DIR/sweep.tsv"
echo -e "lr\tbatch\tepochs\tseed\tscore" > "$SUMMARY"
BEST=""
for lr in $LRS; do for batch in $BATCHES; do for epochs in $EPOCHS_LIST; do for seed in $SEEDS; do
  dir="$SAVE_DIR/runs/lr${lr}_bs${batch}_ep${epochs}_seed${seed}"
  run_one "$lr" "$batch" "$epochs" "$seed" "$dir" "$@"
  score=$("$PY" -c "import json,sys; from ir_fairseq.glue import get_task, main_score; print(main_score(get_task('$TASK'), json.load(open('$dir/dev_metrics.json'))))")
  echo -e "$lr\t$batch\t$epochs\t$seed\t$score" >> "$SUMMARY"
  if [ -z "$BEST" ] || "$PY" -c "import sys; sys.exit(0 if $score > $BEST_SCORE else 1)"; then
    [ -n "$BEST" ] && rm -f "$BEST/checkpoint_best.pt"  # keep only the best dev checkpoint
    BEST="$dir"; BEST_SCORE="$score"
  else
    rm -f "$dir/checkpoint_best.pt"
  fi
done; done; done; done
mv "$BEST/checkpoint_best.pt" "$SAVE_DIR/"
cp -r "$BEST/dev_metrics.json" "$BEST/dev_predictions.tsv" "$BEST/submission" "$SAVE_DIR/"
echo "$BEST" > "$SAVE_DIR/best_run.txt"
echo "[finetune_glue] best of sweep ($BEST_SCORE): $BEST"
