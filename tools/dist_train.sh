#!/usr/bin/env bash
# Distributed training with torchrun (python -m torch.distributed.run), mmdet's dist_train.sh
# without the deprecated torch.distributed.launch.
#
#   bash tools/dist_train.sh CONFIG GPUS [train.py args ...]
#
# GPUS is the number of processes on this node (CPU: gloo is picked automatically).
# Multi-node: NNODES, NODE_RANK, MASTER_ADDR and PORT as in mmdet; PYTHON picks the interpreter.
set -euo pipefail

if [[ $# -lt 2 ]]; then
  echo "usage: $0 CONFIG GPUS [train.py args ...]" >&2
  exit 2
fi
CONFIG=$1
GPUS=$2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
TOOLS="$(cd "$(dirname "$0")" && pwd)"

PYTHONPATH="$TOOLS/..${PYTHONPATH:+:$PYTHONPATH}" \
"${PYTHON:-python}" -m torch.distributed.run \
    --nnodes="$NNODES" \
    --node_rank="$NODE_RANK" \
    --master_addr="$MASTER_ADDR" \
    --nproc_per_node="$GPUS" \
    --master_port="$PORT" \
    "$TOOLS/train.py" \
    "$CONFIG" \
    --launcher pytorch "${@:3}"
