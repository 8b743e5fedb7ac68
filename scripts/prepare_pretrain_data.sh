#!/usr/bin/env bash
# Raw text -> tokenised -> fairseq binary shards for masked_lm_ir pre-training.
#
#   bash scripts/prepare_pretrain_data.sh OUT_DIR INPUT [INPUT ...]
#
# INPUT: text files (one paragraph per line, blank line between documents) or WikiExtractor
# folders (<doc> tags stripped by `ir-fairseq prepare-corpus split`). Environment:
#   MODEL_DIR   a model folder to continue from (converted BERT/ELECTRA: dict.txt + vocab.txt;
#               fairseq RoBERTa: dict.txt + encoder.json + vocab.bpe; or dict.txt + spm.model):
#               its tokenizer and dictionary are used as they are.
#               Unset: a sentencepiece model (VOCAB pieces) is trained on the training text and
#               OUT_DIR becomes the model folder (dict.txt + spm.model).
#   SHARDS      split the training documents into this many binaries OUT_DIR/shard0..N-1
#               (dealt round-robin by `ir-fairseq prepare-corpus shard`; fairseq reads one
#               per epoch; every shard also gets the validation set)
#   VALID_DOCS  documents held out for validation; WORKERS preprocessing processes.
# Prints DATA=<colon-separated shard paths> for pretrain_ir.sh.
set -euo pipefail
if [ $# -lt 2 ]; then
  echo "usage: bash scripts/prepare_pretrain_data.sh OUT_DIR INPUT [INPUT ...]" >&2
  exit 2
fi
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${PYTHON:-$ROOT/.venv/bin/python}"
OUT_DIR="$1"; shift
MODEL_DIR="${MODEL_DIR:-}"; SHARDS="${SHARDS:-1}"; VALID_DOCS="${VALID_DOCS:-20}"
VOCAB="${VOCAB:-32000}"; WORKERS="${WORKERS:-2}"
echo "[prepare_pretrain_data] OUT_DIR=$OUT_DIR MODEL_DIR=${MODEL_DIR:-(train sentencepiece)} SHARDS=$SHARDS VALID_DOCS=$VALID_DOCS VOCAB=$VOCAB WORKERS=$WORKERS"
if [ -n "$MODEL_DIR" ] && [ ! -f "$MODEL_DIR/dict.txt" ]; then
  echo "ir_fairseq: error: MODEL_DIR $MODEL_DIR has no dict.txt" >&2; exit 1
fi
if ! [[ "$SHARDS" =~ ^[1-9][0-9]*$ ]]; then
  echo "ir_fairseq: error: SHARDS must be a positive integer, got '$SHARDS'" >&2; exit 1
fi
if [ -e "$OUT_DIR/shard0" ]; then
  echo "ir_fairseq: error: $OUT_DIR already holds binarised shards; choose another OUT_DIR" >&2; exit 1
fi
mkdir -p "$OUT_DIR/text"
"$PY" -m ir_fairseq prepare-corpus split "$OUT_DIR/text" "$@" --valid-docs "$VALID_DOCS"

if [ -z "$MODEL_DIR" ]; then
  "$PY" -m ir_fairseq spm train --input "$OUT_DIR/text/train.txt" --model-prefix "$OUT_DIR/spm" \
    --vocab-size "$VOCAB" > /dev/null
fi
TOKENIZER_DIR="${MODEL_DIR:-$OUT_DIR}"
for split in train valid; do
  "$PY" -m ir_fairseq tokenize "$TOKENIZER_DIR" < "$OUT_DIR/text/$split.txt" > "$OUT_DIR/text/$split.tok"
done
if [ -z "$MODEL_DIR" ]; then  # one dictionary over all the training text, shared by every shard
  "$PY" -m fairseq_cli.preprocess --only-source --dict-only --trainpref "$OUT_DIR/text/train.tok" \
    --destdir "$OUT_DIR" --workers "$WORKERS" > "$OUT_DIR/preprocess_dict.log" 2>&1 \
    || { tail -5 "$OUT_DIR/preprocess_dict.log" >&2; exit 1; }
  # every piece gets an id, also those the training text never chose (exports tokenize exactly)
  "$PY" -m ir_fairseq spm complete-dict --model "$OUT_DIR/spm.model" "$OUT_DIR/dict.txt" >> "$OUT_DIR/preprocess_dict.log"
fi
DICT="${MODEL_DIR:-$OUT_DIR}/dict.txt"
"$PY" -m ir_fairseq prepare-corpus shard "$OUT_DIR/text/train.tok" "$OUT_DIR/text/train" "$SHARDS" > /dev/null
DATA=""
for ((i = 0; i < SHARDS; i++)); do
  shard="$OUT_DIR/shard$i"
  "$PY" -m fairseq_cli.preprocess --only-source --srcdict "$DICT" \
    --trainpref "$OUT_DIR/text/train$i.tok" --validpref "$OUT_DIR/text/valid.tok" \
    --destdir "$shard" --workers "$WORKERS" > "$OUT_DIR/preprocess_shard$i.log" 2>&1 \
    || { tail -5 "$OUT_DIR/preprocess_shard$i.log" >&2; exit 1; }
  # GPT-2 ids say nothing of word starts: --mask-whole-words reads them from encoder.json here
  for name in encoder.json vocab.bpe; do
    if [ -f "$TOKENIZER_DIR/$name" ]; then cp "$TOKENIZER_DIR/$name" "$shard/"; fi
  done
  DATA="${DATA:+$DATA:}$shard"
done
echo "[prepare_pretrain_data] tokens per shard:"
grep -h "tokens" "$OUT_DIR"/preprocess_shard*.log | grep "train" | sed 's/^/  /' || true
echo "DATA=$DATA"
