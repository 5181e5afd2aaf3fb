"""Chat sources: transcript import, the tailed JSON-lines file and the localhost socket feed (real sockets, real files)."""

from __future__ import annotations

import json
import os
import socket
import stat
import threading
import time
from pathlib import Path

import pytest

from assist.capture.chat_feed import (
    MAX_IMPORT_BYTES,
    MAX_IMPORT_MESSAGES,
    TOKEN_FILE,
    ChatFeedServer,
    FeedMessage,
    JsonlFileTailer,
    load_or_create_token,
    parse_transcript,
    send_messages,
)
from assist.capture.errors import CaptureError, FeedError
from assist.domain import Role

TOKEN = "test-token-" + "x" * 40


def wait_until(predicate, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.02)


def texts(messages) -> list[tuple[str, str]]:
    return [(m.role.value, m.text) for m in messages]


# --- transcript import ------------------------------------------------------------------------------
def test_plain_text_transcript_with_variants_and_continuation_lines():
    result = parse_transcript(
        "Customer: My order 48213 never arrived.\n"
        "It was due on Monday.\n"
        "\n"
        "[10:31] SUPPORT: Sorry to hear that.\n"
        "Note: I am checking the courier now.\n"
        "client: thanks\n"
        "Rep : It is in transit.\n"
        "End User: ok\n"
        "Representative: Anything else?\n")
    assert result.format == "text" and result.problems == ()
    assert texts(result.messages) == [
        ("customer", "My order 48213 never arrived.\nIt was due on Monday."),
        ("agent", "Sorry to hear that.\nNote: I am checking the courier now."),
        ("customer", "thanks"),
        ("agent", "It is in transit."),
        ("customer", "ok"),
        ("agent", "Anything else?"),
    ]
    assert all(m.source == "import" and isinstance(m.role, Role) for m in result.messages)
    assert len({m.received_at for m in result.messages}) >= 1 and all(m.received_at > 0 for m in result.messages)


def test_text_before_the_first_speaker_is_reported_with_its_line():
    result = parse_transcript("Chat exported 2024-03-15\nCustomer: hello\n")
    assert texts(result.messages) == [("customer", "hello")]
    assert result.skipped_lines == (1,) and "line 1" in result.problems[0]


def test_text_without_any_speaker_gives_no_messages_and_says_why():
    result = parse_transcript("just some notes\nnothing else\n")
    assert result.messages == () and any("No 'Customer:'" in p for p in result.problems)


def test_json_lines_with_role_speaker_and_from_keys_and_malformed_lines(tmp_path):
    path = tmp_path / "chat.jsonl"
    path.write_text("\n".join([
        json.dumps({"role": "customer", "text": "Where is my parcel?", "id": 7, "sent_at": 1710498660}),
        json.dumps({"speaker": "Agent", "text": "Checking.", "sent_at": "2024-03-15T10:31:00+00:00"}),
        '{"role": "customer", "text": "broken',
        json.dumps({"from": "client", "message": "Thanks"}),
        json.dumps({"role": "bot", "text": "Hi"}),
        "",
        json.dumps({"role": "agent"}),
        "[1, 2]",
    ]), encoding="utf-8")
    result = parse_transcript(path)
    assert result.format == "jsonl"
    assert texts(result.messages) == [("customer", "Where is my parcel?"), ("agent", "Checking."),
                                      ("customer", "Thanks")]
    first, second = result.messages[:2]
    assert first.external_id == "7" and first.sent_at == 1710498660.0
    assert second.sent_at == 1710498660.0
    assert result.skipped == 4 and result.skipped_lines == (3, 5, 7, 8)
    assert "line 3: not valid JSON" in result.problems[0]
    assert "unknown role 'bot'" in result.problems[1] and "missing text" in result.problems[2]


def test_json_array_transcript():
    result = parse_transcript(json.dumps([{"role": "customer", "text": "hi"}, {"role": "agent", "text": "hello"},
                                          "oops"]))
    assert result.format == "json" and texts(result.messages) == [("customer", "hi"), ("agent", "hello")]
    assert result.skipped_lines == (3,)


