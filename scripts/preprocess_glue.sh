#!/usr/bin/env bash
# Official GLUE TSVs -> fairseq sentence_prediction data for one task.
#
#   bash scripts/preprocess_glue.sh GLUE_DIR TASK MODEL_DIR OUT_DIR     # -> OUT_DIR/TASK-bin
#
# MODEL_DIR: the pre-trained model's dict.txt and tokenizer (spm.model or WordPiece vocab.txt). TASK: CoLA SST-2 MRPC STS-B QQP
# MNLI QNLI RTE WNLI. OUT_DIR/TASK-bin/splits.tsv says which fairseq split is which GLUE file;
# OUT_DIR/TASK-bin/raw keeps the tokenised text, labels and GLUE row indices; the bin is marked
# complete for its MAX_TRAIN_ROWS once binarised (ir_fairseq.glue.prepare.is_complete reads it).
set -euo pipefail
if [ $# -ne 4 ]; then
  echo "usage: bash scripts/preprocess_glue.sh GLUE_DIR TASK MODEL_DIR OUT_DIR" >&2
  exit 2
fi
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
GLUE_DIR="$1"; TASK="$2"; MODEL_DIR="$3"; OUT_DIR="$4"
PY="${PYTHON:-$ROOT/.venv/bin/python}"
WORKERS="${WORKERS:-2}"; MAX_TRAIN_ROWS="${MAX_TRAIN_ROWS:-}"  # subsample train (seeded); dev/test stay whole
echo "[preprocess_glue] TASK=$TASK GLUE_DIR=$GLUE_DIR MODEL_DIR=$MODEL_DIR OUT_DIR=$OUT_DIR WORKERS=$WORKERS MAX_TRAIN_ROWS=${MAX_TRAIN_ROWS:-all}"
BIN="$OUT_DIR/$TASK-bin"
# tokenise, binarise (fairseq-preprocess, in the same process) and mark the bin complete
"$PY" -m ir_fairseq glue-prepare "$GLUE_DIR" "$TASK" "$MODEL_DIR" "$BIN" --workers "$WORKERS" \
  ${MAX_TRAIN_ROWS:+--max-train-rows "$MAX_TRAIN_ROWS"}
echo "[preprocess_glue] wrote $BIN"
cat "$BIN/splits.tsv"
