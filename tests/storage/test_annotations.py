"""A supervisor's annotations on a real journal: corrections and comments with who and when, the latest label
wins, model outputs never touched, bad labels refused in words, several writers at once (threads, a second
process, Assist's own journal writer), a journal locked too long, and the CLI with ``eval annotated``."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from assist.app.cli.annotations import cmd_eval_annotated, score
from assist.app.cli.main import build_parser, main
from assist.domain import ChatMessage, Role, Session
from assist.inference.labels import INTENTS
from assist.pipeline.controller import SessionController
from assist.storage import DatabaseUnavailable, Journal, JournalReader
from assist.storage.annotations import AnnotationsBusy, AnnotationStore
from support import copy_journal

pytestmark = pytest.mark.slow

CONVERSATIONS = {
    "dana": ["This is the third time my package is late, I want my money back NOW",
             "Unbelievable. Nobody helps me, I am cancelling my account and calling my lawyer"],
    "ali": ["Hi, could you tell me how long standard delivery takes?", "Great, thank you so much!"],
    "sam": ["I forgot my password and cannot log in", "How do I change the shipping address on my order?"],
}
MODEL_TABLES = ("sessions", "events", "insights", "suggestions", "feedback", "session_stats")


@pytest.fixture(scope="module")
def template(tmp_path_factory, engines):
    """A journal recorded by the real pipeline: three sessions, two customer turns each, agent replies."""
    path = tmp_path_factory.mktemp("annotations") / "journal.sqlite3"
    journal = Journal(path)
    controller = SessionController(engines, journal=journal)
    ids: dict[str, list[str]] = {"sessions": [], "customer": [], "agent": []}
    for agent, texts in CONVERSATIONS.items():
        ids["sessions"].append(controller.start_session(agent=agent).id)
        for text in texts:
            ids["customer"].append(controller.submit("customer", text).message.id)
            ids["agent"].append(controller.submit("agent", "Let me look into that for you.").message.id)
        controller.end_session()
    assert journal.flush(30)
    journal.close()
    return path, ids


@pytest.fixture
def journal(template, tmp_path):
    """A fresh copy of the template journal for each test."""
    source, ids = template
    return copy_journal(source, tmp_path / "journal.sqlite3"), ids


def model_outputs_digest(path: Path, sessions: list[str] | None = None) -> str:
    """A checksum of every row the pipeline wrote (the model's outputs and the conversation), of all sessions or
    of the ones named."""
    digest = hashlib.sha256()
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    for table in MODEL_TABLES:
        column = "id" if table == "sessions" else "session_id"
        where = f" WHERE {column} IN ({','.join('?' * len(sessions))})" if sessions else ""
        for row in conn.execute(f"SELECT * FROM {table}{where} ORDER BY rowid", sessions or ()):
            digest.update(repr(row).encode())
    conn.close()
    return digest.hexdigest()


def stored_labels(path: Path) -> dict[str, tuple[str, str]]:
    """event id -> (emotion, intent) the model recorded."""
    conn = sqlite3.connect(path)
    found = {r[0]: (r[1], r[2]) for r in conn.execute("SELECT message_id, emotion, intent FROM insights")}
    conn.close()
    return found


# --- annotate, comment, list ------------------------------------------------------------------------------------


def test_annotate_comment_and_list_with_who_and_when(journal):
    path, ids = journal
    turn, session = ids["customer"][0], ids["sessions"][0]
    store = AnnotationStore(path, "Maria Lopez", intents=INTENTS)
    before = time.time()
    emotion = store.annotate(turn, "emotion", " Anger ")
    intent = store.annotate(turn, "intent", "get_refund")
    on_turn = store.comment(turn, "Customer was right: third late parcel.")
    on_session = store.comment(session, "Good recovery by the agent. Call me on jane@example.com")
    assert (emotion.field, emotion.value, emotion.session_id, emotion.event_id) == ("emotion", "anger", session, turn)
    assert intent.value == "get_refund" and intent.replaces is None
    assert on_turn.event_id == turn and on_turn.session_id == session
    assert on_session.event_id is None and on_session.session_id == session
    assert on_session.value == "Good recovery by the agent. Call me on [EMAIL]"  # redacted like the session
    listed = store.for_session(session)
    assert listed == [emotion, intent, on_turn, on_session]
    assert all(a.author == "Maria Lopez" and before <= a.created_at <= time.time() for a in listed)
    assert store.for_session(ids["sessions"][1]) == [] and len(store.annotations()) == 4
    assert AnnotationStore(path).annotations() == listed  # a reader needs no author


def test_the_latest_label_wins_and_records_what_it_replaces(journal):
    path, ids = journal
    first, second = ids["customer"][:2]
    maria, li = AnnotationStore(path, "maria"), AnnotationStore(path, "li")
    old = maria.annotate(first, "emotion", "sadness")
    new = li.annotate(first, "emotion", "anger")
    li.annotate(second, "intent", "cancel_order")
    assert new.replaces == old.id and new.created_at > old.created_at
    assert maria.latest_labels() == {first: {"emotion": "anger", "intent": None},
                                     second: {"emotion": None, "intent": "cancel_order"}}
    assert maria.latest_labels(ids["sessions"][1]) == {}
    model = stored_labels(path)
    texts = CONVERSATIONS["dana"]
    assert maria.labelled_turns() == [(texts[0], *model[first], "anger", None),
                                      (texts[1], *model[second], None, "cancel_order")]
    fixed = maria.comment(first, "typo")
    assert maria.comment(first, "no typo", replaces=fixed.id).replaces == fixed.id
    with pytest.raises(ValueError, match="not an earlier comment on the same turn"):
        maria.comment(second, "elsewhere", replaces=fixed.id)


def test_annotations_never_touch_model_outputs(journal):
    path, ids = journal
    before = model_outputs_digest(path)
    store = AnnotationStore(path, "maria", intents=INTENTS)
    for turn in ids["customer"]:
        store.annotate(turn, "emotion", "neutral")
        store.annotate(turn, "intent", "complaint")
        store.comment(turn, "checked")
    store.comment(ids["sessions"][2], "whole session checked")
    assert model_outputs_digest(path) == before
    assert len(store.annotations()) == 3 * len(ids["customer"]) + 1
    conn = store._connect()  # the write connection may only insert annotations
    try:
        for sql in ("UPDATE insights SET emotion = 'joy'", "DELETE FROM events", "DELETE FROM annotations",
                    "INSERT INTO feedback (id, session_id, action, created_at) VALUES ('f', 's', 'x', 1)",
                    "DROP TABLE insights"):
            with pytest.raises(sqlite3.DatabaseError, match="not authorized"):
                conn.execute(sql)
    finally:
        conn.close()
    assert model_outputs_digest(path) == before


def test_bad_labels_and_targets_are_refused_in_words_and_nothing_is_saved(journal):
    path, ids = journal
    store = AnnotationStore(path, "maria", intents=INTENTS)
    turn = ids["customer"][0]
    with pytest.raises(ValueError, match=r"unknown emotion 'angry' \(one of: anger, disgust, fear, joy"):
        store.annotate(turn, "emotion", "angry")
    with pytest.raises(ValueError, match="unknown intent 'refund_me'.*get_refund"):
        store.annotate(turn, "intent", "refund_me")
    with pytest.raises(ValueError, match="cannot annotate 'sentiment'"):
        store.annotate(turn, "sentiment", "negative")
    with pytest.raises(ValueError, match="only a customer's turn.*agent's"):
        store.annotate(ids["agent"][0], "emotion", "joy")
    with pytest.raises(ValueError, match="no turn 'nope'"):
        store.annotate("nope", "emotion", "joy")
    with pytest.raises(ValueError, match="no turn or session 'nope'"):
        store.comment("nope", "hello")
    with pytest.raises(ValueError, match="a comment needs some text"):
        store.comment(turn, "   ")
    with pytest.raises(ValueError, match="only reads"):
        AnnotationStore(path).annotate(turn, "emotion", "joy")
    with pytest.raises(ValueError, match="author"):
        AnnotationStore(path, "  ")
    loose = AnnotationStore(path, "maria")  # without the label set: any one-line name, the caller validates
    assert loose.annotate(turn, "intent", "new_intent").value == "new_intent"
    with pytest.raises(ValueError, match="one line"):
        loose.annotate(turn, "intent", "two\nlines")
    assert [a.value for a in store.annotations()] == ["new_intent"]
    with pytest.raises(DatabaseUnavailable, match="does not exist"):
        AnnotationStore(path.parent / "missing.sqlite3", "maria")


# --- several writers ------------------------------------------------------------------------------------------

SUBPROCESS_WRITER = textwrap.dedent("""
    import sys
    from assist.storage.annotations import AnnotationStore
    store = AnnotationStore(sys.argv[1], "process")
    print("ready", flush=True)
    sys.stdin.readline()
    for i in range(20):
        store.annotate(sys.argv[2], "emotion", ("joy", "fear")[i % 2])
        store.comment(sys.argv[2], f"process comment {i}")
    print("done", flush=True)
""")


def test_two_supervisors_and_a_running_assist_write_at_once(journal):
    path, ids = journal
    before = model_outputs_digest(path, ids["sessions"])
    live = Journal(path)  # the agent's Assist, recording a new conversation meanwhile
    proc = subprocess.Popen([sys.executable, "-c", SUBPROCESS_WRITER, str(path), ids["customer"][0]],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    errors: list[BaseException] = []
    try:
        assert proc.stdout.readline().strip() == "ready"
        start = threading.Barrier(3)

        def supervisor(name: str, turns: list[str]) -> None:
            try:
                store = AnnotationStore(path, name, intents=INTENTS)
                start.wait(10)
                for i in range(20):
                    store.annotate(turns[i % len(turns)], "emotion", ("anger", "sadness")[i % 2])
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=supervisor, args=(name, ids["customer"][k:k + 2]))
                   for name, k in (("maria", 0), ("li", 2))]
        for t in threads:
            t.start()
        proc.stdin.write("go\n")
        proc.stdin.flush()
        start.wait(10)
        session = Session(agent="kim")
        live.start_session(session)
        for i in range(50):
            live.record_message(ChatMessage(session_id=session.id, role=Role.CUSTOMER, text=f"message {i}"))
        for t in threads:
            t.join(60)
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        assert out.strip() == "done"
        assert live.flush(30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        live.close()
    assert not errors, errors
    found = AnnotationStore(path).annotations()
    by_author = {name: [a for a in found if a.author == name] for name in ("maria", "li", "process")}
    assert len(by_author["maria"]) == len(by_author["li"]) == 20 and len(by_author["process"]) == 40
    assert len({a.id for a in found}) == 80
    with JournalReader(path) as reader:
        assert len(reader.events(session.id)) == 50  # Assist's own writes all landed too
    for turn in ids["customer"][:4]:  # the first turn had the other process and a thread labelling it at once
        labels = [a for a in found if a.event_id == turn and a.field == "emotion"]
        assert labels[0].replaces is None and len(labels) == (30 if turn == ids["customer"][0] else 10)
        # each label replaces the one saved just before it, whichever writer saved that
        assert [a.replaces for a in labels[1:]] == [a.id for a in labels[:-1]]
    assert model_outputs_digest(path, ids["sessions"]) == before  # the recorded sessions are as they were
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()


def hold_write_lock(path: Path, seconds: float, ready: threading.Event) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")  # the write lock, as a long transaction of another writer would hold it
    ready.set()
    time.sleep(seconds)
    conn.execute("ROLLBACK")
    conn.close()


def test_a_journal_locked_longer_than_the_retries_is_refused_in_words(journal):
    path, ids = journal
    store = AnnotationStore(path, "maria", busy_timeout_ms=50, attempts=3, backoff_s=0.02)
    ready = threading.Event()
    holder = threading.Thread(target=hold_write_lock, args=(path, 1.5, ready))
    holder.start()
    try:
        assert ready.wait(5)
        started = time.monotonic()
        with pytest.raises(DatabaseUnavailable) as caught:
            store.annotate(ids["customer"][0], "emotion", "anger")
        assert time.monotonic() - started < 1.4  # gave up after its retries, not after the holder
    finally:
        holder.join(10)
    assert isinstance(caught.value, AnnotationsBusy) and caught.value.locked
    assert "another supervisor is saving" in str(caught.value) and "Try again" in str(caught.value)
    assert store.annotations() == []
    assert store.annotate(ids["customer"][0], "emotion", "anger").value == "anger"  # free again


def test_a_lock_released_during_the_retries_is_waited_out(journal):
    path, ids = journal
    store = AnnotationStore(path, "maria", busy_timeout_ms=100, attempts=8, backoff_s=0.05)
    ready = threading.Event()
    holder = threading.Thread(target=hold_write_lock, args=(path, 0.4, ready))
    holder.start()
    try:
        assert ready.wait(5)
        saved = store.annotate(ids["customer"][0], "intent", "get_refund")
    finally:
        holder.join(10)
    assert store.annotations() == [saved]


def test_an_older_journal_is_upgraded_only_by_a_writer(journal, tmp_path):
    from assist.storage.schema import applied_migrations

    path, ids = journal
    conn = sqlite3.connect(path)
    conn.execute("DROP TABLE annotations")
    conn.execute("DELETE FROM _sqlite_migrations WHERE name = '0006_annotations'")
    conn.commit()
    conn.close()
    assert AnnotationStore(path).annotations() == [] and AnnotationStore(path).latest_labels() == {}
    with JournalReader(path) as reader:  # the report's reader: nothing annotated yet, and no error
        assert reader.annotations(ids["sessions"][0]) == []

    def migrated() -> list[str]:
        from sqlite_utils import Database

        db = Database(path)
        try:
            return applied_migrations(db)
        finally:
            db.close()

    assert "0006_annotations" not in migrated()
    AnnotationStore(path, "maria").annotate(ids["customer"][0], "emotion", "joy")
    assert migrated()[-1] == "0006_annotations"


def test_retention_deletes_an_annotated_session_with_its_annotations(journal):
    from assist.storage.privacy import apply_retention

    path, ids = journal
    store = AnnotationStore(path, "maria")
    store.annotate(ids["customer"][0], "emotion", "anger")
    store.comment(ids["sessions"][0], "seen")
    report = apply_retention(path, days=1, now=time.time() + 10 * 86400)
    assert report.sessions_deleted == 3
    assert store.annotations() == []


# --- command line ------------------------------------------------------------------------------------------------


def cli(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])  # the real ``assist`` parser: the commands' wiring is tested too
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_annotate_and_list_round_trip(journal, capsys):
    path, ids = journal
    turn, session = ids["customer"][1], ids["sessions"][0]
    code, out, err = cli(capsys, "annotate", "--db", path, "--event", turn, "--emotion", "anger",
                         "--intent", "cancel_order", "--comment", "wants a lawyer", "--author", "maria", "--json")
    assert code == 0, err
    saved = json.loads(out)
    assert [(a["field"], a["value"], a["author"]) for a in saved] == [
        ("emotion", "anger", "maria"), ("intent", "cancel_order", "maria"), ("comment", "wants a lawyer", "maria")]
    code, out, err = cli(capsys, "annotate", "--db", path, "--session", session, "--comment", "ok", "--author", "li")
    assert code == 0 and f"saved comment 'ok' on session {session} by li" in out
    code, out, _ = cli(capsys, "annotate", "--db", path, "--event", turn, "--emotion", "sadness", "--author", "li")
    assert code == 0
    code, out, _ = cli(capsys, "annotations", "list", "--db", path, "--session", session, "--json")
    listed = json.loads(out)
    assert code == 0 and len(listed) == 5 and listed[-1]["replaces"] == saved[0]["id"]
    code, out, _ = cli(capsys, "annotations", "list", "--db", path)
    assert code == 0 and "5 annotations" in out and "emotion: anger  (replaced)" in out
    assert f"li  turn {turn}  emotion: sadness\n" in out
    code, out, _ = cli(capsys, "annotations", "list", "--db", path, "--session", ids["sessions"][2])
    assert code == 0 and out == "No annotations yet.\n"


def test_cli_refuses_bad_input_with_exit_2_and_saves_nothing(journal, capsys):
    path, ids = journal
    turn = ids["customer"][0]
    for argv, words in (
        (("--event", turn, "--emotion", "anger", "--intent", "refund_me"), "unknown intent 'refund_me'"),
        (("--event", turn, "--emotion", "furious"), "unknown emotion 'furious'"),
        (("--event", turn), "say what to record"),
        (("--emotion", "anger"), "say which turn"),
        (("--session", ids["sessions"][0], "--emotion", "anger"), "give --event ID"),
        (("--event", ids["agent"][0], "--emotion", "joy"), "only a customer's turn"),
    ):
        code, out, err = cli(capsys, "annotate", "--db", path, "--author", "maria", *argv)
        assert code == 2 and err.startswith("assist: error: ") and words in err, (argv, err)
    code, _, err = cli(capsys, "annotations", "list", "--db", path.parent / "missing.sqlite3")
    assert code == 2 and "does not exist" in err
    assert AnnotationStore(path).annotations() == []  # the valid emotion beside a bad intent was not saved


def test_score_by_hand() -> None:
    pairs = [("anger", "anger"), ("anger", "joy"), ("joy", "joy"), ("fear", "joy")]
    # F1: anger 2*1/(2+1) = 2/3, joy 2*1/(1+3) = 1/2, fear 0 -> macro (2/3 + 1/2 + 0) / 3
    assert score(pairs) == {"turns": 4, "correct": 2, "accuracy": 0.5, "macro_f1": round((2 / 3 + 1 / 2) / 3, 4)}
    assert score([]) == {"turns": 0, "correct": 0, "accuracy": None, "macro_f1": None}


def test_eval_annotated_equals_a_hand_computation(journal, capsys, engines):
    from sklearn.metrics import f1_score

    path, ids = journal
    model = stored_labels(path)
    customer = ids["customer"]
    store = AnnotationStore(path, "maria", intents=INTENTS)
    other = {"anger": "sadness"}
    gold_emotion = {}
    for k, turn in enumerate(customer[:5]):  # the model is right on even turns, wrong on odd ones
        label = model[turn][0] if k % 2 == 0 else other.get(model[turn][0], "anger")
        store.annotate(turn, "emotion", "surprise")  # an earlier label: the latest wins
        gold_emotion[turn] = store.annotate(turn, "emotion", label).value
    gold_intent = {customer[0]: model[customer[0]][1], customer[4]: "complaint", customer[5]: model[customer[5]][1]}
    for turn, label in gold_intent.items():
        store.annotate(turn, "intent", label)
    store.comment(customer[3], "comments are not labels")

    code, out, err = cli(capsys, "eval", "annotated", "--db", path, "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["annotated_turns"] == 6
    for field, gold, column in (("emotion", gold_emotion, 0), ("intent", gold_intent, 1)):
        truth = list(gold.values())
        predicted = [model[turn][column] for turn in gold]
        correct = sum(t == p for t, p in zip(truth, predicted))
        expected = {"turns": len(gold), "correct": correct, "accuracy": round(correct / len(gold), 4),
                    "macro_f1": round(float(f1_score(truth, predicted, average="macro", zero_division=0)), 4)}
        assert report["stored"][field] == expected, field
    assert report["stored"]["emotion"]["correct"] == 3

    args = build_parser().parse_args(["eval", "annotated", "--db", str(path), "--rescore", "--json"])
    assert cmd_eval_annotated(args, load_model=lambda *a, **k: engines.text) == 0
    rescored = json.loads(capsys.readouterr().out)["rescored"]
    # chat turns without fusion: the text model on the stored text gives what the app recorded
    assert {k: rescored[k] for k in ("emotion", "intent")} == report["stored"] and rescored["skipped"] == 0
    assert rescored["model"] == engines.text.version

    code, out, _ = cli(capsys, "eval", "annotated", "--db", path)
    assert code == 0 and "6 corrected turns" in out and "emotion: accuracy 0.600" in out
