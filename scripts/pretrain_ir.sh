#!/usr/bin/env bash
# Pre-train (or continue pre-training) with Instance Regularization; IR=0 gives the MLM baseline
# with every other setting identical (the paper's fair comparison).
#
#   DATA=out/shard0:out/shard1 MODEL_DIR=bert-fs bash scripts/pretrain_ir.sh [extra fairseq args]
#
# Defaults are the paper's continued pre-training (§4.1): 100k updates from a public checkpoint,
# max length 512, lr 3e-5, masking 15% (80/10/10), Adam β=(0.9,0.98) ε=1e-6, weight decay 0.01,
# on 8 GPUs. Every setting is an environment variable, printed at start:
#   DATA         colon-separated binarised shards (scripts/prepare_pretrain_data.sh)   [required]
#   MODEL_DIR    folder with model.pt to continue from (ir-fairseq convert-hf-to-fairseq); its
#                architecture is used. Unset: train ARCH from scratch.
#   SAVE_DIR     checkpoints; re-running the same command resumes from SAVE_DIR/checkpoint_last.pt
#   IR=1|0       instance_reg criterion (ECP_WEIGHT, DPP_WEIGHT, IR_FRACTION, IR_NORMALIZE) or
#                fairseq's masked_lm; checkpoint_best is chosen by the MLM loss either way
#   GPUS         processes per node (8); NODES, NODE_RANK, MASTER_ADDR, MASTER_PORT for several
#                nodes (torchrun on every node with the same values but NODE_RANK)
#   MAX_UPDATE LR WARMUP TOKENS BATCH (sequences per GPU) TOTAL_BATCH (sequences per update:
#                --update-freq is derived from it) PRECISION (fp16|bf16|fp32|memory-efficient-fp16)
#                SEED LOG_INTERVAL SAVE_INTERVAL_UPDATES
#                BREAK_MODE (none: contiguous TOKENS-long blocks across sentences, as BERT; fairseq's
#                complete/complete_doc keep lines whole but fail on a line longer than TOKENS)
# Without CUDA the recipe runs on the CPU: GPUS gloo processes (default 1), legacy_ddp, fp32.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${PYTHON:-$ROOT/.venv/bin/python}"
if [ -z "${DATA:-}" ]; then
  echo "ir_fairseq: error: set DATA to the binarised shards (see scripts/prepare_pretrain_data.sh)" >&2
  exit 2
fi
CUDA_DEVICES=$("$PY" -c "import torch; print(torch.cuda.device_count())")
if [ "$CUDA_DEVICES" -gt 0 ]; then ON_GPU=1; else ON_GPU=0; fi
MODEL_DIR="${MODEL_DIR:-}"; ARCH="${ARCH:-roberta_base}"
IR="${IR:-1}"; SAVE_DIR="${SAVE_DIR:-checkpoints/pretrain_$([ "$IR" = 0 ] && echo mlm || echo ir)}"
ECP_WEIGHT="${ECP_WEIGHT:-1.0}"; DPP_WEIGHT="${DPP_WEIGHT:-1.0}"; IR_FRACTION="${IR_FRACTION:-1.0}"
IR_NORMALIZE="${IR_NORMALIZE:-none}"
GPUS="${GPUS:-$([ $ON_GPU = 1 ] && echo 8 || echo 1)}"
NODES="${NODES:-1}"; NODE_RANK="${NODE_RANK:-0}"; MASTER_ADDR="${MASTER_ADDR:-127.0.0.1}"; MASTER_PORT="${MASTER_PORT:-29500}"
MAX_UPDATE="${MAX_UPDATE:-100000}"; LR="${LR:-3e-5}"; WARMUP="${WARMUP:-$((MAX_UPDATE / 10))}"
TOKENS="${TOKENS:-512}"; BATCH="${BATCH:-16}"; TOTAL_BATCH="${TOTAL_BATCH:-256}"
PRECISION="${PRECISION:-$([ $ON_GPU = 1 ] && echo fp16 || echo fp32)}"
BREAK_MODE="${BREAK_MODE:-none}"; SEED="${SEED:-1}"; LOG_INTERVAL="${LOG_INTERVAL:-100}"; SAVE_INTERVAL_UPDATES="${SAVE_INTERVAL_UPDATES:-5000}"
WORLD=$((GPUS * NODES))
UPDATE_FREQ="${UPDATE_FREQ:-$(( (TOTAL_BATCH + BATCH * WORLD - 1) / (BATCH * WORLD) ))}"
echo "[pretrain_ir] DATA=$DATA MODEL_DIR=${MODEL_DIR:-(from scratch: ARCH=$ARCH)} SAVE_DIR=$SAVE_DIR IR=$IR" \
  "ECP_WEIGHT=$ECP_WEIGHT DPP_WEIGHT=$DPP_WEIGHT IR_FRACTION=$IR_FRACTION IR_NORMALIZE=$IR_NORMALIZE GPUS=$GPUS NODES=$NODES" \
  "NODE_RANK=$NODE_RANK MASTER_ADDR=$MASTER_ADDR MASTER_PORT=$MASTER_PORT MAX_UPDATE=$MAX_UPDATE LR=$LR" \
  "WARMUP=$WARMUP TOKENS=$TOKENS BATCH=$BATCH TOTAL_BATCH=$TOTAL_BATCH UPDATE_FREQ=$UPDATE_FREQ" \
  "PRECISION=$PRECISION BREAK_MODE=$BREAK_MODE SEED=$SEED device=$([ $ON_GPU = 1 ] && echo "cuda x$CUDA_DEVICES" || echo cpu)"
