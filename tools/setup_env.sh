#!/usr/bin/env bash
# Take a bare machine (Python >= 3.8 and a C++ compiler) to a working asl_det environment in a
# project-local virtual environment (default: .venv, override with ASL_DET_VENV).
#
#   bash tools/setup_env.sh          # idempotent; seconds when nothing is missing
#
# Steps: venv -> build tools -> torch (CPU 2.13.0 unless one is present) -> mmcv 2.1.0 built with
# its compiled ops (MMCV_WITH_OPS=1, no build isolation; CUDA ops when a GPU and nvcc are found)
# -> mmengine / mmdet -> asl_det in editable mode with its extras 'benchmark' (the glyph benchmark
# and the study) and 'tests' -> verify mmcv.ops and mmdet.models.
# Any failing step stops the script with its name.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${ASL_DET_VENV:-$ROOT/.venv}"
PYTHON_BIN="${PYTHON:-python3}"
MMCV_VERSION="2.1.0"
CPU_TORCH="torch==2.13.0"
STAMP="$VENV/.asl_det_setup_stamp"

step() { CURRENT_STEP="$1"; echo "[setup] $1"; }
trap 'echo "[setup] FAILED at step: ${CURRENT_STEP:-start} (exit $?)" >&2' ERR

# The stamp records what the environment was built from; when it matches and the imports work,
# nothing is re-installed.
fingerprint() {
  cat "$ROOT/requirements.txt" "$ROOT/setup.py" "$ROOT/tools/setup_env.sh" | sha256sum | cut -d' ' -f1
}

verify() {
  "$VENV/bin/python" - <<'PY'
import torch
import mmcv
from mmcv.ops import batched_nms, nms
import mmdet.models  # noqa: F401
import asl_det  # noqa: F401

boxes = torch.tensor([[0., 0., 10., 10.], [1., 1., 10., 10.], [20., 20., 30., 30.]])
scores = torch.tensor([0.9, 0.8, 0.7])
_, keep = nms(boxes, scores, iou_threshold=0.5)
assert keep.tolist() == [0, 2], keep
_, keep = batched_nms(boxes, scores, torch.tensor([0, 1, 0]), dict(type='nms', iou_threshold=0.5))
assert sorted(keep.tolist()) == [0, 1, 2], keep
print(f'[setup] verified: torch {torch.__version__}, mmcv {mmcv.__version__} with ops, '
      f'mmdet {mmdet.__version__}, asl_det {asl_det.__version__}')
PY
}

if [[ -x "$VENV/bin/python" && -f "$STAMP" && "$(cat "$STAMP")" == "$(fingerprint)" ]]; then
  if verify 2>/dev/null; then
    exit 0
  fi
  echo "[setup] environment stamp present but verification failed: repairing"
fi

step "virtual environment at $VENV"
if [[ ! -x "$VENV/bin/python" ]]; then
  "$PYTHON_BIN" -m venv "$VENV"
fi
PY="$VENV/bin/python"
PIP=("$PY" -m pip --disable-pip-version-check)

step "build tools (pip, setuptools<82 for pkg_resources, wheel, ninja)"
"${PIP[@]}" install -q --upgrade pip 'setuptools>=77.0.3,<82' wheel ninja numpy

step "torch"
if "$PY" -c 'import torch' 2>/dev/null; then
  echo "[setup] torch $("$PY" -c 'import torch; print(torch.__version__)') already present"
else
  echo "[setup] no torch found: installing $CPU_TORCH (for a CUDA build, install it first; see README)"
  "${PIP[@]}" install -q "$CPU_TORCH"
fi

step "mmcv $MMCV_VERSION with compiled ops"
if "$PY" -c "import mmcv, mmcv.ops; from mmcv.ops import nms; assert mmcv.__version__ == '$MMCV_VERSION'" 2>/dev/null; then
  echo "[setup] mmcv $MMCV_VERSION with ops already present"
else
  export MMCV_WITH_OPS=1
  export MAX_JOBS="${MAX_JOBS:-$(nproc)}"
  if "$PY" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null \
      && command -v nvcc >/dev/null; then
    export FORCE_CUDA=1
    echo "[setup] GPU and nvcc found: building mmcv with CUDA ops"
  fi
  echo "[setup] building mmcv $MMCV_VERSION from source: about 10 minutes on 2 cores" \
       "(pip caches the wheel, later runs take seconds)"
  "${PIP[@]}" install -q --no-build-isolation "mmcv==$MMCV_VERSION"
fi

step "mmengine, mmdet, pycocotools; asl_det in editable mode with extras benchmark and tests"
"${PIP[@]}" install -q --no-build-isolation -e "$ROOT[benchmark,tests]"

step "verify mmcv.ops (nms, batched_nms) and mmdet.models"
verify
fingerprint > "$STAMP"
echo "[setup] done: activate with 'source $VENV/bin/activate'"
