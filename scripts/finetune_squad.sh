#!/usr/bin/env bash
# Fine-tune a pre-trained checkpoint on SQuAD v1.1 (task and criterion squad_span), then predict
# and score the dev file that preprocess_squad.sh read (PREDICT=0 skips that).
#
#   bash scripts/finetune_squad.sh CHECKPOINT [SQUAD_BIN] [SAVE_DIR] [extra fairseq-train args]
#
# SQUAD_BIN: from scripts/preprocess_squad.sh (default squad-bin); SAVE_DIR default
# checkpoints-squad. Environment: LR (3e-5), BATCH (32 windows), EPOCHS (2), WARMUP_RATIO (0.1),
# WEIGHT_DECAY (0.01), ADAM_BETAS ("(0.9,0.999)"), SEED (1), PREDICT (1), GROUP_BY_LENGTH (1:
# length-grouped batches, shuffled every epoch; 0: a random order). The model after the last
# epoch (SAVE_DIR/checkpoint_last.pt) is the one evaluated, as in the standard recipe; SAVE_DIR gets
# dev_predictions.json, dev_nbest.json and dev_metrics.json (official EM/F1). The schedule assumes
# one process and no --update-freq; extra args come last, so --total-num-update/--warmup-updates
# given there win.
set -euo pipefail
if [ $# -lt 1 ]; then
  echo "usage: bash scripts/finetune_squad.sh CHECKPOINT [SQUAD_BIN] [SAVE_DIR] [extra fairseq-train args]" >&2
  exit 2
fi
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CHECKPOINT="$1"; shift
SQUAD_BIN="squad-bin"; SAVE_DIR="checkpoints-squad"
if [ $# -gt 0 ] && [[ "$1" != -* ]]; then SQUAD_BIN="$1"; shift; fi
if [ $# -gt 0 ] && [[ "$1" != -* ]]; then SAVE_DIR="$1"; shift; fi
PY="${PYTHON:-$ROOT/.venv/bin/python}"
LR="${LR:-3e-5}"; BATCH="${BATCH:-32}"; EPOCHS="${EPOCHS:-2}"; SEED="${SEED:-1}"
WARMUP_RATIO="${WARMUP_RATIO:-0.1}"; WEIGHT_DECAY="${WEIGHT_DECAY:-0.01}"
ADAM_BETAS="${ADAM_BETAS:-(0.9,0.999)}"; PREDICT="${PREDICT:-1}"
GROUP_BY_LENGTH="${GROUP_BY_LENGTH:-1}"; GROUP=(); [ "$GROUP_BY_LENGTH" = 1 ] && GROUP=(--group-by-length)
[ -f "$CHECKPOINT" ] || { echo "ir_fairseq: error: checkpoint not found: $CHECKPOINT" >&2; exit 1; }
[ -f "$SQUAD_BIN/squad_meta.json" ] || { echo "ir_fairseq: error: $SQUAD_BIN has no squad_meta.json (run scripts/preprocess_squad.sh)" >&2; exit 1; }
echo "[finetune_squad] CHECKPOINT=$CHECKPOINT SQUAD_BIN=$SQUAD_BIN SAVE_DIR=$SAVE_DIR LR=$LR BATCH=$BATCH EPOCHS=$EPOCHS WARMUP_RATIO=$WARMUP_RATIO WEIGHT_DECAY=$WEIGHT_DECAY ADAM_BETAS=$ADAM_BETAS SEED=$SEED PREDICT=$PREDICT GROUP_BY_LENGTH=$GROUP_BY_LENGTH"

meta() {  # a value of squad_meta.json, e.g. meta splits train features
  "$PY" -c "import json, sys; v = json.load(open(sys.argv[1]))
for k in sys.argv[2:]: v = v[k]
print('' if v is None else v)" "$SQUAD_BIN/squad_meta.json" "$@"
}
ARCH_FLAGS="$("$PY" -m ir_fairseq model-flags "$CHECKPOINT")"  # a command substitution in `read` would hide its failure
read -r -a ARCH <<< "$ARCH_FLAGS"
FEATURES=$(meta splits train features)
UPDATES=$(( (FEATURES + BATCH - 1) / BATCH * EPOCHS ))
WARMUP=$(awk -v updates="$UPDATES" -v ratio="$WARMUP_RATIO" 'BEGIN { printf "%d", updates * ratio }')
DEVICE=(); "$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" || DEVICE=(--cpu)
echo "[finetune_squad] $FEATURES training windows: $UPDATES updates, $WARMUP warm-up; log: $SAVE_DIR/train.log"
mkdir -p "$SAVE_DIR"
"$PY" -m fairseq_cli.train "$SQUAD_BIN" --user-dir "$ROOT/ir_fairseq" "${ARCH[@]}" \
  --restore-file "$CHECKPOINT" --reset-optimizer --reset-dataloader --reset-meters --reset-lr-scheduler \
  --task squad_span "${GROUP[@]}" --criterion squad_span --batch-size "$BATCH" \
  --optimizer adam --adam-betas "$ADAM_BETAS" --adam-eps 1e-6 --weight-decay "$WEIGHT_DECAY" \
  --lr "$LR" --lr-scheduler polynomial_decay --warmup-updates "$WARMUP" --total-num-update "$UPDATES" \
  --max-epoch "$EPOCHS" --seed "$SEED" --save-dir "$SAVE_DIR" --no-epoch-checkpoints \
  --log-format json --log-interval 50 --no-progress-bar "${DEVICE[@]}" \
  --distributed-world-size 1 "$@" \
  > "$SAVE_DIR/train.log" 2>&1 || {
    last="$(tail -1 "$SAVE_DIR/train.log")"  # the plugin's one-line errors alone, anything else with context
    if [[ "$last" == "ir_fairseq: error:"* ]]; then echo "$last" >&2; else tail -5 "$SAVE_DIR/train.log" >&2; fi
    exit 1
  }
grep '| valid |' "$SAVE_DIR/train.log" | tail -1 | sed 's/^.*| valid | /[finetune_squad] valid: /' || true

DEV_FILE=$(meta splits valid file); LIMIT=$(meta limit)
if [ "$PREDICT" = "1" ] && [ -f "$DEV_FILE" ]; then
  "$PY" -m ir_fairseq squad-predict "$SAVE_DIR/checkpoint_last.pt" "$DEV_FILE" --model-dir "$SQUAD_BIN" \
    ${LIMIT:+--limit "$LIMIT"} --output "$SAVE_DIR/dev_predictions.json" --nbest-file "$SAVE_DIR/dev_nbest.json" \
    --metrics-file "$SAVE_DIR/dev_metrics.json"
  echo "[finetune_squad] dev ($DEV_FILE${LIMIT:+, first $LIMIT questions}): $(tr -d '\n ' < "$SAVE_DIR/dev_metrics.json")"
fi
echo "[finetune_squad] model: $SAVE_DIR/checkpoint_last.pt"
