#!/usr/bin/env bash
# Demo, end to end on CPU: data -> sentencepiece -> fairseq-preprocess -> pre-train a small
# RoBERTa with fairseq's masked_lm and with masked_lm_ir/instance_reg (same data, seed and
# updates) -> measure valid MLM loss, ECP, DPP, target_entropy -> fine-tune both, and the same
# architecture without pre-training, on a classification task through the GLUE recipe
# (preprocess_glue.sh, finetune_glue.sh) -> print side-by-side tables.
#
#   bash scripts/demo.sh                       # the embedded generated corpus and review task
#   bash scripts/demo.sh --corpus DIR_OR_FILE  # pre-train on WikiExtractor output or plain text
#   bash scripts/demo.sh --glue GLUE_DIR --glue-tasks "RTE CoLA"   # fine-tune on real GLUE tasks
#   bash scripts/demo.sh -- --ecp-weight 0.5   # anything after -- goes to the IR fairseq-train
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/scripts/setup.sh"
PY="$ROOT/.venv/bin/python"
BIN="$ROOT/.venv/bin"

CORPUS=""
GLUE=""
GLUE_TASKS="SST-2"
while [ $# -gt 0 ]; do
  case "$1" in
    --corpus) CORPUS="$2"; shift 2 ;;
    --glue) GLUE="$(cd "$2" && pwd)"; shift 2 ;;
    --glue-tasks) GLUE_TASKS="$2"; shift 2 ;;
    --) shift; break ;;
    *) echo "usage: bash scripts/demo.sh [--corpus PATH] [--glue GLUE_DIR [--glue-tasks \"RTE CoLA\"]] [-- extra fairseq-train args]" >&2; exit 2 ;;
  esac
done

WORK="${WORK:-$ROOT/demo_work}"
UPDATES="${UPDATES:-400}"
FINETUNE_EPOCHS="${FINETUNE_EPOCHS:-8}"
# a small model pre-trained from scratch for minutes needs a far larger fine-tuning step and more
# epochs than the paper's grid (8e-6..3e-5, meant for BERT/ELECTRA base); README's Demo result
# gives what was measured
FINETUNE_LR="${FINETUNE_LR:-1e-3}"
FINETUNE_BATCH="${FINETUNE_BATCH:-16}"
LAYERS="${LAYERS:-4}"
WIDTH="${WIDTH:-128}"
TOKENS="${TOKENS:-128}"
BATCH="${BATCH:-16}"
VOCAB="${VOCAB:-1000}"
SEED="${SEED:-1}"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"
echo "[demo] WORK=$WORK UPDATES=$UPDATES FINETUNE_EPOCHS=$FINETUNE_EPOCHS FINETUNE_LR=$FINETUNE_LR FINETUNE_BATCH=$FINETUNE_BATCH LAYERS=$LAYERS WIDTH=$WIDTH TOKENS=$TOKENS BATCH=$BATCH VOCAB=$VOCAB SEED=$SEED CORPUS=${CORPUS:-<generated>} GLUE=${GLUE:-<generated review task>} GLUE_TASKS=$GLUE_TASKS"

rm -rf "$WORK"
mkdir -p "$WORK"
cd "$WORK"

echo "[demo] 1/5 data"
"$PY" -m ir_fairseq synthetic-data raw --seed "$SEED"
if [ -n "$CORPUS" ]; then
  "$PY" -m ir_fairseq prepare-corpus split raw "$CORPUS"
fi
"$PY" -m ir_fairseq spm train --input raw/train.txt --model-prefix spm --vocab-size "$VOCAB" >/dev/null
for split in train valid; do
  "$PY" -m ir_fairseq spm encode --model spm.model < "raw/$split.txt" > "$split.spm"
done
# the dictionary: the training text's pieces, then (count 0) those it never chose, so that the
# models can be exported with a tokenizer that gives every piece its id
"$BIN/fairseq-preprocess" --only-source --dict-only --trainpref train.spm --destdir dict-counts \
  --workers 2 > preprocess.log 2>&1
