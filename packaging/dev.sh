#!/usr/bin/env bash
# Install everything Assist needs on a fresh Debian/Ubuntu machine, then run the demo or the tests.
#   bash packaging/dev.sh demo    # install, then play the sample conversation (window, or headless + screenshot)
#   bash packaging/dev.sh test    # install, then run the whole test suite (what CI runs)
#   bash packaging/dev.sh install # install only
set -euo pipefail
cd "$(dirname "$0")/.."
what="${1:-demo}"
PY="${PYTHON:-python3}"

# System libraries for Qt (offscreen/xcb) and fonts (fonts-noto-color-emoji: customers' emoji drawn, not boxes);
# installed only when missing and we are root.
# pocketsphinx-testdata: real English speech clips used by the voice/ASR tests and benchmarks
# libportaudio2: audio capture (sounddevice); pulseaudio + pulseaudio-utils + espeak-ng + sox: the live-call
# tests play speech into a PulseAudio null sink and capture its monitor; xvfb + Qt's xcb libraries: the
# screenshot tests show a real window on a virtual screen and capture it (mss); nsis: the Windows installer script
# is compiled here against a stand-in payload; bc: packaging/check_deb.sh times the installed app;
# binutils (strip, readelf): PyInstaller and packaging/strip_bundle.py
APT_PACKAGES="libgl1 libegl1 libxkbcommon0 libxkbcommon-x11-0 libfontconfig1 libdbus-1-3 libglib2.0-0 fonts-dejavu-core fonts-noto-color-emoji pocketsphinx-testdata libportaudio2 pulseaudio pulseaudio-utils espeak-ng sox xvfb libx11-xcb1 libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0 libxcb-render-util0 libxcb-shape0 libxcb-shm0 libxcb-sync1 libxcb-xfixes0 libxcb-xkb1 libxcb-util1 nsis bc binutils"
missing=""
for p in $APT_PACKAGES; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -n "$missing" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing system packages:$missing"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
  else
    echo "warning: missing system packages:$missing (install them with apt as root)" >&2
  fi
fi

if [ ! -x .venv/bin/python ]; then "$PY" -m venv .venv; fi
# Python packages: exactly requirements/lock.txt (versions and sha256 hashes, compiled from pyproject.toml by
# packaging/lock.sh): the app, the test extra (pytest, ruff, PyInstaller...), pip and setuptools themselves, and
# torch as the 2.13.0+cpu wheel (this machine's pip.conf find-links has it; elsewhere point PIP_FIND_LINKS at it).
# --require-hashes: a dependency the lock does not pin, or a file whose hash differs, fails the install.
.venv/bin/python -m pip install -q --require-hashes -r requirements/lock.txt
# then Assist itself, editable, built by the lock's setuptools (no build isolation: nothing fetched unpinned)
.venv/bin/python -m pip install -q --no-deps --no-build-isolation -e .
.venv/bin/python packaging/lock_check.py  # fails on a locked package at another version; lists any extras

case "$what" in
  install) ;;
  demo)
    shift || true
    if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
      echo "no display: running the demo offscreen and saving demo.png"
      exec .venv/bin/assist demo --offscreen --screenshot demo.png "$@"
    fi
    exec .venv/bin/assist demo "$@" ;;
  test)
    shift || true
    export QT_QPA_PLATFORM=offscreen
    .venv/bin/lint-imports  # layers, no Qt in the core, no training in the running app, no import circles
    .venv/bin/ruff check assist tests benchmarks support
    .venv/bin/mypy  # the Qt-free core ([tool.mypy] in pyproject.toml)
    exec .venv/bin/python -m pytest "$@" ;;
  *) echo "usage: $0 [demo|test|install]" >&2; exit 2 ;;
esac