if [ $ON_GPU = 1 ] && [ "$GPUS" -gt "$CUDA_DEVICES" ]; then
  echo "ir_fairseq: error: GPUS=$GPUS but this node has $CUDA_DEVICES CUDA devices; set GPUS=$CUDA_DEVICES" >&2
  exit 1
fi

if [ -n "$MODEL_DIR" ]; then
  [ -f "$MODEL_DIR/model.pt" ] || { echo "ir_fairseq: error: $MODEL_DIR has no model.pt" >&2; exit 1; }
  read -r -a MODEL <<< "$("$PY" -m ir_fairseq model-flags "$MODEL_DIR/model.pt")"
  # start from the public weights once; later launches resume from SAVE_DIR/checkpoint_last.pt
  MODEL+=(--finetune-from-model "$MODEL_DIR/model.pt")
else
  MODEL=(--arch "$ARCH")
fi
if [ "$IR" = 1 ]; then
  # by `loss` (MLM + penalties) the best checkpoint would favour one whose penalties collapsed
  CRITERION=(--criterion instance_reg --ecp-weight "$ECP_WEIGHT" --dpp-weight "$DPP_WEIGHT"
             --ir-instance-fraction "$IR_FRACTION" --ir-normalize "$IR_NORMALIZE"
             --best-checkpoint-metric mlm_loss)
elif [ "$IR" = 0 ]; then
  CRITERION=(--criterion masked_lm)
else
  echo "ir_fairseq: error: IR must be 1 or 0, got '$IR'" >&2; exit 2
fi
case "$PRECISION" in
  fp16) PREC=(--fp16) ;; bf16) PREC=(--bf16) ;; fp32) PREC=() ;;
  memory-efficient-fp16) PREC=(--memory-efficient-fp16) ;;
  *) echo "ir_fairseq: error: PRECISION must be fp16, bf16, fp32 or memory-efficient-fp16" >&2; exit 2 ;;
esac
if [ $ON_GPU = 1 ]; then
  DEVICE=()
else
  DEVICE=(--cpu --distributed-backend gloo --ddp-backend legacy_ddp)
  export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
fi

ARGS=("$DATA" --user-dir "$ROOT/ir_fairseq" --task masked_lm_ir "${MODEL[@]}" "${CRITERION[@]}"
  --sample-break-mode "$BREAK_MODE" --tokens-per-sample "$TOKENS"
  --mask-prob 0.15 --leave-unmasked-prob 0.1 --random-token-prob 0.1
  --optimizer adam --adam-betas "(0.9,0.98)" --adam-eps 1e-6 --weight-decay 0.01 --clip-norm 0.0
  --lr "$LR" --lr-scheduler polynomial_decay --warmup-updates "$WARMUP" --total-num-update "$MAX_UPDATE"
  --max-update "$MAX_UPDATE" --batch-size "$BATCH" --update-freq "$UPDATE_FREQ" --seed "$SEED"
  --save-dir "$SAVE_DIR" --save-interval-updates "$SAVE_INTERVAL_UPDATES" --keep-interval-updates 3
  --no-epoch-checkpoints --log-format json --log-interval "$LOG_INTERVAL"
  "${PREC[@]}" "${DEVICE[@]}")