def test_a_line_starting_with_a_bracketed_time_is_not_taken_for_json():
    result = parse_transcript("[10:30] Customer: hi\n[10:31] Agent: hello\n")
    assert result.format == "text" and texts(result.messages) == [("customer", "hi"), ("agent", "hello")]


def test_cp1252_file_is_decoded_and_reported(tmp_path):
    path = tmp_path / "export.txt"
    path.write_bytes("Customer: The café charged me €12 – twice\nAgent: Sorry!\n".encode("cp1252"))
    result = parse_transcript(path)
    assert texts(result.messages)[0] == ("customer", "The café charged me €12 – twice")
    assert result.encoding == "Windows-1252" and any("Windows-1252" in p for p in result.problems)


def test_utf16_file_with_bom(tmp_path):
    path = tmp_path / "notepad.txt"
    path.write_bytes("Customer: naïve question\r\nAgent: sure\r\n".encode("utf-16"))
    result = parse_transcript(path)
    assert texts(result.messages) == [("customer", "naïve question"), ("agent", "sure")]


def test_utf8_bom_is_dropped(tmp_path):
    path = tmp_path / "bom.txt"
    path.write_bytes("\ufeffCustomer: hi\n".encode())
    assert texts(parse_transcript(path).messages) == [("customer", "hi")]


@pytest.mark.parametrize("data", [
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4,
    bytes(range(1, 32)) * 300,  # control characters without a NUL byte
])
def test_binary_file_is_refused_with_a_clear_error(tmp_path, data):
    path = tmp_path / "picture.txt"
    path.write_bytes(data)
    with pytest.raises(FeedError, match="not a text transcript"):
        parse_transcript(path)


@pytest.mark.parametrize("content", [b"", b"   \n\n  \t\n"])
def test_empty_file_gives_no_messages(tmp_path, content):
    path = tmp_path / "empty.txt"
    path.write_bytes(content)
    result = parse_transcript(path)
    assert result.messages == () and result.problems == ("The transcript is empty.",)


def test_missing_file_and_folder_raise_feed_error(tmp_path):
    with pytest.raises(FeedError, match="does not exist"):
        parse_transcript(tmp_path / "nope.txt")
    with pytest.raises(FeedError, match="folder"):
        parse_transcript(tmp_path)
    assert issubclass(FeedError, CaptureError)


