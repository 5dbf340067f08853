# Sourced by packaging/build.sh and packaging/smoke.sh: where the repository, the bundle and its
# executable are (one place for both). DIST: the output folder (default <repo>/dist).
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIST="${DIST:-$ROOT/dist}"
BUNDLE="$DIST/labeltool"          # the self-contained folder
BUNDLE_EXE="$BUNDLE/labeltool"    # its executable

seconds_since() {  # seconds_since START [DECIMALS]: wall time since START (a `date +%s.%N`)
    python3 -c "print(f'{$(date +%s.%N) - $1:.${2:-1}f}')"
}
