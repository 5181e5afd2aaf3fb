"""The command line as users and scripts call it (real subprocesses, real model)."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from support import REPO, run_assist

pytestmark = pytest.mark.slow


def test_analyze_the_issue_sentence():
    result = run_assist("analyze", "--text", "This is the third time my package is late, I want my money back NOW")
    assert result.returncode == 0, result.stderr
    insight = json.loads(result.stdout)
    assert insight["emotion"]["label"] == "anger"
    assert insight["intent"]["label"] in {"get_refund", "complaint"}
    assert len(insight["suggestions"]) == 3
    assert insight["escalation"]["level"] in {"medium", "high"}


def test_analyze_reads_stdin():
    result = subprocess.run([sys.executable, "-m", "assist", "analyze"], input=b"where is my parcel?",
                            capture_output=True, timeout=300, cwd=REPO)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["intent"]["label"]


def test_analyze_empty_fails_with_a_message():
    result = run_assist("analyze", "--text", "   ")
    assert result.returncode == 2
    assert "empty" in result.stderr


def test_analyze_binary_stdin_fails_with_a_message():
    result = subprocess.run([sys.executable, "-m", "assist", "analyze"], input=bytes(range(256)) * 10,
                            capture_output=True, timeout=300, cwd=REPO)
    assert result.returncode == 2
    assert b"binary" in result.stderr


def test_analyze_missing_model_fails_with_a_message(tmp_path):
    result = run_assist("analyze", "--text", "hi", "--model-dir", str(tmp_path / "missing"))
    assert result.returncode == 2
    assert "model is missing" in result.stderr


def test_analyze_corrupt_model_fails_with_a_message(tmp_path):
    import shutil

    from assist.inference.text_model import default_model_dir

    target = tmp_path / "text"
    shutil.copytree(default_model_dir(), target)
    (target / "text.int8.onnx").write_bytes(b"\x08\x07garbage" * 1000)
    result = run_assist("analyze", "--text", "hi", "--model-dir", str(target))
    assert result.returncode == 2
    assert "corrupt" in result.stderr and "text.int8.onnx" in result.stderr


def test_eval_on_a_user_csv(tmp_path):
    path = tmp_path / "mine.csv"
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["utterance", "feeling"])
        writer.writerows([["I am so angry with you", "anger"], ["thank you, this is great", "joy"],
                          ["ok", "neutral"], ["I'm scared my account was hacked", "fear"]])
    result = run_assist("eval", "text", "--csv", str(path), "--text-col", "utterance", "--label-col", "feeling")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["task"] == "emotion" and report["n"] == 4
    assert set(report["per_class_f1"]) >= {"anger", "joy"}
    assert len(report["confusion_matrix"]["rows_gold_cols_pred"]) == 7


def test_eval_csv_with_wrong_columns(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("a,b\n1,2\n")
    result = run_assist("eval", "text", "--csv", str(path))
    assert result.returncode == 2
    assert "needs columns" in result.stderr


def test_train_quick_writes_a_loadable_model_and_learns_from_corrections(tmp_path, engines):
    from assist.pipeline.controller import SessionController
    from assist.storage import Journal
    from assist.storage.annotations import AnnotationStore

    journal = tmp_path / "journal.sqlite3"
    writer = Journal(journal)
    controller = SessionController(engines, journal=writer)
    controller.start_session("dana")
    turns = [controller.submit("customer", text).message.id for text in
             ("well that is just great, another week of waiting", "ok fine whatever, send the form")]
    assert writer.flush(30) and writer.close()
    store = AnnotationStore(journal, "maria")
    store.annotate(turns[0], "emotion", "anger")  # sarcasm the model read as joy
    store.annotate(turns[1], "intent", "get_refund")
    out = tmp_path / "text"
    result = run_assist("train", "text", "--quick", "--out", str(out), "--set", "context_turns=1",
                        "--set", "annotation_repeat=3", "--with-annotations", str(journal), timeout=600)
    assert result.returncode == 0, result.stderr
    assert "2 corrected turns from" in result.stderr
    summary = json.loads(result.stdout)
    assert summary["train_examples"]["meld"] > 0 and summary["train_examples"]["annotation"] == 6
    assert json.loads((out / "config.json").read_text())["context_turns"] == 1
    assert (out / "dialogue_prior.json").is_file() and "emotion_weighted_f1_with_previous_turns" in summary["dialogue_prior"]
    analyzed = run_assist("analyze", "--text", "I love it", "--model-dir", str(out))
    assert analyzed.returncode == 0, analyzed.stderr


def test_train_rejects_unknown_options(tmp_path):
    result = run_assist("train", "text", "--quick", "--out", str(tmp_path), "--set", "bogus=1")
    assert result.returncode != 0
    assert "unknown training option 'bogus'" in result.stderr
    result = run_assist("train", "text", "--quick", "--out", str(tmp_path), "--set", "epochs=many")
    assert result.returncode != 0
    assert "needs a int" in result.stderr


def test_demo_offscreen_screenshot(tmp_path):
    shot = tmp_path / "demo.png"
    db = tmp_path / "journal.sqlite3"
    result = run_assist("demo", "--offscreen", "--screenshot", str(shot), "--db", str(db))
    assert result.returncode == 0, result.stderr
    assert "Demo finished" in result.stdout
    assert "6 customer insights" in result.stdout
    assert shot.stat().st_size > 20_000
    from PySide6.QtGui import QImage

    image = QImage(str(shot))
    assert image.width() >= 1000 and image.height() >= 600
    assert Path(db).exists()


def test_eval_voice_on_a_csv_of_emodb_files(tmp_path):
    from support import data_dir

    clips = sorted((data_dir() / "emodb" / "wav").glob("*.wav"))[:6]
    if not clips:
        pytest.skip("EmoDB not present")
    from assist.inference.voice.emodb import parse_name

    lines = ["path,label"] + [f"{c},{parse_name(c.name)[2]}" for c in clips]
    (tmp_path / "clips.csv").write_text("\n".join(lines) + "\n")
    result = run_assist("eval", "voice", "--csv", str(tmp_path / "clips.csv"))
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["scored"] == 6 and 0 <= out["uar"] <= 1 and "leave-one-speaker-out" in out["note"]


def test_eval_voice_needs_a_source():
    result = run_assist("eval", "voice")
    assert result.returncode == 2 and "--wav-dir" in result.stderr


def test_eval_screen_on_rendered_screens_with_truth(tmp_path):
    import cv2

    from assist.inference.screen.synthetic import OrderPage, render_order_page

    page = OrderPage()
    cv2.imwrite(str(tmp_path / "order.png"), render_order_page(page))
    (tmp_path / "blank.png").write_bytes(cv2.imencode(".png", 255 * np.ones((300, 400, 3), np.uint8))[1].tobytes())
    (tmp_path / "broken.png").write_bytes(b"not a png")
    truth = tmp_path / "truth.json"
    truth.write_text(json.dumps({"order.png": ["Wireless Headphones", "Delayed", "$59.99"]}))
    result = run_assist("eval", "screen", "--dir", str(tmp_path), "--truth", str(truth))
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["images"] == 3 and out["expected_strings_found"] == 1.0
    rows = {r["file"]: r for r in out["per_image"]}
    assert "error" in rows["broken.png"] and "no text found" in rows["blank.png"]["note"]


def test_set_parses_booleans_and_rejects_nonsense():
    from assist.app.cli.common import option_value as _option_value

    assert _option_value(bool, "false") is False and _option_value(bool, "1") is True
    assert _option_value(int, "3") == 3
    with pytest.raises(ValueError):
        _option_value(bool, "maybe")


def test_eval_fusion_without_weights_and_devices_and_asr_commands(tmp_path):
    result = run_assist("eval", "fusion", "--model-dir", str(tmp_path))
    assert result.returncode == 2 and "no fusion weights" in result.stderr
    listed = run_assist("devices", "--json")
    assert listed.returncode == 0 and isinstance(json.loads(listed.stdout), list)
    help_text = run_assist("eval", "asr", "--help")
    assert help_text.returncode == 0 and "pocketsphinx" in help_text.stdout


def test_demo_call_offscreen_screenshot(tmp_path):
    shot = tmp_path / "call.png"
    result = run_assist("demo", "--call", str(REPO / "resources" / "demo" / "call.wav"), "--speed", "8",
                        "--offscreen", "--screenshot", str(shot), "--db", str(tmp_path / "j.sqlite3"))
    assert result.returncode == 0, result.stderr[-2000:]
    assert "4 customer insights" in result.stdout and "0 overflows" in result.stdout
    assert shot.stat().st_size > 20_000


def test_with_db_a_calls_recordings_live_beside_that_journal_and_go_with_its_retention(tmp_path):
    """Issue 18 (4): --db J puts the session's files beside J (not in the default data folder), and
    `privacy retention --db J` removes them with the session."""
    home = tmp_path / "home"
    env = {"HOME": str(home), "XDG_DATA_HOME": str(home / "data"), "XDG_CONFIG_HOME": str(home / "config")}
    journal = tmp_path / "elsewhere" / "j.sqlite3"
    journal.parent.mkdir()
    result = run_assist("demo", "--call", str(REPO / "resources" / "demo" / "call.wav"), "--speed", "8", "--record",
                        "--offscreen", "--db", str(journal), **env)
    assert result.returncode == 0, result.stderr[-2000:]
    recordings = sorted((journal.parent / "sessions").glob("*/*.ogg"))
    assert recordings, sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    assert not list(home.rglob("*.ogg"))  # nothing in the default data folder
    import time

    time.sleep(1.5)
    cleared = run_assist("privacy", "retention", "--days", "0.00001", "--db", str(journal), **env)  # ~0.9 s
    assert cleared.returncode == 0, cleared.stderr[-2000:]
    assert not any(path.exists() for path in recordings)