"$PY" -m ir_fairseq spm complete-dict --model spm.model dict-counts/dict.txt >> preprocess.log
"$BIN/fairseq-preprocess" --only-source --srcdict dict-counts/dict.txt --trainpref train.spm --validpref valid.spm \
  --destdir data-bin --workers 2 >> preprocess.log 2>&1

MODEL=(--arch roberta_base --encoder-layers "$LAYERS" --encoder-embed-dim "$WIDTH"
       --encoder-ffn-embed-dim $((4 * WIDTH)) --encoder-attention-heads $((WIDTH / 32))
       --max-positions "$TOKENS")
COMMON=(--user-dir "$ROOT/ir_fairseq" "${MODEL[@]}" --tokens-per-sample "$TOKENS"
        --batch-size "$BATCH" --optimizer adam --adam-betas "(0.9,0.98)" --weight-decay 0.01
        --lr 5e-4 --lr-scheduler polynomial_decay --warmup-updates $((UPDATES / 10))
        --total-num-update "$UPDATES" --max-update "$UPDATES" --seed "$SEED" --cpu
        --log-format json --log-interval 20 --no-progress-bar --no-epoch-checkpoints
        --validate-interval-updates "$UPDATES" --num-workers 0 --data-buffer-size 0)

echo "[demo] 2/5 pre-train with fairseq masked_lm ($UPDATES updates)"
"$BIN/fairseq-train" data-bin "${COMMON[@]}" --task masked_lm --criterion masked_lm \
  --save-dir ckpt_masked_lm > pretrain_masked_lm.log 2>&1
echo "[demo] 3/5 pre-train with masked_lm_ir / instance_reg ($UPDATES updates)"
"$BIN/fairseq-train" data-bin "${COMMON[@]}" --task masked_lm_ir --criterion instance_reg \
  --save-dir ckpt_instance_reg "$@" > pretrain_instance_reg.log 2>&1

# the same architecture from random initialisation: one update at learning rate 0 saves it
"$BIN/fairseq-train" data-bin "${COMMON[@]}" --task masked_lm --criterion masked_lm --lr 0 \
  --max-update 1 --total-num-update 1 --warmup-updates 0 --save-dir ckpt_no_pretraining \
  > pretrain_no_pretraining.log 2>&1

echo "[demo] 4/5 measure valid MLM loss / ECP / DPP / target_entropy of all three"
for name in no_pretraining masked_lm instance_reg; do
  "$PY" -m ir_fairseq evaluate "ckpt_$name/checkpoint_last.pt" data-bin > "eval_$name.json" 2> "eval_$name.log"
done

echo "[demo] 5/5 fine-tune all three with the GLUE recipe on: $GLUE_TASKS"
GLUE="${GLUE:-$WORK/raw/glue}"
mkdir -p model_dir
cp data-bin/dict.txt spm.model model_dir/  # both models share the dictionary and tokenizer
for task in $GLUE_TASKS; do
  bash "$ROOT/scripts/preprocess_glue.sh" "$GLUE" "$task" model_dir glue-data > "preprocess_glue_$task.log" 2>&1
  for name in no_pretraining masked_lm instance_reg; do
    EPOCHS="$FINETUNE_EPOCHS" LR="$FINETUNE_LR" BATCH="$FINETUNE_BATCH" SEED="$SEED" bash "$ROOT/scripts/finetune_glue.sh" "$task" \
      "ckpt_$name/checkpoint_last.pt" "glue-data/$task-bin" "finetune/$name/$task" \
      > "finetune_${name}_$task.log" 2>&1
  done
done

"$PY" "$ROOT/examples/demo_report.py" "$WORK" | tee report.md
"$PY" -m ir_fairseq glue-report finetune | tee -a report.md
echo "[demo] logs and checkpoints in $WORK"