mkdir -p "$SAVE_DIR"
# SAVE_DIR doubles as a model folder (dictionary + tokenizer beside the checkpoints) for
# fine-tuning preprocessing and for ir-fairseq convert-fairseq-to-hf
TOKENIZER_DIR="${MODEL_DIR:-$(dirname "${DATA%%:*}")}"
for name in dict.txt spm.model vocab.txt tokenizer_config.json special_tokens_map.json encoder.json vocab.bpe; do
  if [ -f "$TOKENIZER_DIR/$name" ] && [ ! -e "$SAVE_DIR/$name" ]; then cp "$TOKENIZER_DIR/$name" "$SAVE_DIR/"; fi
done
[ -f "$SAVE_DIR/dict.txt" ] || cp "${DATA%%:*}/dict.txt" "$SAVE_DIR/"
# checkpoints remember their tokenizer (the one preprocessing used: the model folder's), so
# RobertaModel.from_pretrained(SAVE_DIR) can encode text
SAVE_ABS="$(cd "$SAVE_DIR" && pwd)"
BPE=()
if [ -f "$SAVE_DIR/vocab.txt" ] || [ -f "$SAVE_DIR/spm.model" ] || [ -f "$SAVE_DIR/encoder.json" ]; then
  read -r TOKENIZER CASING <<< "$("$PY" -m ir_fairseq tokenize "$SAVE_DIR" --describe)"
  if [ "$TOKENIZER" = sentencepiece ]; then
    BPE=(--bpe sentencepiece --sentencepiece-model "$SAVE_ABS/spm.model")
  elif [ "$TOKENIZER" = gpt2 ]; then  # fairseq RoBERTa's own BPE
    BPE=(--bpe gpt2 --gpt2-encoder-json "$SAVE_ABS/encoder.json" --gpt2-vocab-bpe "$SAVE_ABS/vocab.bpe")
  else
    BPE=(--bpe ir_wordpiece --wordpiece-vocab "$SAVE_ABS/vocab.txt")
    if [ "$CASING" = cased ]; then BPE+=(--wordpiece-cased); fi
  fi
fi
# the world size always: left out, fairseq takes every visible GPU (UPDATE_FREQ assumed WORLD)
ARGS+=("${BPE[@]}" --distributed-world-size "$WORLD" "$@")  # extra arguments last: they override the recipe's
if [ "$WORLD" = 1 ] && [ "${LAUNCHER:-}" != torchrun ]; then  # LAUNCHER=torchrun: torchrun even for one GPU
  exec "$PY" -m fairseq_cli.train "${ARGS[@]}"
fi
if [ $ON_GPU = 1 ]; then  # fairseq reads torchrun's env:// variables and picks its GPU
  exec "$PY" -m torch.distributed.run --nnodes "$NODES" --node_rank "$NODE_RANK" --nproc_per_node "$GPUS" \
    --master_addr "$MASTER_ADDR" --master_port "$MASTER_PORT" \
    -m fairseq_cli.train "${ARGS[@]}"
fi
# On CPU fairseq's torchrun path divides by the CUDA device count: start one process per rank
# with an explicit tcp:// rendezvous instead. The first rank to fail stops the others: they
# would wait for it in the next collective (or the rendezvous) until gloo's timeout.
PIDS=()
declare -A RANK_OF=()  # pid -> global rank, of the ranks still running
trap 'kill "${PIDS[@]}" 2>/dev/null || true' INT TERM
for ((local_rank = 0; local_rank < GPUS; local_rank++)); do
  rank=$((NODE_RANK * GPUS + local_rank))
  "$PY" -m fairseq_cli.train "${ARGS[@]}" \
    --distributed-rank "$rank" --distributed-no-spawn \
    --distributed-init-method "tcp://$MASTER_ADDR:$MASTER_PORT" &
  PIDS+=($!)
  RANK_OF[$!]=$rank
done
while [ ${#RANK_OF[@]} -gt 0 ]; do
  STATUS=0 DONE=""
  wait -n -p DONE "${!RANK_OF[@]}" || STATUS=$?  # bash >= 5.1
  if [ -z "${DONE:-}" ]; then  # interrupted: the trap has stopped the ranks
    wait || true
    exit "$STATUS"
  fi
  if [ "$STATUS" -ne 0 ]; then
    kill "${PIDS[@]}" 2>/dev/null || true
    wait || true
    echo "ir_fairseq: error: rank ${RANK_OF[$DONE]} exited with status $STATUS; stopped the other ranks" >&2
    exit "$STATUS"
  fi
  unset "RANK_OF[$DONE]"
done
