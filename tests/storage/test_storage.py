"""The journal on real SQLite files: round trip, redaction, schema, damage, locks, shutdown."""

from __future__ import annotations

import ast
import hashlib
import json
import os
import random
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from assist.domain import (
    ChatMessage,
    EmotionEstimate,
    Escalation,
    EscalationLevel,
    Feedback,
    FeedbackAction,
    Insight,
    LabelEstimate,
    Role,
    Session,
    Suggestion,
)
from assist.storage import (
    DatabaseCorrupt,
    DatabaseUnavailable,
    Journal,
    JournalReader,
    StorageError,
    default_journal_path,
)

WRITER = "assist-journal-writer"
PII = "I'm jane@example.com, card 4111 1111 1111 1111, call +44 20 7946 0958, order #A-10234"
PII_REDACTED = "I'm [EMAIL], card [CARD], call [PHONE], order #A-10234"


def writer_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == WRITER and t.is_alive()]


@pytest.fixture(autouse=True)
def no_dangling_writer() -> Iterator[None]:
    """Fail a test that leaves a journal writer thread running (napari's _dangling_qthreads)."""
    before = set(writer_threads())
    yield
    deadline = time.monotonic() + 5
    while set(writer_threads()) - before and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not set(writer_threads()) - before, "a test left an assist-journal-writer thread running"


@pytest.fixture
def open_journal(tmp_path: Path) -> Iterator[Callable[..., Journal]]:
    """Factory for journals that are always closed at teardown."""
    opened: list[Journal] = []

    def make(path: Path | None = None, **kwargs: object) -> Journal:
        journal = Journal(path or tmp_path / "journal.sqlite3", **kwargs)  # type: ignore[arg-type]
        opened.append(journal)
        return journal

    yield make
    for journal in opened:
        journal.close(timeout=1.0)


def make_insight(session_id: str, message_id: str, *, note: str = "") -> Insight:
    """A complete Insight built straight from the domain dataclasses."""
    return Insight(
        session_id=session_id,
        message_id=message_id,
        emotion=EmotionEstimate({"anger": 0.7, "neutral": 0.2, "joy": 0.1}),
        sentiment=LabelEstimate("negative", 0.8, {"negative": 0.8, "neutral": 0.15, "positive": 0.05}),
        intent=LabelEstimate("refund", 0.6, {"refund": 0.6, "other": 0.4}),
        conversation_intent=LabelEstimate("get_refund", 0.7, {"get_refund": 0.7, "other": 0.3}),
        escalation=Escalation(EscalationLevel.HIGH, 0.91, ("angry customer", "repeat contact")),
        suggestions=(
            Suggestion("sug-1", "Call us back on 555-123-4567.", "Refunds", 0.82, "kb-7"),
            Suggestion("sug-2", "I understand how frustrating this is.", "Empathy", 0.51),
        ),
        model_versions={"text": "minilm-1", "kb": "abcd-2"},
        timings_ms={"model": 12.5, "retrieval": 3.25},
        notes=(note,) if note else (),
        device="cpu",
    )


def record_conversation(journal: Journal, text: str = PII) -> tuple[Session, ChatMessage, Insight, Feedback]:
    session = Session(agent="alex")
    message = ChatMessage(session_id=session.id, role=Role.CUSTOMER, text=text)
    insight = make_insight(session.id, message.id, note="customer wrote jane@example.com")
    feedback = Feedback(session_id=session.id, suggestion_id="sug-1", action=FeedbackAction.INSERTED)
    journal.start_session(session)
    journal.record_message(message)
    journal.record_insight(insight)
    journal.record_feedback(feedback)
    journal.end_session(session.id, ended_at=session.started_at + 60)
    return session, message, insight, feedback


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- round trip and redaction --------------------------------------------------------------


