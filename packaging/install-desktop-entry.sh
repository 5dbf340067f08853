#!/usr/bin/env bash
# Add the bundled labeltool to the desktop menu of the current user (run from the bundle folder).
set -euo pipefail
APP="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DATA="${XDG_DATA_HOME:-$HOME/.local/share}"
mkdir -p "$DATA/applications" "$DATA/icons/hicolor/scalable/apps"
cp "$APP/labeltool.svg" "$DATA/icons/hicolor/scalable/apps/labeltool.svg"
sed "s|^Exec=labeltool|Exec=\"$APP/labeltool\"|" "$APP/labeltool.desktop" > "$DATA/applications/labeltool.desktop"
echo "installed $DATA/applications/labeltool.desktop (Exec: $APP/labeltool)"