def test_huge_file_is_read_up_to_the_limits(tmp_path):
    line = json.dumps({"role": "customer", "text": "x" * 200}) + "\n"
    path = tmp_path / "huge.jsonl"
    with path.open("w") as handle:
        handle.write(line * (MAX_IMPORT_BYTES // len(line) + 500))
    result = parse_transcript(path)
    assert len(result.messages) == MAX_IMPORT_MESSAGES and result.truncated
    assert any("20 MB" in p for p in result.problems)
    assert any(f"first {MAX_IMPORT_MESSAGES:,} messages" in p for p in result.problems)


def test_very_many_malformed_lines_are_counted_not_all_listed():
    result = parse_transcript("{bad\n" * 500 + json.dumps({"role": "agent", "text": "ok"}))
    assert texts(result.messages) == [("agent", "ok")] and result.skipped == 500
    assert len(result.skipped_lines) == 50 and result.problems[-1] == "... and 450 more skipped."


# --- live feed: a tailed file -----------------------------------------------------------------------
class Collector:
    def __init__(self) -> None:
        self.messages: list[FeedMessage] = []
        self.problems: list[str] = []

    def texts(self) -> list[str]:
        return [m.text for m in self.messages]


def record(text: str, role: str = "customer") -> str:
    return json.dumps({"role": role, "text": text}) + "\n"


@pytest.fixture
def tail(tmp_path):
    made: list[JsonlFileTailer] = []

    def start(path: Path, **options) -> Collector:
        got = Collector()
        tailer = JsonlFileTailer(path, got.messages.append, got.problems.append, poll_interval=0.02, **options)
        tailer.start()
        made.append(tailer)
        return got

    yield start
    for tailer in made:
        assert tailer.stop(timeout=5) and not tailer.running


def test_tailer_waits_for_the_file_and_follows_appends(tmp_path, tail):
    path = tmp_path / "feed.jsonl"
    got = tail(path)
    time.sleep(0.1)
    with path.open("a") as handle:
        handle.write(record("first"))
        handle.flush()
        wait_until(lambda: got.texts() == ["first"])
        handle.write(record("second", "agent") + record("third"))
        handle.flush()
        wait_until(lambda: got.texts() == ["first", "second", "third"])
    assert [m.source for m in got.messages] == ["file"] * 3 and got.messages[1].role is Role.AGENT


def test_tailer_waits_for_a_partial_line_to_be_completed(tmp_path, tail):
    path = tmp_path / "feed.jsonl"
    path.write_text("")
    got = tail(path)
    line = record("split across two writes")
    with path.open("a") as handle:
        handle.write(line[:15])
        handle.flush()
        time.sleep(0.3)
        assert got.messages == [] and got.problems == []
        handle.write(line[15:])
        handle.flush()
    wait_until(lambda: got.texts() == ["split across two writes"])


def test_tailer_restarts_after_truncation_and_rotation(tmp_path, tail):
    path = tmp_path / "feed.jsonl"
    path.write_text(record("one") + record("two"))
    got = tail(path)
    wait_until(lambda: got.texts() == ["one", "two"])
    path.write_text(record("3"))  # truncated in place and rewritten, shorter than before
    wait_until(lambda: got.texts() == ["one", "two", "3"])
    with path.open("a") as handle:
        handle.write(record("left in the old file"))
    path.rename(tmp_path / "feed.jsonl.1")
    path.write_text(record("new file"))
    wait_until(lambda: got.texts()[3:] == ["left in the old file", "new file"])
    assert got.problems == []


def test_tailer_reports_bad_lines_and_goes_on(tmp_path, tail):
    path = tmp_path / "feed.jsonl"
    path.write_text("not json\n" + json.dumps({"role": "customer", "text": "x" * 300}) + "\n"
                    + record("y", role="robot") + record("fine"))
    got = tail(path, max_line_bytes=200)
    wait_until(lambda: got.texts() == ["fine"] and len(got.problems) == 3)
    assert got.problems[0].startswith("feed.jsonl line 1: not valid JSON")
    assert "line 2: longer than 200 bytes" in got.problems[1] and "line 3: unknown role" in got.problems[2]


def test_tailer_skips_an_oversize_line_without_newline_without_buffering_it(tmp_path, tail):
    path = tmp_path / "feed.jsonl"
    got = tail(path, max_line_bytes=1000)
    with path.open("a") as handle:
        for _ in range(20):  # 20 KB of one line, written in pieces
            handle.write("z" * 1024)
            handle.flush()
        time.sleep(0.2)
        handle.write("\n" + record("after"))
    wait_until(lambda: got.texts() == ["after"])
    assert len(got.problems) == 1 and "line 1: longer than 1,000 bytes" in got.problems[0]


def test_stop_delivers_every_line_written_before_it(tmp_path):
    path = tmp_path / "feed.jsonl"
    path.write_text("")
    got = Collector()
    tailer = JsonlFileTailer(path, got.messages.append, got.problems.append, poll_interval=30)
    tailer.start()
    time.sleep(0.1)  # first poll done; the next would be 30 s away
    path.write_text("".join(record(str(i)) for i in range(100)) + json.dumps({"role": "agent", "text": "last"}))
    started = time.monotonic()
    assert tailer.stop(timeout=5)
    assert time.monotonic() - started < 2 and not tailer.running
    assert got.texts() == [str(i) for i in range(100)] + ["last"]


def test_a_failing_consumer_does_not_stop_the_tailer(tmp_path, tail):
    path = tmp_path / "feed.jsonl"
    seen: list[str] = []

    def consumer(message: FeedMessage) -> None:
        seen.append(message.text)
        if message.text == "boom":
            raise RuntimeError("consumer bug")

    tailer = JsonlFileTailer(path, consumer, lambda _: None, poll_interval=0.02)
    tailer.start()
    try:
        path.write_text(record("boom") + record("still here"))
        wait_until(lambda: seen == ["boom", "still here"])
    finally:
        assert tailer.stop()


# --- live feed: the socket --------------------------------------------------------------------------
@pytest.fixture
def feed():
    got = Collector()
    server = ChatFeedServer(got.messages.append, got.problems.append, token=TOKEN)
    server.start()
    yield server, got
    server.stop()


def connect(port: int, host: str = "127.0.0.1"):
    connection = socket.create_connection((host, port), timeout=5)
    return connection, connection.makefile("rb")


def reply(reader) -> dict:
    line = reader.readline()
    assert line, "the server closed the connection without replying"
    return json.loads(line)


def authenticated(port: int):
    connection, reader = connect(port)
    connection.sendall(json.dumps({"token": TOKEN}).encode() + b"\n")
    assert reply(reader) == {"ok": True}
    return connection, reader


def test_messages_arrive_in_order_with_a_good_token(feed):
    server, got = feed
    assert server.port > 0
    messages = [{"role": "customer", "text": f"message {i}"} for i in range(20)]
    messages.append(FeedMessage(Role.AGENT, "Let me check.", "socket", external_id="a-1", sent_at=1710498660.0))
    replies = send_messages(server.port, TOKEN, messages)
    assert replies == [{"ok": True}] * 21
    assert got.texts() == [f"message {i}" for i in range(20)] + ["Let me check."]
    last = got.messages[-1]
    assert last.role is Role.AGENT and last.source == "socket" and last.external_id == "a-1"
    assert last.sent_at == 1710498660.0 and got.problems == []


@pytest.mark.parametrize("first_line", [
    json.dumps({"token": "wrong"}), json.dumps({"role": "customer", "text": "no token"}), "not json", "[]",
    json.dumps({"token": 42}),
])
def test_a_bad_or_missing_token_is_refused_and_the_connection_closed(feed, first_line):
    server, got = feed
    connection, reader = connect(server.port)
    with connection, reader:
        connection.sendall(first_line.encode() + b"\n" + json.dumps({"role": "customer", "text": "sneaky"}).encode()
                           + b"\n")
        assert reply(reader) == {"ok": False, "error": "bad token"}
        assert reader.readline() == b""  # closed
    assert got.messages == [] and any("bad or missing token" in p for p in got.problems)


def test_send_messages_raises_when_the_token_is_refused(feed):
    server, _ = feed
    with pytest.raises(FeedError, match="bad token"):
        send_messages(server.port, "wrong", [{"role": "customer", "text": "hi"}])


def test_bad_lines_get_an_error_reply_and_the_connection_stays_open(feed):
    server, got = feed
    connection, reader = authenticated(server.port)
    with connection, reader:
        for line, error in [(b"{not json", "not valid JSON"), (b'{"role": "robot", "text": "x"}', "unknown role"),
                            (b'{"role": "customer"}', "missing text"), (b'{"text": "hi"}', "missing role"),
                            (b'{"role": "agent", "text": "   "}', "empty text"), (b"\xff\xfe{}", "not UTF-8"),
                            (b'{"role": "agent", "text": "x", "sent_at": "yesterday"}', "sent_at")]:
            connection.sendall(line + b"\n")
            answer = reply(reader)
            assert answer["ok"] is False and error in answer["error"], (line, answer)
        connection.sendall(b"\n\r\n" + json.dumps({"role": "customer", "text": "still open"}).encode() + b"\r\n")
        assert reply(reader) == {"ok": True}
    wait_until(lambda: len(got.problems) == 7)
    assert got.texts() == ["still open"]


def test_an_oversize_line_is_refused_and_the_connection_dropped(tmp_path):
    got = Collector()
    server = ChatFeedServer(got.messages.append, got.problems.append, token=TOKEN, max_line_bytes=1024)
    server.start()
    try:
        connection, reader = authenticated(server.port)
        with connection, reader:
            exact = json.dumps({"role": "customer", "text": "y" * (1024 - 32)}).encode()
            assert len(exact) == 1024
            connection.sendall(exact + b"\n")
            assert reply(reader) == {"ok": True}
            connection.sendall(json.dumps({"role": "customer", "text": "z" * 200_000}).encode() + b"\n")
            answer = reply(reader)
            assert answer["ok"] is False and "longer than 1024 bytes" in answer["error"]
            assert reader.readline() == b""
        assert len(got.messages) == 1 and any("longer than 1,024 bytes" in p for p in got.problems)
        assert send_messages(server.port, TOKEN, [{"role": "agent", "text": "next client"}]) == [{"ok": True}]
    finally:
        server.stop()


def test_a_client_that_disconnects_mid_line_loses_only_that_line(feed):
    server, got = feed
    connection, reader = authenticated(server.port)
    connection.sendall(json.dumps({"role": "customer", "text": "whole"}).encode() + b"\n")
    assert reply(reader) == {"ok": True}
    connection.sendall(b'{"role": "customer", "te')
    reader.close()
    connection.close()
    wait_until(lambda: any("middle of a line" in p for p in got.problems))
    assert got.texts() == ["whole"]


def test_too_many_clients_and_a_silent_client_are_refused():
    got = Collector()
    server = ChatFeedServer(got.messages.append, got.problems.append, token=TOKEN, max_clients=1, auth_timeout=0.3)
    server.start()
    try:
        first, first_reader = connect(server.port)
        with first, first_reader:
            second, second_reader = connect(server.port)
            with second, second_reader:
                assert reply(second_reader) == {"ok": False, "error": "too many connections"}
            assert reply(first_reader) == {"ok": False, "error": "no token received"}  # silent for 0.3 s
            assert first_reader.readline() == b""
    finally:
        server.stop()


def test_stop_closes_connected_clients_and_leaves_no_thread():
    server = ChatFeedServer(lambda m: None, lambda p: None, token=TOKEN)
    server.start()
    port = server.port
    clients = [authenticated(port) for _ in range(3)]
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 3
    for connection, reader in clients:
        assert reader.readline() == b""
        reader.close()
        connection.close()
    assert not [t for t in threading.enumerate() if t.name == "assist-chat-feed"]
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    server.stop()  # twice is harmless


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "localhost", "::"])
def test_only_loopback_addresses_are_accepted(host):
    with pytest.raises(FeedError, match="only listens on this computer"):
        ChatFeedServer(lambda m: None, lambda p: None, token=TOKEN, host=host)


