#!/usr/bin/env bash
# Distributed training on torchrun (mmdet's dist_train.sh without the deprecated
# torch.distributed.launch):
#
#   bash tools/dist_train.sh CONFIG GPUS [train.py args ...]
#
# GPUS processes on this node; NNODES, NODE_RANK, MASTER_ADDR, PORT, PYTHON: see torchrun.sh.
set -euo pipefail

if [[ $# -lt 2 ]]; then
  echo "usage: $0 CONFIG GPUS [train.py args ...]" >&2
  exit 2
fi
TOOLS="$(cd "$(dirname "$0")" && pwd)"
exec bash "$TOOLS/torchrun.sh" "$TOOLS/train.py" "$2" "$1" --launcher pytorch "${@:3}"
