#!/usr/bin/env bash
# Build the self-contained Linux bundle of labeltool: dist/labeltool/ (one folder, CPU PyTorch + onnxruntime).
#
#   bash packaging/build.sh            # venv in /tmp/bundle-venv (created if missing), output in dist/labeltool
#
# Environment: VENV (build venv, default /tmp/bundle-venv), PYTHON (default python3.11), DIST (default
# <repo>/dist), TORCH_SPEC (default torch==2.13.0, the CPU build; with PyTorch's CPU index reachable use
# e.g. TORCH_SPEC="torch torchvision --index-url https://download.pytorch.org/whl/cpu").
# The build venv is separate on purpose: never the development .venv (CUDA torch, test tools).
set -euo pipefail
# shellcheck source=packaging/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
VENV="${VENV:-/tmp/bundle-venv}"
PYTHON="${PYTHON:-python3.11}"
WORK="${WORK:-$ROOT/build/pyinstaller}"
TORCH_SPEC="${TORCH_SPEC:-torch==2.13.0 torchvision==0.28.0}"

if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
fi
PIP=("$VENV/bin/python" -m pip install --quiet --disable-pip-version-check)
# shellcheck disable=SC2086 # TORCH_SPEC is a list of words on purpose
"${PIP[@]}" $TORCH_SPEC
mkdir -p "$(dirname "$WORK")"
"$VENV/bin/python" - "$ROOT/pyproject.toml" > "$WORK.requirements.txt" <<'PY'
import sys, tomllib
deps = tomllib.load(open(sys.argv[1], "rb"))["project"]["dependencies"]
print("\n".join(d for d in deps if not d.lower().startswith(("torch", "torchvision"))))
PY
"${PIP[@]}" -r "$WORK.requirements.txt" "pyinstaller>=6.10"
"$VENV/bin/python" -c "import torch; print('bundling torch', torch.__version__, 'CUDA' if torch.version.cuda else 'CPU')"

"$VENV/bin/pyinstaller" --noconfirm --clean --log-level WARN \
    --distpath "$DIST" --workpath "$WORK" "$ROOT/packaging/labeltool.spec"

cp "$ROOT/resources/icons/labeltool.svg" "$BUNDLE/labeltool.svg"
cp "$ROOT/packaging/labeltool.desktop" "$BUNDLE/labeltool.desktop"
cp "$ROOT/packaging/install-desktop-entry.sh" "$BUNDLE/install-desktop-entry.sh"
chmod +x "$BUNDLE/install-desktop-entry.sh"
echo "built $BUNDLE ($(du -sh "$BUNDLE" | cut -f1)); run $BUNDLE/labeltool, or $BUNDLE/install-desktop-entry.sh for a menu entry"