def test_round_trip_with_reader(open_journal: Callable[..., Journal], tmp_path: Path) -> None:
    errors: list[StorageError] = []
    journal = open_journal(on_error=errors.append, app_version="9.9")
    session, message, insight, feedback = record_conversation(journal)
    assert journal.flush()
    assert journal.pending_count == 0 and errors == []

    with JournalReader(tmp_path / "journal.sqlite3") as reader:
        [row] = reader.sessions()
        assert row["id"] == session.id and row["agent"] == "alex" and row["source"] == "chat"
        assert row["ended_at"] == pytest.approx(session.started_at + 60)
        assert row["redaction_enabled"] is True and row["app_version"] == "9.9"

        [event] = reader.events(session.id)
        assert event["id"] == message.id and event["kind"] == "chat" and event["role"] == "customer"
        assert event["redactions"] == {"email": 1, "card": 1, "phone": 1}

        [stored] = reader.insights(session.id)
        assert stored["id"] == insight.id and stored["message_id"] == message.id
        assert stored["emotion"] == "anger" and stored["emotion_confidence"] == pytest.approx(0.7)
        assert stored["emotion_probs"] == {"anger": 0.7, "neutral": 0.2, "joy": 0.1}
        assert stored["sentiment"] == "negative" and stored["intent"] == "refund"
        assert stored["escalation_level"] == "high" and stored["escalation_reasons"] == [
            "angry customer",
            "repeat contact",
        ]
        assert stored["model_versions"] == {"text": "minilm-1", "kb": "abcd-2"}
        assert stored["timings_ms"] == {"model": 12.5, "retrieval": 3.25}
        assert [s["id"] for s in stored["suggestions"]] == ["sug-1", "sug-2"]
        assert [s["rank"] for s in stored["suggestions"]] == [1, 2]
        assert stored["suggestions"][0]["kb_entry_id"] == "kb-7"

        [fb] = reader.feedback(session.id)
        assert fb["id"] == feedback.id and fb["action"] == "inserted" and fb["suggestion_id"] == "sug-1"


def test_redaction_on_stores_placeholders(open_journal: Callable[..., Journal], tmp_path: Path) -> None:
    journal = open_journal(redaction=True)
    session, *_ = record_conversation(journal)
    journal.close()
    with JournalReader(tmp_path / "journal.sqlite3") as reader:
        assert reader.sessions()[0]["redaction_enabled"] is True
        assert reader.events(session.id)[0]["text"] == PII_REDACTED
        [insight] = reader.insights(session.id)
        assert insight["suggestions"][0]["text"] == "Call us back on [PHONE]."
        assert insight["notes"] == ["customer wrote [EMAIL]"]
    raw = (tmp_path / "journal.sqlite3").read_bytes()
    assert b"jane@example.com" not in raw and b"4111 1111" not in raw


def test_redaction_off_stores_raw_text_and_says_so(open_journal: Callable[..., Journal], tmp_path: Path) -> None:
    journal = open_journal(redaction=False)
    session, *_ = record_conversation(journal)
    journal.close()
    with JournalReader(tmp_path / "journal.sqlite3") as reader:
        assert reader.sessions()[0]["redaction_enabled"] is False
        [event] = reader.events(session.id)
        assert event["text"] == PII and event["redactions"] == {}
        assert reader.insights(session.id)[0]["notes"] == ["customer wrote jane@example.com"]


def test_redaction_happens_before_the_row_is_queued(open_journal: Callable[..., Journal]) -> None:
    journal = open_journal()
    session = Session()
    journal.start_session(session)
    journal.record_message(ChatMessage(session_id=session.id, role=Role.CUSTOMER, text=PII))
    queued = list(journal._writer._queue.queue)  # white-box: inspect what waits in the queue
    assert journal.flush()
    texts = [str(params) for op in queued if hasattr(op, "statements") for _, params in op.statements]
    assert not any("jane@example.com" in text for text in texts)


