"""The supervisor's queries on a real journal: sessions with their figures (filter, sort, page), full-text search
with the hits marked, and the per-session figures kept by triggers or rebuilt for an older journal."""

from __future__ import annotations

import sqlite3

import pytest

from assist.pipeline.controller import SessionController
from assist.storage import Journal
from assist.storage.reader import JournalReader
from assist.storage.review import HIT_CLOSE, HIT_OPEN, SessionFilter
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
            if agent == "ali":  # this agent uses the first suggestion every time
                controller.feedback(turn.insight.suggestions[0].id, "inserted")
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
    conn = sqlite3.connect(old)  # as the previous release left it: no figures table, no triggers
    for name in ("session_stats_event", "session_stats_insight", "session_stats_suggestion", "session_stats_feedback"):
        conn.execute(f"DROP TRIGGER {name}")
    conn.execute("DROP TABLE session_stats")
    conn.execute("DELETE FROM _sqlite_migrations WHERE name = '0005_session_stats'")
    conn.commit()
    conn.close()
    journal = Journal(old)
    assert journal.migrations_applied == ["0005_session_stats"]
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
