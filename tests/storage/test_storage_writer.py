"""The journal's writer thread: lock contention, draining on close, concurrency, error isolation."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from assist.domain import ChatMessage, Role, Session
from assist.storage import DatabaseUnavailable, Journal, JournalReader, StorageError

WRITER = "assist-journal-writer"


def writer_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name == WRITER and t.is_alive()}


@pytest.fixture(autouse=True)
def no_dangling_writer() -> Iterator[None]:
    """Fail a test that leaves a journal writer thread running."""
    before = writer_threads()
    yield
    deadline = time.monotonic() + 5
    while writer_threads() - before and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not writer_threads() - before, "a test left an assist-journal-writer thread running"


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "journal.sqlite3"


@pytest.fixture
def errors() -> list[StorageError]:
    return []


@pytest.fixture
def journal(path: Path, errors: list[StorageError]) -> Iterator[Journal]:
    journal = Journal(path, on_error=errors.append, busy_timeout_ms=50)
    yield journal
    journal.close(timeout=1.0)


def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def reported(errors: list[StorageError], count: int) -> Callable[[], bool]:
    return lambda: len(errors) >= count


def started(journal: Journal) -> Session:
    session = Session()
    journal.start_session(session)
    assert journal.flush()
    return session


def say(journal: Journal, session: Session, text: str) -> None:
    journal.record_message(ChatMessage(session_id=session.id, role=Role.CUSTOMER, text=text))


def stored_texts(path: Path, session: Session) -> list[str]:
    with JournalReader(path) as reader:
        return [event["text"] for event in reader.events(session.id)]


def exclusive_lock(path: Path) -> sqlite3.Connection:
    """A second connection holding the write lock, as another process would."""
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    return other


def test_writer_thread_is_named_and_not_daemon(journal: Journal) -> None:
    [thread] = writer_threads()
    assert thread.daemon is False and journal.running


def test_locked_database_keeps_rows_reports_once_and_recovers(
    journal: Journal, path: Path, errors: list[StorageError]
) -> None:
    session = started(journal)
    other = exclusive_lock(path)
    try:
        for i in range(20):
            say(journal, session, f"message {i}")
        assert wait_until(lambda: len(errors) >= 1)
        assert journal.flush(timeout=0.3) is False
        assert journal.pending_count == 20
        say(journal, session, "queued while locked")
        time.sleep(0.3)  # several retries happen while the lock is held
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert journal.flush(timeout=5.0)
    assert journal.pending_count == 0
    assert stored_texts(path, session) == [f"message {i}" for i in range(20)] + ["queued while locked"]
    assert len(errors) == 1
    assert isinstance(errors[0], DatabaseUnavailable) and errors[0].locked
    assert str(path) in str(errors[0])


def test_a_second_lock_episode_is_reported_again(journal: Journal, path: Path, errors: list[StorageError]) -> None:
    session = started(journal)
    for episode in range(2):
        other = exclusive_lock(path)
        say(journal, session, f"episode {episode}")
        assert wait_until(reported(errors, episode + 1))
        other.execute("ROLLBACK")
        other.close()
        assert journal.flush()
    assert all(isinstance(error, DatabaseUnavailable) for error in errors) and len(errors) == 2


def test_close_while_locked_gives_up_and_reports_unwritten_rows(path: Path) -> None:
    errors: list[StorageError] = []
    journal = Journal(path, on_error=errors.append, busy_timeout_ms=50)
    session = started(journal)
    other = exclusive_lock(path)
    try:
        for i in range(10):
            say(journal, session, f"lost {i}")
        start = time.monotonic()
        assert journal.close(timeout=0.5) is False
        assert time.monotonic() - start < 3.0
        assert not journal.running
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert "10 records could not be saved" in str(errors[-1])
    assert journal.pending_count == 0
    assert stored_texts(path, session) == []


def test_close_drains_500_queued_messages(path: Path) -> None:
    journal = Journal(path)
    session = Session()
    journal.start_session(session)
    for i in range(500):
        say(journal, session, f"line {i}")
    assert journal.close()
    assert not journal.running and not writer_threads()
    assert stored_texts(path, session) == [f"line {i}" for i in range(500)]


def test_messages_from_many_threads_all_arrive(journal: Journal, path: Path, errors: list[StorageError]) -> None:
    session = started(journal)

    def produce(worker: int) -> None:
        for i in range(100):
            say(journal, session, f"w{worker}-{i}")

    producers = [threading.Thread(target=produce, args=(n,)) for n in range(4)]
    for producer in producers:
        producer.start()
    for producer in producers:
        producer.join()
    assert journal.flush()
    texts = stored_texts(path, session)
    assert sorted(texts) == sorted(f"w{n}-{i}" for n in range(4) for i in range(100))
    for n in range(4):  # each producer's messages keep their order
        assert [t for t in texts if t.startswith(f"w{n}-")] == [f"w{n}-{i}" for i in range(100)]
    assert errors == []


def test_one_bad_row_does_not_lose_its_batch(journal: Journal, path: Path, errors: list[StorageError]) -> None:
    session = started(journal)
    for i in range(50):
        if i == 25:
            journal.record_message(ChatMessage(session_id="missing", role=Role.AGENT, text="orphan"))
        say(journal, session, f"ok {i}")
    assert journal.flush()
    assert stored_texts(path, session) == [f"ok {i}" for i in range(50)]
    assert len(errors) == 1 and not isinstance(errors[0], DatabaseUnavailable)


def test_duplicate_id_is_reported_and_writer_keeps_going(
    journal: Journal, path: Path, errors: list[StorageError]
) -> None:
    session = started(journal)
    journal.start_session(session)  # same id again
    say(journal, session, "after the duplicate")
    assert journal.flush()
    assert stored_texts(path, session) == ["after the duplicate"]
    assert len(errors) == 1 and "UNIQUE" in str(errors[0])


def test_a_raising_on_error_callback_does_not_kill_the_writer(path: Path) -> None:
    def explode(error: StorageError) -> None:
        raise RuntimeError("callback bug")

    journal = Journal(path, on_error=explode)
    try:
        journal.record_message(ChatMessage(session_id="missing", role=Role.AGENT, text="orphan"))
        session = started(journal)
        say(journal, session, "still written")
        assert journal.flush() and journal.running
    finally:
        assert journal.close()
    assert stored_texts(path, session) == ["still written"]


def test_writes_after_close_raise_and_close_is_idempotent(path: Path) -> None:
    journal = Journal(path)
    assert journal.close() and journal.close()
    with pytest.raises(StorageError, match="closed"):
        journal.start_session(Session())


def test_enqueueing_does_not_block_on_a_locked_database(journal: Journal, path: Path) -> None:
    session = started(journal)
    other = exclusive_lock(path)
    try:
        start = time.perf_counter()
        for i in range(200):
            say(journal, session, f"fast {i}")
        assert time.perf_counter() - start < 0.5
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert journal.flush()


@pytest.mark.slow
def test_process_exits_and_keeps_rows_when_close_is_forgotten(path: Path) -> None:
    """The non-daemon writer notices the main thread has ended, drains, and lets Python exit."""
    code = (
        "import sys\n"
        "from assist.domain import ChatMessage, Role, Session\n"
        "from assist.storage import Journal\n"
        "journal = Journal(sys.argv[1])\n"
        "session = Session(id='forgotten')\n"
        "journal.start_session(session)\n"
        "for i in range(100):\n"
        "    journal.record_message(ChatMessage(session_id=session.id, role=Role.AGENT, text=f'm{i}'))\n"
    )
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root)}
    done = subprocess.run([sys.executable, "-c", code, str(path)], cwd=root, env=env, timeout=60, capture_output=True)
    assert done.returncode == 0, done.stderr
    assert stored_texts(path, Session(id="forgotten")) == [f"m{i}" for i in range(100)]
