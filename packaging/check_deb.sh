#!/usr/bin/env bash
# Prove the built .deb the way a newcomer's machine would see it (root, Debian): install it with apt, run the
# installed `assist --self-test` with a clean environment (no venv on PATH, no PYTHONPATH), launch the installed
# app under Xvfb and take a screenshot, then remove the package and check nothing is left outside user data.
#   bash packaging/check_deb.sh build/assist_<version>_amd64.deb [OUT_DIR]
set -euo pipefail
DEB="$(realpath "$1")"
OUT="$(realpath -m "${2:-build/deb-check}")"
mkdir -p "$OUT"
start=$(date +%s)
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$DEB" >/dev/null
dpkg -L assist | sort > "$OUT/files.txt"
test -x /usr/bin/assist && test -f /usr/share/applications/assist.desktop
HOME_DIR="$(mktemp -d)"
CLEAN=(env -i HOME="$HOME_DIR" PATH=/usr/bin:/bin LANG=C.UTF-8)
# self-test: libraries, every model, OCR, speech, the window (offscreen), torch left out
(cd "$HOME_DIR" && "${CLEAN[@]}" QT_QPA_PLATFORM=offscreen assist --self-test --report "$OUT/self-test.json")
# the installed app on a virtual screen: window shown, models loaded, demo played, screenshot
t0=$(date +%s.%N)
"${CLEAN[@]}" xvfb-run -a -s "-screen 0 1280x900x24" assist demo --delay-ms 200 --screenshot "$OUT/installed-app.png" \
  > "$OUT/demo.log" 2>&1
t1=$(date +%s.%N)
grep -q "Demo finished" "$OUT/demo.log"
grep -h "startup:" "$OUT/demo.log" | sed 's/.*startup: /installed app: /' || true
echo "installed demo (launch, load, play, screenshot): $(echo "$t1 - $t0" | bc) s"
# asked to, the installed app deletes a user's data (a second user here), and only that user's
HOME2="$(mktemp -d)"
(cd "$HOME2" && env -i HOME="$HOME2" PATH=/usr/bin:/bin LANG=C.UTF-8 QT_QPA_PLATFORM=offscreen \
  assist --self-test --report "$HOME2/report.json" >/dev/null)
test -d "$HOME2/.local/state/Assist"  # the self-test's log
env -i HOME="$HOME2" PATH=/usr/bin:/bin LANG=C.UTF-8 assist data remove --yes >/dev/null
if find "$HOME2" -path "*Assist*" | grep -q .; then echo "assist data remove left files in $HOME2" >&2; exit 1; fi
test -d "$HOME_DIR/.local/share/Assist"
# removal: every file the package installed is gone; user data (the HOME used above) is kept
DEBIAN_FRONTEND=noninteractive apt-get remove -y -qq assist >/dev/null
left=""
while read -r path; do
  if [ -f "$path" ] || [ -L "$path" ]; then left="$left $path"; fi
done < "$OUT/files.txt"
if [ -d /opt/assist ]; then left="$left /opt/assist"; fi
if [ -n "$left" ]; then echo "left behind after removal:$left" >&2; exit 1; fi
test -d "$HOME_DIR/.local/share/Assist"  # the user's journal and settings stay
echo "deb check passed in $(( $(date +%s) - start )) s: installed, self-test, screenshot, removed cleanly"
