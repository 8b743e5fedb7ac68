#!/usr/bin/env bash
# Demo, end to end on CPU: data -> sentencepiece -> fairseq-preprocess -> pre-train a small
# RoBERTa with fairseq's masked_lm and with masked_lm_ir/instance_reg (same data, seed and
# updates) -> measure valid MLM loss, ECP, DPP -> fine-tune both on a classification task
# -> print a side-by-side table.
#
#   bash scripts/demo.sh                     # the embedded generated corpus (default)
#   bash scripts/demo.sh --corpus DIR_OR_FILE  # WikiExtractor output or plain text instead
#   bash scripts/demo.sh -- --ecp-weight 0.5   # anything after -- goes to the IR fairseq-train
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/scripts/setup.sh"
PY="$ROOT/.venv/bin/python"
BIN="$ROOT/.venv/bin"

CORPUS=""
while [ $# -gt 0 ]; do
  case "$1" in
    --corpus) CORPUS="$2"; shift 2 ;;
    --) shift; break ;;
    *) echo "usage: bash scripts/demo.sh [--corpus PATH] [-- extra fairseq-train args]" >&2; exit 2 ;;
  esac
done

WORK="${WORK:-$ROOT/demo_work}"
UPDATES="${UPDATES:-400}"
FINETUNE_EPOCHS="${FINETUNE_EPOCHS:-3}"
LAYERS="${LAYERS:-4}"
WIDTH="${WIDTH:-128}"
TOKENS="${TOKENS:-128}"
BATCH="${BATCH:-16}"
VOCAB="${VOCAB:-1000}"
SEED="${SEED:-1}"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"
echo "[demo] WORK=$WORK UPDATES=$UPDATES FINETUNE_EPOCHS=$FINETUNE_EPOCHS LAYERS=$LAYERS WIDTH=$WIDTH TOKENS=$TOKENS BATCH=$BATCH VOCAB=$VOCAB SEED=$SEED CORPUS=${CORPUS:-<generated>}"

rm -rf "$WORK"
mkdir -p "$WORK"
cd "$WORK"

echo "[demo] 1/5 data"
"$PY" "$ROOT/examples/generate_corpus.py" raw --seed "$SEED"
if [ -n "$CORPUS" ]; then
  "$PY" "$ROOT/examples/prepare_corpus.py" raw "$CORPUS"
fi
"$PY" -m ir_fairseq.spm train --input raw/train.txt --model-prefix spm --vocab-size "$VOCAB" >/dev/null
for split in train valid; do
  "$PY" -m ir_fairseq.spm encode --model spm.model < "raw/$split.txt" > "$split.spm"
done
"$BIN/fairseq-preprocess" --only-source --trainpref train.spm --validpref valid.spm \
  --destdir data-bin --workers 2 > preprocess.log 2>&1

MODEL=(--arch roberta_base --encoder-layers "$LAYERS" --encoder-embed-dim "$WIDTH"
       --encoder-ffn-embed-dim $((4 * WIDTH)) --encoder-attention-heads $((WIDTH / 32))
       --max-positions "$TOKENS")
COMMON=(--user-dir "$ROOT/ir_fairseq" "${MODEL[@]}" --tokens-per-sample "$TOKENS"
        --batch-size "$BATCH" --optimizer adam --adam-betas "(0.9,0.98)" --weight-decay 0.01
        --lr 5e-4 --lr-scheduler polynomial_decay --warmup-updates $((UPDATES / 10))
        --total-num-update "$UPDATES" --max-update "$UPDATES" --seed "$SEED" --cpu
        --log-format json --log-interval 20 --no-progress-bar --no-epoch-checkpoints
        --validate-interval-updates "$UPDATES" --num-workers 0)

echo "[demo] 2/5 pre-train with fairseq masked_lm ($UPDATES updates)"
"$BIN/fairseq-train" data-bin "${COMMON[@]}" --task masked_lm --criterion masked_lm \
  --save-dir ckpt_masked_lm > pretrain_masked_lm.log 2>&1
echo "[demo] 3/5 pre-train with masked_lm_ir / instance_reg ($UPDATES updates)"
"$BIN/fairseq-train" data-bin "${COMMON[@]}" --task masked_lm_ir --criterion instance_reg \
  --save-dir ckpt_instance_reg "$@" > pretrain_instance_reg.log 2>&1

echo "[demo] 4/5 measure valid MLM loss / ECP / DPP of both"
for name in masked_lm instance_reg; do
  "$PY" -m ir_fairseq.evaluate "ckpt_$name/checkpoint_last.pt" data-bin > "eval_$name.json" 2> "eval_$name.log"
done

echo "[demo] 5/5 fine-tune both on the generated sentiment task (sentence_prediction)"
"$PY" "$ROOT/examples/prepare_classification.py" raw/sentiment spm.model sentiment
"$BIN/fairseq-preprocess" --only-source --trainpref sentiment/train.input0 \
  --validpref sentiment/dev.input0 --srcdict data-bin/dict.txt --destdir sentiment-bin/input0 \
  --workers 2 >> preprocess.log 2>&1
"$BIN/fairseq-preprocess" --only-source --trainpref sentiment/train.label \
  --validpref sentiment/dev.label --destdir sentiment-bin/label --workers 2 >> preprocess.log 2>&1
for name in masked_lm instance_reg; do
  "$BIN/fairseq-train" sentiment-bin --user-dir "$ROOT/ir_fairseq" "${MODEL[@]}" \
    --task sentence_prediction --criterion sentence_prediction --num-classes 2 \
    --init-token 0 --separator-token 2 --restore-file "ckpt_$name/checkpoint_last.pt" \
    --reset-optimizer --reset-dataloader --reset-meters --reset-lr-scheduler \
    --batch-size 16 --optimizer adam --lr 1e-4 --lr-scheduler fixed --max-epoch "$FINETUNE_EPOCHS" \
    --best-checkpoint-metric accuracy --maximize-best-checkpoint-metric --no-save \
    --seed "$SEED" --cpu --log-format json --log-interval 20 --no-progress-bar --num-workers 0 \
    --valid-subset valid > "finetune_$name.log" 2>&1
done

"$PY" "$ROOT/examples/demo_report.py" "$WORK" | tee report.md
echo "[demo] logs and checkpoints in $WORK"
