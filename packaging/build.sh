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
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV:-/tmp/bundle-venv}"
PYTHON="${PYTHON:-python3.11}"
DIST="${DIST:-$ROOT/dist}"
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

APP="$DIST/labeltool"
cp "$ROOT/resources/icons/labeltool.svg" "$APP/labeltool.svg"
cp "$ROOT/packaging/labeltool.desktop" "$APP/labeltool.desktop"
cp "$ROOT/packaging/install-desktop-entry.sh" "$APP/install-desktop-entry.sh"
chmod +x "$APP/install-desktop-entry.sh"
echo "built $APP ($(du -sh "$APP" | cut -f1)); run $APP/labeltool, or $APP/install-desktop-entry.sh for a menu entry"