def test_ipv6_loopback():
    if not socket.has_ipv6:
        pytest.skip("no IPv6 on this machine")
    got = Collector()
    server = ChatFeedServer(got.messages.append, got.problems.append, token=TOKEN, host="::1")
    try:
        server.start()
    except FeedError as exc:
        pytest.skip(f"::1 is not available here: {exc}")
    try:
        assert send_messages(server.port, TOKEN, [{"role": "customer", "text": "v6"}], host="::1") == [{"ok": True}]
        assert got.texts() == ["v6"]
    finally:
        server.stop()


def test_a_port_in_use_is_a_feed_error(feed):
    server, _ = feed
    other = ChatFeedServer(lambda m: None, lambda p: None, token=TOKEN, port=server.port)
    with pytest.raises(FeedError, match="could not listen"):
        other.start()


# --- the per-install token --------------------------------------------------------------------------
def test_token_is_created_private_and_then_reused(tmp_path):
    config = tmp_path / "config"
    token = load_or_create_token(config)
    path = config / TOKEN_FILE
    assert len(token) >= 43 and path.read_text().strip() == token
    if os.name == "posix":
        assert stat.S_IMODE(path.stat().st_mode) == 0o600 and stat.S_IMODE(config.stat().st_mode) == 0o700
    assert load_or_create_token(config) == token
    assert [p.name for p in config.iterdir()] == [TOKEN_FILE]  # no temporary file left behind


