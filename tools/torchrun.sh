#!/usr/bin/env bash
# Launch a tools/*.py script on torchrun (python -m torch.distributed.run) with mmdet's variables:
#
#   bash tools/torchrun.sh SCRIPT NPROC [script args ...]
#
# NPROC processes on this node (CPU: gloo is picked automatically). Multi-node: NNODES,
# NODE_RANK, MASTER_ADDR and PORT as in mmdet's dist_*.sh; PYTHON picks the interpreter.
set -euo pipefail

SCRIPT=$1
NPROC=$2
TOOLS="$(cd "$(dirname "$0")" && pwd)"

PYTHONPATH="$TOOLS/..${PYTHONPATH:+:$PYTHONPATH}" \
exec "${PYTHON:-python}" -m torch.distributed.run \
    --nnodes="${NNODES:-1}" \
    --node_rank="${NODE_RANK:-0}" \
    --master_addr="${MASTER_ADDR:-127.0.0.1}" \
    --nproc_per_node="$NPROC" \
    --master_port="${PORT:-29500}" \
    "$SCRIPT" "${@:3}"
