"""The supervisor's queries on a real journal: sessions with their figures (filter, sort, page), full-text search
with the hits marked, and the per-session figures kept by triggers or rebuilt for an older journal."""

from __future__ import annotations

import sqlite3

import pytest

from assist.domain import (
    ChatMessage,
    EmotionEstimate,
    Escalation,
    EscalationLevel,
    Insight,
    LabelEstimate,
    Role,
    Session,
)
from assist.pipeline.controller import SessionController
from assist.storage import Journal
from assist.storage.reader import JournalReader
from assist.storage.review import HIT_CLOSE, HIT_OPEN, SessionFilter
from assist.storage.schema import PEAK_MIGRATION
from support import copy_journal

pytestmark = pytest.mark.slow

ANGRY = ["This is the third time my package is late, I want my money back NOW",
         "Unbelievable. Nobody helps me, I am cancelling my account and calling my lawyer"]
CALM = ["Hi, could you tell me how long standard delivery takes?", "Great, thank you so much!"]


@pytest.fixture(scope="module")
def journal_path(tmp_path_factory, engines):
    path = tmp_path_factory.mktemp("review") / "journal.sqlite3"
    journal = Journal(path)
    controller = SessionController(engines, journal=journal)
    ids = {}
    for agent, texts in (("dana", ANGRY), ("ali", CALM), ("dana", CALM[:1])):
        session = controller.start_session(agent=agent)
        ids.setdefault(agent, []).append(session.id)
        for text in texts:
            turn = controller.submit("customer", text)
            controller.submit("agent", "Let me look into that for you.")
            if agent == "ali":  # this agent uses the first suggestion every time: inserts it, then sends it
                controller.feedback(turn.insight.suggestions[0].id, "inserted")
                controller.feedback(turn.insight.suggestions[0].id, "sent")
        controller.end_session()
    assert journal.flush(30)
    journal.close()
    return path, ids


def test_each_session_has_its_figures(journal_path):
    path, ids = journal_path
    with JournalReader(path) as reader:
        rows = {s.id: s for s in reader.session_summaries()}
    angry, calm = rows[ids["dana"][0]], rows[ids["ali"][0]]
    assert angry.messages == 4 and angry.customer_turns == 2 and angry.escalations >= 1
    assert angry.peak_negative > 0.6 and angry.peak_emotion == "anger"
    assert calm.peak_negative < 0.3 and calm.escalations == 0
    assert calm.suggestions == 6 and calm.used == 2 and calm.acceptance == pytest.approx(1 / 3)
    assert angry.used == 0 and angry.acceptance == 0.0
    assert all(s.duration_s >= 0 and s.ended_at is not None for s in rows.values())


def test_filters_sorting_and_paging(journal_path):
    path, ids = journal_path
    with JournalReader(path) as reader:
        assert [s.id for s in reader.session_summaries(SessionFilter(escalated_only=True))] == [ids["dana"][0]]
        by_anger = reader.session_summaries(sort="peak_negative")
        assert by_anger[0].id == ids["dana"][0]
        assert {s.id for s in reader.session_summaries(SessionFilter(agent="DAN"))} == set(ids["dana"])
        assert [s.id for s in reader.session_summaries(SessionFilter(max_acceptance=0.1))] != []
        assert ids["ali"][0] not in {s.id for s in reader.session_summaries(SessionFilter(max_acceptance=0.1))}
        assert reader.count_sessions() == 3 and reader.count_sessions(SessionFilter(agent="ali")) == 1
        newest_first = reader.session_summaries()
        assert [s.id for s in reader.session_summaries(limit=1, offset=1)] == [newest_first[1].id]
        assert [s.id for s in reader.session_summaries(sort="started", descending=False)] == \
            [s.id for s in reversed(newest_first)]
        assert reader.session_summaries(SessionFilter(agent="50%_off\\")) == []  # LIKE wildcards are literal
        with pytest.raises(ValueError, match="cannot sort"):
            reader.session_summaries(sort="id; DROP TABLE sessions")


def test_full_text_search_marks_the_hits_and_takes_any_characters(journal_path):
    path, ids = journal_path
    with JournalReader(path) as reader:
        hits = reader.search_hits("money back")
        assert [h.session_id for h in hits] == [ids["dana"][0]]
        assert f"{HIT_OPEN}money{HIT_CLOSE} {HIT_OPEN}back{HIT_CLOSE}" in hits[0].snippet
        assert hits[0].role == "customer" and hits[0].agent == "dana"
        assert {h.session_id for h in reader.search_hits("delivery")} == {ids["ali"][0], ids["dana"][1]}
        assert len(reader.search_hits("delivery", session_id=ids["ali"][0])) == 1
        for query in ['money AND (', 'back"', "NEAR(", "*", "-", ""]:
            reader.search_hits(query)  # FTS syntax characters are words, never an error


