"""Live chat feed over a localhost TCP socket: JSON lines in, one JSON reply per line out.

Protocol for integrators (a chat tool on the same computer):

1. connect to 127.0.0.1 on the port Assist shows, and send ``{"token": "<the chat_feed_token file>"}\\n``;
   the reply is ``{"ok": true}``, or ``{"ok": false, "error": "bad token"}`` and the connection closes;
2. send one record per line (``{"role": "customer", "text": "..."}``; see ``assist.capture.chat_message``);
   each line is answered ``{"ok": true}`` or ``{"ok": false, "error": "..."}``. Blank lines are ignored;
3. a line over ``max_line_bytes`` is answered with an error and the connection is closed.

``send_messages(port, token, messages)`` is a small client doing exactly this. The token is a
per-install secret (``load_or_create_token``), so other local users cannot inject chat lines.
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import re
import secrets
import socket
import socketserver
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from assist.capture.chat_message import MAX_LINE_BYTES, FeedMessage, message_from_record
from assist.capture.errors import FeedBusy, FeedError

log = logging.getLogger(__name__)

TOKEN_FILE = "chat_feed_token"
LOCAL_HOSTS = {"127.0.0.1": socket.AF_INET, "::1": socket.AF_INET6}
AUTH_TIMEOUT_S = 10.0  # a client must send its whole token line within this time (in all, not per read)
MAX_UNAUTHENTICATED = 4  # connections still to send their token; a new one beyond this closes the oldest
TOKEN_LINE_BYTES = 4096  # a token line is short: more is not a token
REFUSAL_SUMMARY_S = 10.0  # failed logins are said at most once in this long, with how many there were
_TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9_-]{32,}$")
_LINGER_BYTES = 1024 * 1024  # before closing on an error, read at most this much (and for at most
_LINGER_S = 1.0  # this long) of what the client still sends, so the kernel does not reset our reply away


class ChatFeedServer:
    """A localhost-only TCP server taking chat messages as JSON lines from authenticated local tools.

    ``on_message`` and ``on_problem`` are called from the connection threads (one per client, in
    the order that client sent its lines). Problems are said without a source prefix ("a line was refused: ..."),
    like the file tailer's: whoever shows them names the feed once (``FeedHub.drain``: "Chat feed: ...").
    """

    def __init__(self, on_message: Callable[[FeedMessage], None], on_problem: Callable[[str], None], token: str,
                 host: str = "127.0.0.1", port: int = 0, max_line_bytes: int = MAX_LINE_BYTES,
                 max_clients: int = 8, auth_timeout: float = AUTH_TIMEOUT_S) -> None:
        if host not in LOCAL_HOSTS:
            raise FeedError(f"The chat feed only listens on this computer (127.0.0.1 or ::1), not on {host!r}.")
        if not token:
            raise FeedError("The chat feed needs a token.")
        self.on_message = on_message
        self.on_problem = on_problem
        self.token = token
        self.host = host
        self.max_line_bytes = max_line_bytes
        self.max_clients = max_clients
        self.auth_timeout = auth_timeout
        self._requested_port = port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._refusals = 0  # failed logins not said yet
        self._refusal_said = 0.0
        self._refusal_lock = threading.Lock()

    @property
    def port(self) -> int:
        """The port it listens on (0 before ``start()``)."""
        return self._server.server_address[1] if self._server is not None else 0

    def start(self) -> None:
        """Bind and start accepting connections in a background thread."""
        if self._server is not None:
            raise RuntimeError("the chat feed server is already running")
        try:
            self._server = _Server((self.host, self._requested_port), self, LOCAL_HOSTS[self.host])
        except OSError as exc:
            raise FeedError(f"The chat feed could not listen on {self.host} port {self._requested_port}: "
                            f"{exc.strerror or exc}.") from exc
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="assist-chat-feed", daemon=False)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop accepting, close every client connection and wait for all threads."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()  # returns once serve_forever has left its loop
        server.close_clients()
        server.server_close()  # closes the listening socket and joins the connection threads
        if self._thread is not None:
            self._thread.join(timeout)

    def _problem(self, text: str) -> None:
        try:
            self.on_problem(text)
        except Exception:
            log.exception("chat feed problem handler failed")

    def _refused_login(self) -> None:
        """A failed login, said at most once every REFUSAL_SUMMARY_S with the count since (a flood of token-less
        clients must not flood the window, the queue or the log)."""
        with self._refusal_lock:
            self._refusals += 1
            now = time.monotonic()
            if now - self._refusal_said < REFUSAL_SUMMARY_S:
                return
            count, self._refusals, self._refusal_said = self._refusals, 0, now
        self._problem("a connection was refused (bad or missing token)." if count == 1 else
                      f"{count} connections were refused (bad or missing token) in the last "
                      f"{REFUSAL_SUMMARY_S:.0f} s.")


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = False
    block_on_close = True  # server_close() joins the connection threads

    def __init__(self, address: tuple[str, int], feed: ChatFeedServer, family: socket.AddressFamily) -> None:
        self.address_family = family
        self.feed = feed
        self._clients: set[socket.socket] = set()
        self._pending: dict[socket.socket, float] = {}  # connected, token not yet given: since when
        self._lock = threading.Lock()
        self._closing = False
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        evicted = None
        with self._lock:
            if not self._closing and len(self._pending) >= MAX_UNAUTHENTICATED:
                evicted = min(self._pending, key=self._pending.__getitem__)  # the slowest to log in makes room
                del self._pending[evicted]
            refused = self._closing or len(self._clients) - (evicted is not None) >= self.feed.max_clients
            if not refused:
                self._clients.add(request)
                self._pending[request] = time.monotonic()
        if evicted is not None:
            try:
                evicted.shutdown(socket.SHUT_RDWR)  # its thread ends and frees the slot
            except OSError:
                pass
        if refused:
            try:
                request.settimeout(1.0)
                request.sendall(_reply(False, "too many connections"))
            except OSError:
                pass
            self.feed._problem(f"a connection was refused (more than {self.feed.max_clients} clients).")
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._lock:
            self._clients.discard(request)
            self._pending.pop(request, None)
        super().shutdown_request(request)

    def logged_in(self, request: Any) -> None:
        with self._lock:
            self._pending.pop(request, None)

    def close_clients(self) -> None:
        """Wake every connection thread blocked in a read, so it ends."""
        with self._lock:
            self._closing = True
            clients = list(self._clients)
        for client in clients:
            try:
                client.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.exception("chat feed connection from %s failed", client_address)


class _Handler(socketserver.StreamRequestHandler):
    server: _Server

    def setup(self) -> None:
        self.request.settimeout(self.server.feed.auth_timeout)
        super().setup()

    def handle(self) -> None:
        feed = self.server.feed
        line = self._read_token_line()
        if line is None or not self._token_ok(line, feed.token):
            self._send(False, "bad token" if line is not None else "no token received")
            feed._refused_login()
            self._close_after_error()
            return
        self.server.logged_in(self.request)
        self.request.settimeout(None)
        self._send(True)
        while (line := self._read_line()) is not None:
            if line.strip():
                self._take(line, feed)

    def _take(self, line: bytes, feed: ChatFeedServer) -> None:
        message = _parse(line)
        if isinstance(message, str):
            self._send(False, message)
            feed._problem(f"a line was refused: {message}.")
            return
        try:
            feed.on_message(message)
        except FeedBusy:  # back-pressure: refused in words, the client retries; never acknowledged and dropped
            self._send(False, "busy, retry")
            return
        except Exception:
            log.exception("chat feed consumer failed")
            self._send(False, "the app could not take the message")
            return
        self._send(True)

    def _read_token_line(self) -> bytes | None:
        """The first line, which must come whole within ``auth_timeout`` in all (a byte a second does not keep a
        connection open) and be short; None otherwise."""
        deadline = time.monotonic() + self.server.feed.auth_timeout
        data = b""
        try:
            while b"\n" not in data:
                left = deadline - time.monotonic()
                if left <= 0 or len(data) > TOKEN_LINE_BYTES:
                    return None
                self.request.settimeout(left)
                chunk = self.request.recv(512)
                if not chunk:
                    return None
                data += chunk
        except OSError:  # timed out, reset, or closed to make room (MAX_UNAUTHENTICATED)
            return None
        line, _, rest = data.partition(b"\n")
        self._early = rest  # lines sent right after the token, in the same packet
        return line.rstrip(b"\r")

    def _read_line(self) -> bytes | None:
        """The next line without its newline; None when the connection ended or had to be dropped."""
        feed = self.server.feed
        early, self._early = getattr(self, "_early", b""), b""
        if early:  # lines that arrived with the token line
            newline = early.find(b"\n")
            if newline >= 0:
                self._early = early[newline + 1:]
                return early[:newline].rstrip(b"\r")
        try:
            raw = early + self.rfile.readline(feed.max_line_bytes + 1 - len(early))
        except TimeoutError:
            self._send(False, "no token received")
            return None
        except OSError:  # reset by the client, or shut down by stop()
            return None
        if raw.endswith(b"\n"):
            return raw[:-1].rstrip(b"\r")
        if len(raw) > feed.max_line_bytes:
            self._send(False, f"line longer than {feed.max_line_bytes} bytes")
            feed._problem(f"a line longer than {feed.max_line_bytes:,} bytes was refused; "
                          "the connection was closed.")
            self._close_after_error()
        elif raw.strip():
            feed._problem("a client disconnected in the middle of a line; that line was dropped.")
        return None

    @staticmethod
    def _token_ok(line: bytes, expected: str) -> bool:
        try:
            given = json.loads(line.decode("utf-8")).get("token")
        except (ValueError, RecursionError, AttributeError):
            return False
        return isinstance(given, str) and hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))

    def _send(self, ok: bool, error: str = "") -> None:
        try:
            self.wfile.write(_reply(ok, error))
        except OSError:
            pass

    def _close_after_error(self) -> None:
        """Send FIN, then read (bounded) what the client is still sending, so our reply is not reset away."""
        deadline = time.monotonic() + _LINGER_S
        try:
            self.request.shutdown(socket.SHUT_WR)
            left = _LINGER_BYTES
            while left > 0 and (wait := deadline - time.monotonic()) > 0:
                self.request.settimeout(wait)
                if not (chunk := self.request.recv(min(left, 65536))):
                    break
                left -= len(chunk)
        except OSError:
            pass


def _parse(line: bytes) -> FeedMessage | str:
    """The message on one line, or why it is refused."""
    try:
        record = json.loads(line.decode("utf-8"))
    except UnicodeDecodeError:
        return "not UTF-8 text"
    except (ValueError, RecursionError):
        return "not valid JSON"
    try:
        return message_from_record(record, "socket")
    except FeedError as exc:
        return str(exc)


def _reply(ok: bool, error: str = "") -> bytes:
    return (json.dumps({"ok": True} if ok else {"ok": False, "error": error}) + "\n").encode("utf-8")


def load_or_create_token(config_dir: Path) -> str:
    """The per-install feed token from ``config_dir/chat_feed_token``; created (mode 0o600) if missing or bad."""
    path = Path(config_dir) / TOKEN_FILE
    try:
        token = path.read_text(encoding="ascii").strip()
    except (FileNotFoundError, UnicodeDecodeError):
        token = ""
    except OSError as exc:
        raise FeedError(f"The chat feed token {path} could not be read: {exc.strerror or exc}.") from exc
    if _TOKEN_PATTERN.match(token):
        if os.name == "posix" and path.stat().st_mode & 0o077:
            os.chmod(path, 0o600)  # someone loosened it: other local users must not read it
        return token
    token = secrets.token_urlsafe(32)
    temporary = path.with_name(f".{TOKEN_FILE}.{secrets.token_hex(4)}")
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="ascii") as handle:
            handle.write(token + "\n")
        os.replace(temporary, path)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise FeedError(f"The chat feed token could not be saved in {path.parent}: {exc.strerror or exc}.") from exc
    return token


def send_messages(port: int, token: str, messages: Iterable[FeedMessage | Mapping[str, Any]],
                  host: str = "127.0.0.1", timeout: float = 5.0) -> list[dict[str, Any]]:
    """Send messages to a running feed; one reply dict per message. Raises FeedError if the token is refused."""
    with socket.create_connection((host, port), timeout=timeout) as connection, \
            connection.makefile("rb") as replies_in:
        connection.sendall(json.dumps({"token": token}).encode("utf-8") + b"\n")
        answer = _read_reply(replies_in)
        if not answer.get("ok"):
            raise FeedError(f"The chat feed refused the connection: {answer.get('error', 'no reason given')}.")
        replies = []
        for message in messages:
            record = message.to_record() if isinstance(message, FeedMessage) else dict(message)
            connection.sendall(json.dumps(record).encode("utf-8") + b"\n")
            replies.append(_read_reply(replies_in))
        return replies


def _read_reply(stream: Any) -> dict[str, Any]:
    line = stream.readline(65536)
    if not line:
        raise FeedError("The chat feed closed the connection.")
    return json.loads(line)
