#!/usr/bin/env bash
# SQuAD v1.1 JSON -> binarised windows for fairseq-train --task squad_span (ir-fairseq squad-prepare).
#
#   bash scripts/preprocess_squad.sh SQUAD_DIR MODEL_DIR [OUT_DIR]     # OUT_DIR default: squad-bin
#
# SQUAD_DIR: train-v1.1.json and dev-v1.1.json (other names: TRAIN_FILE, DEV_FILE). MODEL_DIR: the
# pre-trained model's dict.txt and tokenizer (spm.model or WordPiece vocab.txt). Environment:
# MAX_LENGTH (384), DOC_STRIDE (128), MAX_QUERY_LENGTH (64), LIMIT (first N questions of each file).
# OUT_DIR gets {train,valid}.{tokens,spans}.{bin,idx}, dict.txt and the tokenizer, squad_meta.json.
set -euo pipefail
if [ $# -lt 2 ] || [ $# -gt 3 ]; then
  echo "usage: bash scripts/preprocess_squad.sh SQUAD_DIR MODEL_DIR [OUT_DIR]" >&2
  exit 2
fi
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SQUAD_DIR="$1"; MODEL_DIR="$2"; OUT_DIR="${3:-squad-bin}"
PY="${PYTHON:-$ROOT/.venv/bin/python}"
TRAIN_FILE="${TRAIN_FILE:-train-v1.1.json}"; DEV_FILE="${DEV_FILE:-dev-v1.1.json}"
MAX_LENGTH="${MAX_LENGTH:-384}"; DOC_STRIDE="${DOC_STRIDE:-128}"; MAX_QUERY_LENGTH="${MAX_QUERY_LENGTH:-64}"
LIMIT="${LIMIT:-}"
echo "[preprocess_squad] SQUAD_DIR=$SQUAD_DIR MODEL_DIR=$MODEL_DIR OUT_DIR=$OUT_DIR TRAIN_FILE=$TRAIN_FILE DEV_FILE=$DEV_FILE MAX_LENGTH=$MAX_LENGTH DOC_STRIDE=$DOC_STRIDE MAX_QUERY_LENGTH=$MAX_QUERY_LENGTH LIMIT=${LIMIT:-all}"
"$PY" -m ir_fairseq squad-prepare "$SQUAD_DIR" "$MODEL_DIR" "$OUT_DIR" \
  --train-file "$TRAIN_FILE" --dev-file "$DEV_FILE" --max-length "$MAX_LENGTH" \
  --doc-stride "$DOC_STRIDE" --max-query-length "$MAX_QUERY_LENGTH" ${LIMIT:+--limit "$LIMIT"}
echo "[preprocess_squad] wrote $OUT_DIR"