def test_an_older_journal_gets_its_figures_rebuilt_when_opened(journal_path, tmp_path):
    path, _ = journal_path
    old = copy_journal(path, tmp_path / "old.sqlite3")
    with JournalReader(path) as reader:
        expected = reader.session_summaries()
    conn = sqlite3.connect(old)  # as an earlier release left it: no figures table, no triggers
    for name in ("session_stats_event", "session_stats_insight", "session_stats_suggestion", "session_stats_feedback"):
        conn.execute(f"DROP TRIGGER {name}")
    conn.execute("DROP TABLE session_stats")
    conn.execute(f"DELETE FROM _sqlite_migrations WHERE name IN ('0005_session_stats', '{PEAK_MIGRATION}')")
    conn.commit()
    conn.close()
    journal = Journal(old)
    assert journal.migrations_applied == ["0005_session_stats", PEAK_MIGRATION]
    journal.close()
    with JournalReader(old) as reader:
        assert reader.session_summaries() == expected


def test_the_datasette_metadata_names_real_tables_and_its_canned_queries_run(journal_path):
    import json
    from pathlib import Path

    path, ids = journal_path
    metadata = json.loads((Path(__file__).resolve().parents[2] / "resources" / "datasette" / "metadata.json")
                          .read_text(encoding="utf-8"))
    database = metadata["databases"]["journal"]
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert set(database["tables"]) <= tables
    params = {"words": '"money"', "minutes": 0}
    results = {name: conn.execute(q["sql"], params).fetchall() for name, q in database["queries"].items()}
    assert results["escalations_this_week"] and results["angriest_sessions"][0][0] == ids["dana"][0]
    assert results["search_transcripts"][0][0] == ids["dana"][0]
    assert {row[0] for row in results["suggestion_use_by_agent"]} == {"dana", "ali"}
    fks = {(r[2], r[3]) for r in conn.execute("SELECT * FROM pragma_foreign_key_list('insights')")}
    assert ("events", "message_id") in fks  # Datasette links rows through the declared foreign keys
    conn.close()


def test_a_journal_from_a_newer_assist_is_refused_in_words_and_left_alone(journal_path, tmp_path):
    import hashlib

    from assist.storage.errors import DatabaseTooNew

    path, _ = journal_path
    newer = copy_journal(path, tmp_path / "newer.sqlite3")
    conn = sqlite3.connect(newer)
    conn.execute("INSERT INTO _sqlite_migrations (migration_set, name, applied_at) "
                 "VALUES ('assist', '0099_from_the_future', '2030-01-01')")
    conn.commit()
    conn.close()
    before = hashlib.sha256(newer.read_bytes()).hexdigest()
    for opener in (Journal, JournalReader):
        with pytest.raises(DatabaseTooNew, match="newer version of Assist .schema 0099_from_the_future"):
            opener(newer)
    assert hashlib.sha256(newer.read_bytes()).hexdigest() == before


# --- the peak negative emotion: one emotion, named (issue 17, 9-11) ------------------------------------------------

SAD = {"sadness": 0.6, "anger": 0.2, "fear": 0.1, "disgust": 0.09, "neutral": 0.01}  # the four add up to 99%
MIXED = {"anger": 0.3, "disgust": 0.2, "fear": 0.15, "sadness": 0.15, "neutral": 0.2}  # 80% together, none >= 50%
GLAD = {"joy": 0.6, "neutral": 0.19, "fear": 0.07, "anger": 0.05, "surprise": 0.04, "sadness": 0.03, "disgust": 0.02}
CALM_PROBS = {"neutral": 1.0}


def record_turns(journal: Journal, agent: str, turns: list[dict[str, float]], started_at: float) -> str:
    """A session with one customer turn per emotion distribution (hand-made Insights: exact figures)."""
    session = Session(agent=agent, started_at=started_at)
    journal.start_session(session)
    for n, probs in enumerate(turns):
        message = ChatMessage(session_id=session.id, role=Role.CUSTOMER, text=f"turn {n}",
                              created_at=started_at + n)
        journal.record_message(message)
        journal.record_insight(Insight(session.id, message.id, EmotionEstimate(probs), LabelEstimate("neutral", 1.0),
                                       LabelEstimate("track_order", 0.9), Escalation(EscalationLevel.LOW, 0.1), (),
                                       {}, {}, created_at=started_at + n))
    return session.id


