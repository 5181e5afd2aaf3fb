"""``assist --self-test`` and ``assist --version``: the installation checks itself and reports in JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def test_version_has_one_source():
    from assist import __version__
    from assist.storage.journal import _installed_version

    out = subprocess.run([sys.executable, "-m", "assist", "--version"], capture_output=True, text=True,
                         cwd=REPO, timeout=60)
    assert out.stdout.strip() == f"assist {__version__}" and _installed_version() == __version__
    assert 'version = { attr = "assist._version.__version__" }' in (REPO / "pyproject.toml").read_text()


def test_the_self_test_passes_here_and_reports_every_check(tmp_path):
    report = tmp_path / "report.json"
    out = subprocess.run([sys.executable, "-m", "assist", "--self-test", "--report", str(report)],
                         capture_output=True, text=True, cwd=tmp_path, timeout=300,
                         env={**__import__("os").environ, "QT_QPA_PLATFORM": "offscreen"})
    assert out.returncode == 0, out.stdout + out.stderr
    data = json.loads(report.read_text())
    assert data["ok"] and len(data["checks"]) == 8 and all(c["ok"] for c in data["checks"])
    by_name = {c["check"]: c for c in data["checks"]}
    assert by_name["text model (ONNX) analyses a complaint"]["emotion"] == "anger"
    assert "delayed" in by_name["OCR reads an image it draws"]["text"].lower()
    assert "refund" in by_name["speech recognition transcribes the shipped clip"]["text"].lower()
    assert "onnxruntime" in data["checks"][0]["versions"] and "all checks passed" in out.stdout


def test_a_failing_check_fails_the_self_test_in_words(tmp_path, monkeypatch, capsys):
    from assist.app import self_test

    monkeypatch.setattr(self_test, "CLIP", tmp_path / "missing.wav")
    assert self_test.run_self_test(str(tmp_path / "r.json")) == 1
    out = capsys.readouterr().out
    assert "FAIL  speech recognition transcribes the shipped clip" in out and "SELF-TEST FAILED" in out
    data = json.loads((tmp_path / "r.json").read_text())
    failed = {c["check"] for c in data["checks"] if not c["ok"]}
    assert not data["ok"] and "speech recognition transcribes the shipped clip" in failed
    assert "OCR reads an image it draws" not in failed  # one broken part does not take the others down


def test_the_app_logs_to_a_rotating_file_in_the_user_log_folder(tmp_path, monkeypatch):
    import logging
    from logging.handlers import RotatingFileHandler

    from assist.app.cli.main import LOG_BYTES, LOG_FILES, add_log_file

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    path = add_log_file()
    root = logging.getLogger()
    handler = next(h for h in root.handlers if isinstance(h, RotatingFileHandler) and h.baseFilename == str(path))
    try:
        assert str(path).startswith(str(tmp_path)) and handler.maxBytes == LOG_BYTES and handler.backupCount == LOG_FILES
        logging.getLogger("assist").warning("a line for the support engineer")
        handler.flush()
        assert "a line for the support engineer" in path.read_text(encoding="utf-8")
    finally:
        root.removeHandler(handler)
        handler.close()


def test_a_changed_model_byte_or_a_truncated_prior_fails_the_self_test(tmp_path, monkeypatch, capsys):
    """Issue 18 (10): the self-test checks every model file against the manifest's hashes."""
    import dataclasses
    import shutil

    from assist.app import self_test
    from assist.inference import model_manifest

    shipped = model_manifest.load_manifest()
    text = next(e for e in shipped if e.name == "text")
    copy = tmp_path / "copy"
    for f in text.files:
        if (text.root / f.path).exists():
            (copy / f.path).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(text.root / f.path, copy / f.path)
    prior = copy / "models" / "text" / "dialogue_prior.json"
    prior.write_bytes(prior.read_bytes()[:-40])  # truncated
    monkeypatch.setattr(model_manifest, "load_manifest", lambda *a, **k: [dataclasses.replace(text, root=copy)])
    monkeypatch.setattr(model_manifest, "load_user_manifest", lambda *a, **k: [])
    assert self_test.run_self_test(str(tmp_path / "r.json")) == 1
    out = capsys.readouterr().out
    assert "FAIL  model files match the manifest" in out and "dialogue_prior.json" in out
    monkeypatch.setattr(model_manifest, "load_manifest",
                        lambda *a, **k: (_ for _ in ()).throw(model_manifest.ManifestError("manifest.json is garbage")))
    checks = model_manifest.verify()
    assert not checks[0].ok and "garbage" in checks[0].problem
