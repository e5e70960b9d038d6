#!/usr/bin/env bash
# Distributed testing on torchrun (mmdet's dist_test.sh without the deprecated
# torch.distributed.launch):
#
#   bash tools/dist_test.sh CONFIG CHECKPOINT GPUS [test.py args ...]
#
# GPUS processes on this node; NNODES, NODE_RANK, MASTER_ADDR, PORT, PYTHON: see torchrun.sh.
set -euo pipefail

if [[ $# -lt 3 ]]; then
  echo "usage: $0 CONFIG CHECKPOINT GPUS [test.py args ...]" >&2
  exit 2
fi
TOOLS="$(cd "$(dirname "$0")" && pwd)"
exec bash "$TOOLS/torchrun.sh" "$TOOLS/test.py" "$3" "$1" "$2" --launcher pytorch "${@:4}"
