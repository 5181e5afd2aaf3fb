"""Drop debug information and static symbol tables from a Linux bundle's libraries, safely:
``python packaging/strip_bundle.py DIR``.

Some wheels ship their libraries with full debug info (CTranslate2's extension alone carries 65 MB of it,
libpython 17 MB). ``strip --strip-unneeded`` removes the .debug_* sections and the static symbol table;
the dynamic symbol table (what the loader and ``dlsym`` use) and every loadable segment stay. Libraries that auditwheel rewrote with patchelf can come out of strip
with load segments that glibc refuses ("ELF load command address/offset not page-aligned": what
PyInstaller's own strip=True did to numpy's OpenBLAS), so each stripped copy is checked and kept only
when its segments are still aligned and it keeps the same dynamic section; otherwise the original stays.
Called by packaging/assist.spec on Linux after collecting the bundle.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path

PT_LOAD, PT_DYNAMIC = 1, 2
PAGE = 4096


def _headers(path: Path) -> list[tuple[int, int, int, int, int]] | None:
    """(type, offset, vaddr, filesz, align) of each program header of a 64-bit little-endian ELF, else None."""
    with open(path, "rb") as f:
        ident = f.read(64)
        if len(ident) < 64 or ident[:4] != b"\x7fELF" or ident[4] != 2 or ident[5] != 1:
            return None
        phoff = struct.unpack_from("<Q", ident, 0x20)[0]
        phentsize, phnum = struct.unpack_from("<HH", ident, 0x36)
        f.seek(phoff)
        table = f.read(phentsize * phnum)
    if len(table) < phentsize * phnum:
        return None
    out = []
    for i in range(phnum):
        p_type, _flags, offset, vaddr, _paddr, filesz, _memsz, align = struct.unpack_from("<IIQQQQQQ", table, i * phentsize)
        out.append((p_type, offset, vaddr, filesz, align))
    return out


def segments_ok(path: Path) -> bool:
    """Every loadable segment's file offset and address agree modulo the page size and its alignment."""
    headers = _headers(path)
    if not headers:
        return False
    for p_type, offset, vaddr, _size, align in headers:
        if p_type == PT_LOAD and ((vaddr - offset) % PAGE or (align > 1 and (vaddr - offset) % align)):
            return False
    return True


def _strippable(path: Path) -> bool:
    out = subprocess.run(["readelf", "-S", "-W", str(path)], capture_output=True, text=True, check=False).stdout
    return ".debug_" in out or ".symtab" in out


def _dynamic(path: Path) -> list[str]:
    """The dynamic section's entries (needed libraries, RPATH, SONAME...), without where in the file it sits."""
    out = subprocess.run(["readelf", "-d", "-W", str(path)], capture_output=True, text=True, check=False).stdout
    return [line for line in out.splitlines() if line.strip().startswith("0x")]


def strip_bundle(folder: Path) -> tuple[int, int, list[str]]:
    """Strip debug info in place; returns (bytes before, bytes after, files left as they were because unsafe)."""
    before = after = 0
    kept: list[str] = []
    for path in sorted(folder.rglob("*")):
        if path.is_symlink() or not path.is_file() or _headers(path) is None or not _strippable(path):
            continue
        size = path.stat().st_size
        trial = path.with_name(path.name + ".stripping")
        for how in ("--strip-unneeded", "--strip-debug"):  # the second only drops .debug_*: fewer sections moved
            result = subprocess.run(["strip", how, "-o", str(trial), str(path)], capture_output=True, check=False)
            if not result.returncode and segments_ok(trial) and _dynamic(trial) == _dynamic(path):
                break
            trial.unlink(missing_ok=True)
        if not trial.exists():
            kept.append(str(path.relative_to(folder)))
            continue
        shutil.copymode(path, trial)
        os.replace(trial, path)
        before += size
        after += path.stat().st_size
    return before, after, kept


def main(argv: list[str]) -> int:
    if len(argv) != 1 or not Path(argv[0]).is_dir():
        print("usage: python packaging/strip_bundle.py BUNDLE_DIR", file=sys.stderr)
        return 2
    if not shutil.which("strip") or not shutil.which("readelf"):
        print("strip_bundle: binutils (strip, readelf) not found; the bundle keeps its debug info", file=sys.stderr)
        return 0
    before, after, kept = strip_bundle(Path(argv[0]))
    print(f"strip_bundle: debug info and symbol tables removed, {before / 1e6:.1f} MB -> {after / 1e6:.1f} MB"
          + (f"; left as they were (strip would break them): {', '.join(kept)}" if kept else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
