"""Shared fixtures: the real engines (loaded once), a journal double, and a dangling-thread guard."""

from __future__ import annotations

import os
import threading

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# the user's data folder (journal, reply bank, screenshots) is a scratch folder in tests. Not the config folder:
# without XDG_RUNTIME_DIR, PulseAudio clients find the server through ~/.config/pulse, which the live-audio
# tests need; tests that touch config (chat-feed token, settings) pass their own folders.
_SCRATCH = __import__("tempfile").mkdtemp(prefix="assist-tests-")
os.environ["XDG_DATA_HOME"] = os.path.join(_SCRATCH, "data")
os.environ["XDG_STATE_HOME"] = os.path.join(_SCRATCH, "state")  # the app's log files
os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def engines():
    """The real text model and knowledge base, as the app loads them."""
    from assist.pipeline.engines import load_engines

    return load_engines()


@pytest.fixture(scope="session")
def app_engines():
    """The engines the app itself loads (calls ready: voice, fusion, speech recognition; the reply bank)."""
    from assist.pipeline.assembly import app_engine_config
    from assist.pipeline.engines import load_engines

    return load_engines(app_engine_config())


@pytest.fixture(scope="session")
def text_model(engines):
    return engines.text


class RecordingJournal:
    """Test double with the Journal's methods; keeps what it was given."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple]] = []

    def __getattr__(self, name: str):
        if name in {"start_session", "record_message", "record_insight", "record_feedback", "end_session",
                    "record_capture_stats", "record_role_correction"}:
            return lambda *args: self.calls.append((name, args))
        raise AttributeError(name)

    def named(self, name: str) -> list[tuple]:
        return [args for n, args in self.calls if n == name]


@pytest.fixture
def recording_journal() -> RecordingJournal:
    return RecordingJournal()


@pytest.fixture(autouse=True)
def no_dangling_threads():
    """Fail a test that leaves a non-daemon thread running (napari's _dangling_qthreads idea)."""
    before = {t.ident for t in threading.enumerate()}
    yield
    leftover = [t for t in threading.enumerate()
                if t.ident not in before and t.is_alive() and not t.daemon]
    for t in leftover:
        t.join(timeout=5)
    still = [t.name for t in leftover if t.is_alive()]
    assert not still, f"test left threads running: {still}"
