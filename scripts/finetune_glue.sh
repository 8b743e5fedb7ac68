#!/usr/bin/env bash
# Fine-tune a pre-trained checkpoint on one GLUE task (task sentence_prediction_ir: fairseq's
# sentence_prediction with length-grouped batches, GROUP_BY_LENGTH=0 for a random order), then
# write dev_metrics.json, dev_predictions.tsv and the test submission files (ir-fairseq glue-predict).
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

# the task's facts (defaults within the paper's grid, --num-classes, metric flags) come from
# the package; an unknown task stops here with one line
RECIPE_FACTS="$("$PY" -m ir_fairseq glue-task "$TASK" recipe)"  # defaults, metric flags, cuda|cpu
read -r D_LR D_BATCH D_EPOCHS CLASSES <<< "$(sed -n 1p <<< "$RECIPE_FACTS")"
LR="${LR:-$D_LR}"; BATCH="${BATCH:-$D_BATCH}"; EPOCHS="${EPOCHS:-$D_EPOCHS}"
SEED="${SEED:-1}"; WARMUP_RATIO="${WARMUP_RATIO:-0.1}"; WEIGHT_DECAY="${WEIGHT_DECAY:-0.01}"
SWEEP="${SWEEP:-0}"; SUBMISSION="${SUBMISSION:-1}"  # SUBMISSION=0: dev only, no test-set files
GROUP_BY_LENGTH="${GROUP_BY_LENGTH:-1}"; GROUP=(); [ "$GROUP_BY_LENGTH" = 1 ] && GROUP=(--group-by-length)
PREDICT_ARGS=(); [ "$SUBMISSION" = 0 ] && PREDICT_ARGS=(--no-submission)
LRS="${LRS:-8e-6 1e-5 2e-5 3e-5}"; BATCHES="${BATCHES:-16 24 32}"
EPOCHS_LIST="${EPOCHS_LIST:-2 3 4 5}"; SEEDS="${SEEDS:-1 2 3}"
[ -f "$CHECKPOINT" ] || { echo "ir_fairseq: error: checkpoint not found: $CHECKPOINT" >&2; exit 1; }
[ -f "$TASK_BIN/splits.tsv" ] || { echo "ir_fairseq: error: $TASK_BIN has no splits.tsv (run scripts/preprocess_glue.sh)" >&2; exit 1; }
echo "[finetune_glue] TASK=$TASK LR=$LR BATCH=$BATCH EPOCHS=$EPOCHS SEED=$SEED WARMUP_RATIO=$WARMUP_RATIO WEIGHT_DECAY=$WEIGHT_DECAY SWEEP=$SWEEP SUBMISSION=$SUBMISSION GROUP_BY_LENGTH=$GROUP_BY_LENGTH"

ARCH_FLAGS="$("$PY" -m ir_fairseq model-flags "$CHECKPOINT")"
read -r -a ARCH <<< "$ARCH_FLAGS"
read -r -a METRIC <<< "$(sed -n 2p <<< "$RECIPE_FACTS")"
TRAIN_ROWS=$(awk -F'\t' '$1=="train" {print $3}' "$TASK_BIN/splits.tsv")
DEVICE=(); [ "$(sed -n 3p <<< "$RECIPE_FACTS")" = cuda ] || DEVICE=(--cpu)

run_one() {  # lr batch epochs seed dir [extra]
  local lr="$1" batch="$2" epochs="$3" seed="$4" dir="$5"; shift 5
  local updates=$(( (TRAIN_ROWS + batch - 1) / batch * epochs ))
  local warmup; warmup=$(awk -v u="$updates" -v r="$WARMUP_RATIO" 'BEGIN {printf "%d", u * r}')
  mkdir -p "$dir"
  "$PY" -m fairseq_cli.train "$TASK_BIN" --user-dir "$ROOT/ir_fairseq" "${ARCH[@]}" \
    --restore-file "$CHECKPOINT" --reset-optimizer --reset-dataloader --reset-meters \
    --reset-lr-scheduler --task sentence_prediction_ir "${GROUP[@]}" --criterion sentence_prediction \
    --num-classes "$CLASSES" --init-token 0 --separator-token 2 --shorten-method truncate \
    --batch-size "$batch" --optimizer adam --adam-betas "(0.9,0.98)" --adam-eps 1e-6 \
    --weight-decay "$WEIGHT_DECAY" --lr "$lr" --lr-scheduler polynomial_decay \
    --warmup-updates "$warmup" --total-num-update "$updates" --max-epoch "$epochs" \
    --seed "$seed" --save-dir "$dir" --no-epoch-checkpoints --no-last-checkpoints \
    --log-format json --log-interval 50 --no-progress-bar "${METRIC[@]}" "${DEVICE[@]}" \
    --distributed-world-size 1 "$@" \
    > "$dir/train.log" 2>&1 || {
      last="$(tail -1 "$dir/train.log")"  # the plugin's one-line errors alone, anything else with context
      if [[ "$last" == "ir_fairseq: error:"* ]]; then echo "$last" >&2; else tail -5 "$dir/train.log" >&2; fi
      return 1; }
  "$PY" -m ir_fairseq glue-predict "$dir/checkpoint_best.pt" "$TASK" "$TASK_BIN" "$dir" "${PREDICT_ARGS[@]}" > "$dir/predict.log" 2>&1 \
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
  score="$("$PY" -m ir_fairseq glue-task "$TASK" score "$dir/dev_metrics.json")"
  echo -e "$lr\t$batch\t$epochs\t$seed\t$score" >> "$SUMMARY"
  if [ -z "$BEST" ] || awk -v a="$score" -v b="$BEST_SCORE" 'BEGIN {exit !(a + 0 > b + 0)}'; then
    [ -n "$BEST" ] && rm -f "$BEST/checkpoint_best.pt"  # keep only the best dev checkpoint
    BEST="$dir"; BEST_SCORE="$score"
  else
    rm -f "$dir/checkpoint_best.pt"
  fi
done; done; done; done
mv "$BEST/checkpoint_best.pt" "$SAVE_DIR/"
cp -r "$BEST/dev_metrics.json" "$BEST/dev_predictions.tsv" "$SAVE_DIR/"
[ -d "$BEST/submission" ] && cp -r "$BEST/submission" "$SAVE_DIR/"  # none with SUBMISSION=0
echo "$BEST" > "$SAVE_DIR/best_run.txt"
echo "[finetune_glue] best of sweep ($BEST_SCORE): $BEST"