def test_surrogates_and_emoji_are_stored_without_error(open_journal: Callable[..., Journal], tmp_path: Path) -> None:
    errors: list[StorageError] = []
    journal = open_journal(on_error=errors.append)
    session = Session()
    journal.start_session(session)
    text = b"caf\xe9 \xff\xfe \xf0\x9f\x98\xa1".decode("utf-8", "surrogateescape") + " 😡\x00end"
    journal.record_message(ChatMessage(session_id=session.id, role=Role.CUSTOMER, text=text))
    assert journal.flush() and errors == []
    with JournalReader(tmp_path / "journal.sqlite3") as reader:
        stored = reader.events(session.id)[0]["text"]
    assert stored.endswith(" 😡\x00end") and "\ufffd" in stored


def test_search_uses_full_text_index(open_journal: Callable[..., Journal], tmp_path: Path) -> None:
    journal = open_journal()
    session = Session()
    journal.start_session(session)
    for text in ["my parcel never arrived", "the refund was late", "parcel arrived damaged, mail jo@x.org"]:
        journal.record_message(ChatMessage(session_id=session.id, role=Role.CUSTOMER, text=text))
    journal.close()
    with JournalReader(tmp_path / "journal.sqlite3") as reader:
        assert {e["text"] for e in reader.search("parcel")} == {
            "my parcel never arrived",
            "parcel arrived damaged, mail [EMAIL]",
        }
        assert [e["text"] for e in reader.search("refund LATE")] == ["the refund was late"]
        assert len(reader.search("EMAIL")) == 1
        assert len(reader.search('parcel" *(:^')) == 2  # FTS syntax in user text is quoted away
        assert reader.search("  ") == [] and reader.search("nothing-like-this") == []


# --- schema and file checks ---------------------------------------------------------------


ALL_MIGRATIONS = ["0001_initial", "0002_events_fts", "0003_insight_contributions", "0004_live_capture",
                  "0005_session_stats", "0006_annotations", "0007_conversation_intent",
                  "0008_peak_one_negative_emotion", "0009_used_means_sent", "0010_session_team"]