@pytest.fixture
def feelings(tmp_path):
    path = tmp_path / "feelings.sqlite3"
    with Journal(path) as journal:
        ids = {"sad": record_turns(journal, "sad", [SAD, {"anger": 0.4, "neutral": 0.6}], 1000.0),
               "mixed": record_turns(journal, "mixed", [MIXED], 2000.0),
               "glad": record_turns(journal, "glad", [GLAD], 3000.0),
               "calm": record_turns(journal, "calm", [CALM_PROBS], 4000.0)}
        assert journal.flush(10)
    return path, ids


def test_the_peak_negative_is_the_strongest_single_negative_emotion_with_its_name(feelings):
    path, ids = feelings
    with JournalReader(path) as reader:
        rows = {s.agent: s for s in reader.session_summaries()}
        by_peak = [s.agent for s in reader.session_summaries(sort="peak_negative")]
        upset = [s.agent for s in reader.session_summaries(SessionFilter(min_peak_negative=0.5))]
    # sadness read 60%: the list says "sadness 60%", not the four emotions' 99% under sadness's name
    assert (rows["sad"].peak_emotion, rows["sad"].peak_negative) == ("sadness", pytest.approx(0.6))
    assert rows["sad"].peak_text == "sadness 60%"
    assert (rows["mixed"].peak_emotion, rows["mixed"].peak_text) == ("anger", "anger 30%")
    assert rows["glad"].peak_text == "fear 7%"  # the negative emotion it names, not the turn's top one (joy)
    assert (rows["calm"].peak_negative, rows["calm"].peak_emotion, rows["calm"].peak_text) == (0.0, "", "—")
    assert by_peak == ["sad", "mixed", "glad", "calm"]
    assert upset == ["sad"]  # one emotion at 50% or more; four middling ones adding up to 80% are not "angry"


def test_a_journal_from_before_0008_shows_the_same_peak_and_is_upgraded_when_written(tmp_path):
    import hashlib

    from sqlite_utils import Database

    from assist.storage.rows import insight_op, message_op
    from assist.storage.schema import migrations

    path = tmp_path / "before-0008.sqlite3"
    db = Database(path)
    migrations.apply(db, stop_before=PEAK_MIGRATION)  # the previous release's schema and its triggers
    session = Session(agent="sam", started_at=1000.0)
    message = ChatMessage(session_id=session.id, role=Role.CUSTOMER, text="I lost my job and cannot pay",
                          created_at=1001.0)
    insight = Insight(session.id, message.id, EmotionEstimate(SAD), LabelEstimate("negative", 0.9),
                      LabelEstimate("payment_issue", 0.8), Escalation(EscalationLevel.LOW, 0.2), (), {}, {})
    db.execute("INSERT INTO sessions (id, started_at, ended_at, agent, source, redaction_enabled, app_version) "
               "VALUES (?, ?, NULL, ?, ?, ?, ?)", (session.id, 1000.0, "sam", "chat", 0, "0"))  # that release's row
    for op in (message_op(message, False), insight_op(insight, False)):
        for sql, params in op.statements:
            db.execute(sql, params)
    db.conn.commit()
    stored = db.execute("SELECT peak_negative, peak_emotion FROM session_stats").fetchone()
    db.close()
    assert stored == (pytest.approx(0.99), "sadness")  # what the old trigger kept: the sum, under the top name
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    with JournalReader(path) as reader:  # read-only (another PC's journal): never upgraded, still truthful
        (old,) = reader.session_summaries()
        assert reader.session_summaries(SessionFilter(min_peak_negative=0.7)) == []
        assert reader.count_sessions(SessionFilter(min_peak_negative=0.5)) == 1
    assert (old.peak_emotion, old.peak_negative) == ("sadness", pytest.approx(0.6))
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before
    with Journal(path) as journal:  # Assist opens it for writing: 0008 rebuilds the stored figures
        assert journal.migrations_applied == [PEAK_MIGRATION, "0009_used_means_sent", "0010_session_team"]
        angry = ChatMessage(session_id=session.id, role=Role.CUSTOMER, text="and nobody answers", created_at=1002.0)
        journal.record_message(angry)
        journal.record_insight(Insight(session.id, angry.id, EmotionEstimate({"anger": 0.7, "sadness": 0.3}),
                                       LabelEstimate("negative", 0.9), LabelEstimate("complaint", 0.8),
                                       Escalation(EscalationLevel.LOW, 0.3), (), {}, {}))
        assert journal.flush(10)
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT peak_negative, peak_emotion, customer_turns FROM session_stats").fetchone() == (
        pytest.approx(0.7), "anger", 2)  # the new trigger: the strongest one emotion of the new turn
    conn.close()
    with JournalReader(path) as reader:
        (now,) = reader.session_summaries()
    assert now.peak_text == "anger 70%"
