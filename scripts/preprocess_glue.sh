#!/usr/bin/env bash
# Official GLUE TSVs -> fairseq sentence_prediction data for one task.
#
#   bash scripts/preprocess_glue.sh GLUE_DIR TASK MODEL_DIR OUT_DIR     # -> OUT_DIR/TASK-bin
#
# MODEL_DIR: the pre-trained model's dict.txt and tokenizer (spm.model or WordPiece vocab.txt). TASK: CoLA SST-2 MRPC STS-B QQP
# MNLI QNLI RTE WNLI. OUT_DIR/TASK-bin/splits.tsv says which fairseq split is which GLUE file;
# OUT_DIR/TASK-bin/raw keeps the tokenised text, labels and GLUE row indices. The last step marks
# the bin complete for its MAX_TRAIN_ROWS (ir_fairseq.glue.prepare.is_complete reads it).
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
RAW="$BIN/raw"
"$PY" -m ir_fairseq glue-prepare "$GLUE_DIR" "$TASK" "$MODEL_DIR" "$BIN" ${MAX_TRAIN_ROWS:+--max-train-rows "$MAX_TRAIN_ROWS"}

split_list() {  # comma-separated RAW/<split>.<kind> for fairseq splits matching a prefix
  local prefix="$1" kind="$2" out=""
  for split in $(awk -F'\t' -v p="$prefix" 'NR>1 && $1 ~ "^"p {print $1}' "$BIN/splits.tsv"); do
    [ -f "$RAW/$split.$kind" ] && out="${out:+$out,}$RAW/$split.$kind"
  done
  echo "$out"
}

for kind in input0 input1; do
  [ -f "$RAW/train.$kind" ] || continue
  "$PY" -m fairseq_cli.preprocess --only-source --srcdict "$MODEL_DIR/dict.txt" \
    --trainpref "$RAW/train.$kind" --validpref "$(split_list valid "$kind")" \
    --testpref "$(split_list test "$kind")" --destdir "$BIN/$kind" --workers "$WORKERS" \
    > "$BIN/preprocess_$kind.log" 2>&1
done
if [ "$TASK" = "STS-B" ]; then  # regression: fairseq reads label/<split>.label as text
  mkdir -p "$BIN/label"
  for f in "$RAW"/*.label; do cp "$f" "$BIN/label/"; done
else
  "$PY" -m fairseq_cli.preprocess --only-source --trainpref "$RAW/train.label" \
    --validpref "$(split_list valid label)" --destdir "$BIN/label" --workers "$WORKERS" \
    > "$BIN/preprocess_label.log" 2>&1
fi
"$PY" -m ir_fairseq glue-prepare --mark-complete "$BIN"
echo "[preprocess_glue] wrote $BIN"
cat "$BIN/splits.tsv"