def test_migrations_recorded_and_not_reapplied(open_journal: Callable[..., Journal], tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    first = open_journal(path)
    assert first.migrations_applied == ALL_MIGRATIONS
    record_conversation(first)
    first.close()
    second = open_journal(path)
    assert second.migrations_applied == []
    second.close()
    with sqlite3.connect(path) as conn:
        names = [row[0] for row in conn.execute("SELECT name FROM _sqlite_migrations ORDER BY id")]
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert conn.execute("SELECT count(*) FROM sessions").fetchone()[0] == 1
    conn.close()
    assert names == ALL_MIGRATIONS
    assert {"sessions", "events", "insights", "suggestions", "feedback", "events_fts"} <= tables


def test_a_journal_from_the_previous_release_is_upgraded_without_loss(tmp_path: Path) -> None:
    from sqlite_utils import Database

    from assist.storage.schema import migrations

    path = tmp_path / "old.sqlite3"
    db = Database(path)
    migrations.apply(db, stop_before="0003_insight_contributions")
    db.execute("INSERT INTO sessions (id, started_at, agent, redaction_enabled) VALUES ('s1', 1.0, 'a', 1)")
    db.conn.commit()
    db.close()
    journal = Journal(path)
    assert journal.migrations_applied == ["0003_insight_contributions", "0004_live_capture", "0005_session_stats",
                                          "0006_annotations", "0007_conversation_intent",
                                          "0008_peak_one_negative_emotion", "0009_used_means_sent", "0010_session_team"]
    journal.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT id FROM sessions").fetchall() == [("s1",)]
        columns = [row[1] for row in conn.execute("PRAGMA table_info(insights)")]
        event_columns = [row[1] for row in conn.execute("PRAGMA table_info(events)")]
    conn.close()
    assert "contributions" in columns and "meta" in event_columns and "conversation_intent" in columns


def test_the_conversations_intent_is_journaled_beside_the_turns(open_journal: Callable[..., Journal],
                                                                  tmp_path: Path) -> None:
    journal = open_journal()
    record_conversation(journal)
    assert journal.flush()
    with sqlite3.connect(tmp_path / "journal.sqlite3") as conn:
        row = conn.execute("SELECT intent, conversation_intent, conversation_intent_confidence FROM insights").fetchone()
    conn.close()
    assert row == ("refund", "get_refund", 0.7)


def test_wal_and_foreign_keys(open_journal: Callable[..., Journal], tmp_path: Path) -> None:
    errors: list[StorageError] = []
    journal = open_journal(on_error=errors.append)
    journal.record_message(ChatMessage(session_id="no-such-session", role=Role.AGENT, text="orphan"))
    session = Session()
    journal.start_session(session)
    journal.record_message(ChatMessage(session_id=session.id, role=Role.AGENT, text="kept"))
    assert journal.flush()
    conn = sqlite3.connect(tmp_path / "journal.sqlite3")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert [row[0] for row in conn.execute("SELECT text FROM events")] == ["kept"]
    conn.close()
    assert len(errors) == 1 and "FOREIGN KEY" in str(errors[0]) and not isinstance(errors[0], DatabaseUnavailable)


@pytest.mark.parametrize("content", ["random", "header-then-garbage", "other-app"])
def test_damaged_or_foreign_file_raises_corrupt_and_is_untouched(tmp_path: Path, content: str) -> None:
    path = tmp_path / "journal.sqlite3"
    rng = random.Random(42)
    if content == "random":
        path.write_bytes(rng.randbytes(64 * 1024))
    elif content == "header-then-garbage":
        path.write_bytes(b"SQLite format 3\x00" + rng.randbytes(64 * 1024))
    else:
        conn = sqlite3.connect(path)
        conn.execute("CREATE TABLE contacts (name TEXT)")
        conn.commit()
        conn.close()
    before = sha256(path)
    with pytest.raises(DatabaseCorrupt) as info:
        Journal(path)
    assert str(path) in str(info.value) and info.value.path == str(path)
    with pytest.raises(DatabaseCorrupt):
        JournalReader(path)
    assert sha256(path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["journal.sqlite3"]


def test_path_under_a_regular_file_is_unavailable(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("not a folder")
    path = tmp_path / "afile" / "db.sqlite3"
    with pytest.raises(DatabaseUnavailable) as info:
        Journal(path)
    assert str(path) in str(info.value)
    with pytest.raises(DatabaseUnavailable):
        Journal(tmp_path)  # a folder, not a file


@pytest.mark.skipif(sys.platform == "win32" or os.geteuid() == 0, reason="root ignores directory permissions")
def test_read_only_folder_is_unavailable(tmp_path: Path) -> None:
    locked_dir = tmp_path / "ro"
    locked_dir.mkdir()
    locked_dir.chmod(0o500)
    try:
        with pytest.raises(DatabaseUnavailable):
            Journal(locked_dir / "journal.sqlite3")
    finally:
        locked_dir.chmod(0o700)


def test_reader_on_missing_file_is_unavailable(tmp_path: Path) -> None:
    with pytest.raises(DatabaseUnavailable):
        JournalReader(tmp_path / "missing.sqlite3")
    assert not (tmp_path / "missing.sqlite3").exists()


def test_reader_is_read_only_and_works_after_clean_close(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    journal = Journal(path)
    session, *_ = record_conversation(journal)
    assert journal.close()
    reader = JournalReader(path)
    try:
        assert len(reader.events(session.id)) == 1
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            reader._conn.execute("DELETE FROM events")  # white-box: the connection itself refuses writes
    finally:
        reader.close()


def test_default_path_follows_platformdirs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    if not sys.platform.startswith("linux"):
        pytest.skip("XDG_DATA_HOME only steers platformdirs on Linux")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_journal_path() == tmp_path / "xdg" / "Assist" / "journal.sqlite3"
    journal = Journal()
    try:
        assert journal.path == default_journal_path() and journal.path.is_file()
    finally:
        journal.close()


def test_storage_imports_only_stdlib_sqlite_utils_domain_and_paths() -> None:
    allowed_roots = set(sys.stdlib_module_names) | {"sqlite_utils", "platformdirs"}
    package = Path(__file__).resolve().parents[2] / "assist" / "storage"
    for module in package.glob("*.py"):
        for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                # assist._version: the one version string (a constant, no imports), recorded with each session;
                # assist.paths: where the user's folders are (platformdirs)
                ok = (name.split(".")[0] in allowed_roots or name in ("assist.domain", "assist._version", "assist.paths")
                      or name.startswith("assist.storage"))
                assert ok, f"{module.name} imports {name}"


def test_spoken_word_timings_never_keep_personal_data_split_across_words(open_journal, tmp_path):
    from assist.domain import EventKind

    journal = open_journal(tmp_path / "words.sqlite3")
    session = Session()
    journal.start_session(session)
    card = [["my", 0.0, 0.2], ["card", 0.2, 0.4], ["is", 0.4, 0.5], ["4111", 0.5, 0.9], ["1111", 0.9, 1.3],
            ["1111", 1.3, 1.7], ["1111", 1.7, 2.1]]
    plain = [["where", 0.0, 0.3], ["is", 0.3, 0.4], ["my", 0.4, 0.5], ["parcel", 0.5, 0.9]]
    for words in (card, plain):
        journal.record_message(ChatMessage(session_id=session.id, role=Role.CUSTOMER, kind=EventKind.UTTERANCE,
                                           text=" ".join(w[0] for w in words), meta={"words": words}))
    assert journal.close()
    with JournalReader(tmp_path / "words.sqlite3") as reader:
        first, second = reader.events(session.id)
    assert "4111" not in first["text"] and "4111" not in json.dumps(first["meta"])
    assert first["meta"]["words"][3] == [None, 0.5, 0.9]  # timings kept, words dropped
    assert second["meta"]["words"] == plain


def test_opening_a_reader_beside_the_writer_keeps_the_writer_s_locks(tmp_path: Path) -> None:
    """A reader opened and closed in the writer's process must not drop the writer's POSIX locks (an own
    header read would): another program's last connection would then delete the live write-ahead log."""
    import subprocess

    path = tmp_path / "journal.sqlite3"
    journal = Journal(path)
    session = Session()
    journal.start_session(session)
    journal.record_message(ChatMessage(session_id=session.id, role=Role.AGENT, text="before"))
    assert journal.flush()
    with JournalReader(path) as reader:
        assert reader is not None
    code = f"import sqlite3; c = sqlite3.connect({str(path)!r}); c.execute('SELECT 1 FROM events'); c.close()"
    subprocess.run([sys.executable, "-c", code], check=True)
    assert (tmp_path / "journal.sqlite3-wal").exists()
    journal.record_message(ChatMessage(session_id=session.id, role=Role.AGENT, text="after"))
    assert journal.flush()
    journal.close()
    conn = sqlite3.connect(path)
    assert [row[0] for row in conn.execute("SELECT text FROM events ORDER BY rowid")] == ["before", "after"]
    conn.close()


def test_a_corrected_speaker_is_recorded_with_what_it_was(open_journal: Callable[..., Journal], tmp_path: Path) -> None:
    """Issue 17 (2): the agent corrects who said a message: the event's role changes, its meta keeps the former
    role and when, the text and everything else stay."""
    journal = open_journal()
    session = Session(agent="alex")
    journal.start_session(session)
    message = ChatMessage(session_id=session.id, role=Role.AGENT, text="my parcel never arrived", meta={"x": 1})
    journal.record_message(message)
    journal.record_role_correction(message.id, "customer", at=1234.5)
    assert journal.flush()
    with JournalReader(tmp_path / "journal.sqlite3") as reader:
        [event] = reader.events(session.id)
    assert event["role"] == "customer" and event["text"] == "my parcel never arrived"
    assert event["meta"] == {"x": 1, "role_corrected": {"from": "agent", "at": 1234.5}}


def test_the_agents_team_is_recorded_with_the_session(open_journal: Callable[..., Journal], tmp_path: Path) -> None:
    journal = open_journal()
    journal.start_session(Session(agent="Maria Lopez", team="Returns"))
    journal.start_session(Session(agent="Sam"))
    assert journal.flush()
    with JournalReader(tmp_path / "journal.sqlite3") as reader:
        rows = {row["agent"]: row["team"] for row in reader.sessions()}
    assert rows == {"Maria Lopez": "Returns", "Sam": ""}


def test_sessions_a_crashed_app_left_open_are_closed_at_the_next_start(tmp_path: Path) -> None:
    """Issue 18 (3): a session nothing ended (the app was killed) is closed when the journal is next opened for
    writing, at its last event's time, and review says why; a session ended properly is untouched."""
    from assist.storage import Journal as JournalClass
    from assist.storage.review import SessionFilter

    path = tmp_path / "journal.sqlite3"
    with JournalClass(path) as journal:
        crashed = Session(agent="alex", started_at=1000.0)
        journal.start_session(crashed)
        journal.record_message(ChatMessage(session_id=crashed.id, role=Role.CUSTOMER, text="hello?", created_at=1042.0))
        ended = Session(agent="alex", started_at=2000.0)
        journal.start_session(ended)
        journal.end_session(ended.id, 2100.0)
        assert journal.flush()
    with JournalClass(path) as again:  # the next start
        assert again.interrupted_sessions == 1
    with JournalReader(path) as reader:
        rows = {row["id"]: row for row in reader.sessions()}
        summaries = {s.id: s for s in reader.session_summaries(SessionFilter())}
    assert rows[crashed.id]["ended_at"] == pytest.approx(1042.0)
    assert rows[ended.id]["ended_at"] == pytest.approx(2100.0)
    assert summaries[crashed.id].interrupted and not summaries[ended.id].interrupted
    with JournalClass(path) as journal:
        assert journal.interrupted_sessions == 0  # once only
        journal.end_session(crashed.id, 1050.0)  # an end said by the app itself clears the mark
        assert journal.flush()
    with JournalReader(path) as reader:
        assert not next(s for s in reader.session_summaries(SessionFilter()) if s.id == crashed.id).interrupted


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
def test_assists_folders_and_files_are_owner_only(tmp_path: Path, monkeypatch) -> None:
    """Issue 18 (10): the data folder, sessions/ (and each session's folder), kb.sqlite3 and the log folder are
    created readable by their owner only, like the journal; a folder a user chose for --db is not changed."""
    import stat

    import numpy as np

    from assist.app.cli.main import add_log_file
    from assist.capture.screenshot import store_screenshot
    from assist.paths import user_data_dir, user_log_dir
    from assist.replies.kb.store import KnowledgeStore
    from assist.storage import Journal as JournalClass

    for name in ("XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME", "XDG_CONFIG_HOME"):
        monkeypatch.setenv(name, str(tmp_path / name.lower()))
    old = os.umask(0o022)
    try:
        data = user_data_dir()
        with JournalClass(data / "journal.sqlite3"):
            pass
        store_screenshot(np.zeros((8, 8, 3), dtype=np.uint8), data / "sessions" / "abc")
        KnowledgeStore(data / "kb.sqlite3").close()
        handler = add_log_file()
        chosen = tmp_path / "my-project"
        chosen.mkdir(mode=0o755)
        with JournalClass(chosen / "j.sqlite3"):
            pass
    finally:
        os.umask(old)
        import logging

        for h in list(logging.getLogger().handlers):
            if getattr(h, "baseFilename", "").startswith(str(tmp_path)):
                logging.getLogger().removeHandler(h)
                h.close()

    def mode(path: Path) -> int:
        return stat.S_IMODE(path.stat().st_mode)

    for folder in (data, data / "sessions", data / "sessions" / "abc", user_log_dir()):
        assert mode(folder) == 0o700, (folder, oct(mode(folder)))
    for file in (data / "journal.sqlite3", data / "kb.sqlite3", user_log_dir() / "assist.log"):
        assert mode(file) & 0o077 == 0, (file, oct(mode(file)))
    assert handler is not None
    assert mode(chosen) == 0o755  # the user's own folder is left as it was