@pytest.mark.parametrize("content", [b"", b"short", b"\xff\xfe\x00garbage", b"has spaces in it " * 4])
def test_an_empty_or_corrupt_token_file_is_replaced(tmp_path, content):
    (tmp_path / TOKEN_FILE).write_bytes(content)
    token = load_or_create_token(tmp_path)
    assert len(token) >= 43 and (tmp_path / TOKEN_FILE).read_text().strip() == token


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_a_token_file_readable_by_others_is_made_private(tmp_path):
    path = tmp_path / TOKEN_FILE
    path.write_text("A" * 43 + "\n")
    path.chmod(0o644)
    assert load_or_create_token(tmp_path) == "A" * 43
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_the_feed_hub_publishes_its_server_and_tailer_only_once_they_are_complete(tmp_path, monkeypatch):
    """Another thread (the window's) waits for ``hub.server``/``hub.tailer``: what it sees must be usable."""
    import assist.pipeline.feeds as feeds

    hub = feeds.FeedHub(tmp_path / "config")
    seen: dict[str, object] = {}
    started = feeds.ChatFeedServer.start

    def watched_start(server):
        seen["server while starting"], seen["token while starting"] = hub.server, hub.token
        started(server)

    monkeypatch.setattr(feeds.ChatFeedServer, "start", watched_start)
    tail_started = feeds.JsonlFileTailer.start

    def watched_tail(tailer):
        seen["tailer while starting"] = hub.tailer
        tail_started(tailer)

    monkeypatch.setattr(feeds.JsonlFileTailer, "start", watched_tail)
    try:
        port, token = hub.start_socket()
        assert seen["server while starting"] is None and seen["token while starting"] is None
        assert hub.server is not None and hub.token == token and hub.server.port == port > 0
        hub.follow_file(tmp_path / "chat.jsonl")
        assert seen["tailer while starting"] is None and hub.tailer is not None
    finally:
        hub.stop()
    assert hub.server is None and hub.tailer is None


