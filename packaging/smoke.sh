#!/usr/bin/env bash
# Smoke test of the built bundle (packaging/build.sh): on a fresh demo project, under Xvfb,
#   0. the bundle exports a U-Net to ONNX and onnxruntime gives torch's logits (--selftest-runtime);
#   1. `labeltool demo --no-gui` from the bundle creates the demo, trains a first model (the bundle
#      re-running itself as `labeltool -m labeltool train`) and proposes masks;
#   2. `labeltool predict` from the bundle proposes again (JSON progress; onnxruntime when the model
#      has an ONNX file and it was measured faster);
#   3. the app starts on the project in a real X window (start-up time measured), Enter (Accept) is
#      pressed twice, and the record must show one more corrected mask: the app proposed-and-saved path.
# Prints one line per check and "smoke: N passed, M failed"; exit status 0 only when all passed.
#
#   bash packaging/smoke.sh [APP]      # APP: the bundle's executable (default $DIST/labeltool/labeltool,
#                                      # DIST as in build.sh: <repo>/dist)
#
# Needs: Xvfb, xdotool, ImageMagick's import (screenshot), python3 (reads JSON), and the Qt xcb libraries:
#   apt-get install xvfb xdotool imagemagick libxcb-cursor0 libxkbcommon-x11-0 libxcb-icccm4 libxcb-keysyms1 \
#     libxcb-shape0 libxcb-xinerama0 libxcb-randr0 libxcb-render-util0 libxcb-image0 libegl1
set -uo pipefail
# shellcheck source=packaging/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
APP="${1:-$BUNDLE_EXE}"
WORK="$(mktemp -d /tmp/labeltool-smoke.XXXXXX)"
DEMO="$WORK/demo"
DISPLAY_NUM="${SMOKE_DISPLAY:-:97}"
passed=0
failed=0
check() {  # check NAME CONDITION-EXIT-STATUS DETAIL
    if [ "$2" -eq 0 ]; then passed=$((passed + 1)); echo "ok   $1 $3"; else failed=$((failed + 1)); echo "FAIL $1 $3"; fi
}
count() {  # count STATUS: images with that status in the demo's record
    "$APP" status "$DEMO" --json 2>/dev/null | python3 -c "import json,sys; print(json.load(sys.stdin)['counts']['$1'])"
}
[ -x "$APP" ] || { echo "smoke: no bundle at $APP (bash packaging/build.sh first)"; exit 2; }
echo "smoke: $APP ($(du -sh "$(dirname "$APP")" | cut -f1)), work dir $WORK"

start=$(date +%s.%N)
"$APP" --version > "$WORK/version.txt" 2>&1
check "cli-starts" $? "$(cat "$WORK/version.txt") in $(seconds_since "$start") s"

"$APP" --selftest-runtime > "$WORK/runtime.txt" 2>&1
check "onnx-runtime" $? "$(tail -1 "$WORK/runtime.txt")"

start=$(date +%s.%N)
"$APP" demo "$DEMO" --no-gui --time-budget "${SMOKE_TRAIN_SECONDS:-20}" > "$WORK/demo.log" 2>&1
status=$?
secs=$(seconds_since "$start" 0)
proposed=$(count proposed)
[ "$status" -eq 0 ] && [ "${proposed:-0}" -gt 0 ]
check "demo-trains-and-proposes" $? "(exit $status, ${proposed:-?} proposed masks, ${secs} s; log $WORK/demo.log)"
ls "$DEMO"/models/*.onnx > /dev/null 2>&1 && onnx="ONNX exported beside the model" || onnx="no ONNX file (training does not export yet)"
echo "     $onnx"

"$APP" predict "$DEMO" --json > "$WORK/predict.jsonl" 2> "$WORK/predict.err"
status=$?
written=$(python3 -c "
import json, sys
done = [json.loads(l) for l in open('$WORK/predict.jsonl') if l.startswith('{')]
done = [e for e in done if e.get('event') == 'done']
print(done[-1]['count'] if done else -1)")
[ "$status" -eq 0 ] && [ "$written" -gt 0 ]
check "predict-proposes" $? "(exit $status, $written masks written)"

# ---- the app in a real X window ----
Xvfb "$DISPLAY_NUM" -screen 0 1600x1000x24 -nolisten tcp > "$WORK/xvfb.log" 2>&1 &
xvfb=$!
export DISPLAY="$DISPLAY_NUM"
for _ in $(seq 50); do xdotool getdisplaygeometry > /dev/null 2>&1 && break; sleep 0.1; done
corrected_before=$(count corrected)
start=$(date +%s.%N)
"$APP" "$DEMO" > "$WORK/app.log" 2>&1 &
app=$!
window=$(timeout 120 xdotool search --sync --onlyvisible --name "labeltool" 2>/dev/null | head -1)
startup=$(seconds_since "$start")
[ -n "$window" ]
check "app-window" $? "(window shown ${startup} s after launch)"
sleep "${SMOKE_SETTLE_SECONDS:-5}"  # the project opens and the first image with its proposal is drawn
import -window root "$WORK/app.png" 2>/dev/null
if [ -n "$window" ]; then
    xdotool windowactivate --sync "$window" > /dev/null 2>&1 || xdotool windowfocus --sync "$window" > /dev/null 2>&1
    for _ in 1 2; do xdotool key --clearmodifiers Return; sleep 3; done
fi
corrected_after=$(count corrected)
import -window root "$WORK/app-after.png" 2>/dev/null
[ "${corrected_after:-0}" -gt "${corrected_before:-0}" ]
check "app-accept-saves" $? "(corrected masks: $corrected_before -> $corrected_after; screenshots $WORK/app.png, app-after.png)"
kill "$app" 2> /dev/null
wait "$app" 2> /dev/null
kill "$xvfb" 2> /dev/null
wait "$xvfb" 2> /dev/null

echo "smoke: $passed passed, $failed failed (start-up ${startup} s; logs in $WORK)"
[ "$failed" -eq 0 ]
