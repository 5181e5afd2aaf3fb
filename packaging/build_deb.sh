#!/usr/bin/env bash
# Build the Linux packages from a clean clone: the PyInstaller onedir bundle, a .deb (files under /opt/assist,
# /usr/bin/assist, a desktop entry and icon) and a portable .tar.gz of the bundle.
#   bash packaging/build_deb.sh            # -> build/assist_<version>_amd64.deb, build/assist-<version>-linux-x86_64.tar.gz
# Needs the dev environment (bash packaging/dev.sh install) and dpkg-deb; PyInstaller is in the lock's test extra.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION="$(.venv/bin/python -c 'from assist._version import __version__; print(__version__)')"
BUNDLE=build/pyi/dist/assist
if [ "${REUSE_BUNDLE:-0}" != 1 ] || [ ! -x "$BUNDLE/assist" ]; then  # REUSE_BUNDLE=1: package the last bundle again
  .venv/bin/python -m pip install -q --require-hashes -r requirements/lock.txt  # a no-op when dev.sh installed it
  .venv/bin/python packaging/lock_check.py  # the bundle is built from the locked versions
  rm -rf build/pyi
  .venv/bin/pyinstaller packaging/assist.spec --noconfirm --log-level WARN --distpath build/pyi/dist --workpath build/pyi/work
fi
rm -rf build/deb
ROOT=build/deb/assist_${VERSION}_amd64
mkdir -p "$ROOT/DEBIAN" "$ROOT/opt" "$ROOT/usr/bin" "$ROOT/usr/share/applications" \
         "$ROOT/usr/share/icons/hicolor/256x256/apps" "$ROOT/usr/share/doc/assist"
cp -a "$BUNDLE" "$ROOT/opt/assist"
cat > "$ROOT/usr/bin/assist" <<'SH'
#!/bin/sh
# Assist, installed under /opt/assist (a PyInstaller bundle: its own Python and libraries)
exec /opt/assist/assist "$@"
SH
chmod 755 "$ROOT/usr/bin/assist"
cp packaging/linux/assist.desktop "$ROOT/usr/share/applications/assist.desktop"
.venv/bin/python packaging/make_icon.py "$ROOT/usr/share/icons/hicolor/256x256/apps/assist.png"
cp README.md "$ROOT/usr/share/doc/assist/README.md"
SIZE_KB=$(du -sk "$ROOT" | cut -f1)
cat > "$ROOT/DEBIAN/control" <<CONTROL
Package: assist
Version: ${VERSION}
Section: utils
Priority: optional
Architecture: amd64
Installed-Size: ${SIZE_KB}
Depends: libc6 (>= 2.31), libportaudio2, libgl1, libegl1, libfontconfig1, libdbus-1-3, libglib2.0-0, libxkbcommon0, libxkbcommon-x11-0, libx11-xcb1, libxcb-cursor0, libxcb-icccm4, libxcb-image0, libxcb-keysyms1, libxcb-randr0, libxcb-render-util0, libxcb-shape0, libxcb-shm0, libxcb-sync1, libxcb-xfixes0, libxcb-xkb1
Recommends: pulseaudio-utils | pipewire-pulse, fonts-dejavu-core, fonts-noto-color-emoji
Maintainer: Assist team <assist@example.invalid>
Description: Offline multimodal agent assist
 Listens to the call and reads the chat beside a support agent's tools, and shows the
 customer's emotion, intent, escalation risk and suggested replies from the team's
 knowledge base. Runs locally (GPU when there is one); nothing leaves the machine.
 User data (journal, settings, knowledge base) stays in the user's folders on removal.
CONTROL
# the desktop database and icon cache, where the tools exist; never fail an install over them
for script in postinst postrm; do
  cat > "$ROOT/DEBIAN/$script" <<'SH'
#!/bin/sh
set -e
command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database -q /usr/share/applications || true
command -v gtk-update-icon-cache >/dev/null 2>&1 && gtk-update-icon-cache -q -t /usr/share/icons/hicolor || true
exit 0
SH
  chmod 755 "$ROOT/DEBIAN/$script"
done
# zstd: xz took over 6 minutes on 2 cores for this payload; zstd -19 --long is near its size in a fraction
dpkg-deb --build --root-owner-group -Zzstd -z19 "$ROOT" "build/assist_${VERSION}_amd64.deb" >/dev/null
tar -C build/pyi/dist -czf "build/assist-${VERSION}-linux-x86_64.tar.gz" assist
du -sh "$BUNDLE" "build/assist_${VERSION}_amd64.deb" "build/assist-${VERSION}-linux-x86_64.tar.gz"