def test_slow_token_less_clients_cannot_lock_a_real_client_out(feed):
    """Issue 18 (7): eight connections that send a byte now and then and never a token do not keep a real client
    out: a new connection beyond MAX_UNAUTHENTICATED closes the slowest, and a token line has a total deadline."""
    import threading

    from assist.capture.chat_socket import MAX_UNAUTHENTICATED

    server, got = feed
    stop = threading.Event()
    slow = []
    for _ in range(8):
        connection = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        connection.sendall(b'{"tok')
        slow.append(connection)

    def drip():
        while not stop.wait(0.3):
            for connection in slow:
                try:
                    connection.sendall(b"e")
                except OSError:
                    pass

    dripper = threading.Thread(target=drip, daemon=True)
    dripper.start()
    try:
        started = time.monotonic()
        replies = send_messages(server.port, TOKEN, [{"role": "customer", "text": "a real client"}])
        assert replies == [{"ok": True}] and time.monotonic() - started < 3
        wait_until(lambda: got.texts() == ["a real client"])
        assert MAX_UNAUTHENTICATED < 8
    finally:
        stop.set()
        dripper.join(2)
        for connection in slow:
            connection.close()


def test_a_token_line_dripped_past_the_deadline_is_refused():
    got = Collector()
    server = ChatFeedServer(got.messages.append, got.problems.append, token=TOKEN, auth_timeout=1.0)
    server.start()
    try:
        connection, reader = connect(server.port)
        started = time.monotonic()
        for byte in json.dumps({"token": TOKEN})[:6]:
            connection.sendall(byte.encode())
            time.sleep(0.3)  # each read is quick; all of them together are too slow
        assert reply(reader) == {"ok": False, "error": "no token received"}
        assert time.monotonic() - started < 3
        connection.close()
    finally:
        server.stop()


def test_a_flood_of_failed_logins_is_said_once_with_its_count(feed):
    server, got = feed
    for _ in range(40):
        connection, reader = connect(server.port)
        connection.sendall(b'{"token": "wrong"}\n')
        assert reply(reader)["ok"] is False
        connection.close()
    wait_until(lambda: got.problems)
    time.sleep(0.2)
    assert len(got.problems) <= 2, got.problems  # not 40 notices in the window, the queue and the log
    assert got.messages == []
