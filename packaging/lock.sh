#!/usr/bin/env bash
# Refresh the locks from pyproject.toml (the ranges stay there; the locks hold exact versions and sha256 hashes).
# Run it after changing a dependency in pyproject.toml, or to move pins on purpose, and commit what it writes:
#   bash packaging/lock.sh               # add/drop what pyproject changed; every other pin stays as it is
#   bash packaging/lock.sh --upgrade     # every package to the newest release its range allows
#   bash packaging/lock.sh -P numpy      # one package to its newest (pip-compile --upgrade-package)
# Writes:
#   requirements/lock.txt            pip-compile: the app + the test extra (pytest, PyInstaller, ...) + pip, setuptools
#                                    and wheel, for Linux x86_64 / CPython 3.11, torch as the local 2.13.0+cpu wheel.
#                                    packaging/dev.sh (so .ci/run) and packaging/build_deb.sh install exactly this.
#   requirements/bundle-linux.txt    uv pip compile for the hosted installer builds (.github/workflows/installers.yml):
#   requirements/bundle-windows.txt  the runtime without torch/transformers + PyInstaller, for ubuntu-22.04 (glibc
#                                    2.35) and Windows x86_64; every package they share with lock.txt at lock.txt's
#                                    version (-c), only platform-only ones (soundcard, colorama, pefile...) added.
# Needs the dev environment (bash packaging/dev.sh install: pip-tools and uv are in the lock's test extra; VENV=DIR
# to use another) and this machine's pip configuration: pip-compile reads pip.conf, whose find-links holds the torch
# CPU wheel (a plain `torch==2.13.0` from PyPI is the multi-GB CUDA build). uv ignores pip.conf and resolves the
# bundle locks on PyPI, where the hosted runners install from.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${VENV:-.venv}"
export CUSTOM_COMPILE_COMMAND="bash packaging/lock.sh"  # the header of the file says how to refresh it

# index and find-links lines are left out: they are this machine's pip.conf, not the project's
"$VENV/bin/pip-compile" --quiet --no-config --extra test --build-deps-for editable --generate-hashes --allow-unsafe \
  --strip-extras --no-emit-find-links --no-emit-index-url --output-file requirements/lock.txt "$@" pyproject.toml

uv_upgrade=()
for arg in "$@"; do case "$arg" in -U|--upgrade) uv_upgrade=(--upgrade) ;; esac; done
for target in linux:x86_64-manylinux_2_35 windows:x86_64-pc-windows-msvc; do
  "$VENV/bin/uv" pip compile --quiet --no-config --python-version 3.11 --python-platform "${target#*:}" \
    --generate-hashes --excludes requirements/bundle-exclude.txt --constraints requirements/lock.txt \
    --custom-compile-command "$CUSTOM_COMPILE_COMMAND" "${uv_upgrade[@]}" \
    --output-file "requirements/bundle-${target%%:*}.txt" pyproject.toml requirements/bundle.in
done
echo "wrote requirements/lock.txt, requirements/bundle-linux.txt, requirements/bundle-windows.txt"
