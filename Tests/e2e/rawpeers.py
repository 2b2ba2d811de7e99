"""Raw-socket peers for the misbehaving-peer suite: fake backends that send exactly the bytes a test
scripts, and a minimal HTTP/1.1 client that reads louter's answers byte by byte.

Nothing here is louter's own server: every byte on the wire is written by the test, so a backend can
lie about its Content-Length, stall after its headers or never end its head.
"""
import json
import socket
import threading
import time

#: Every wait on a socket is bounded by this (seconds): a hang fails the test instead of the run.
WAIT = 5.0


class PeerConnection:
    """One connection louter opened to a RawPeer, handed to the test's script."""

    def __init__(self, sock, peer):
        self.sock = sock
        self.peer = peer
        self.buffer = bytearray()

    def read_request(self):
        """Reads one request (head and Content-Length body); returns (head, body) or None on EOF/timeout."""
        self.sock.settimeout(WAIT)
        try:
            while b"\r\n\r\n" not in self.buffer:
                data = self.sock.recv(65536)
                if not data:
                    return None
                self.buffer += data
            head, _, rest = self.buffer.partition(b"\r\n\r\n")
            head = bytes(head)
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value.strip())
            while len(rest) < length:
                data = self.sock.recv(65536)
                if not data:
                    return None
                rest += data
        except OSError:
            return None
        self.buffer = rest[length:]
        return head, bytes(rest[:length])

    def send(self, data):
        """Sends bytes; False when louter already closed the connection (which is allowed)."""
        try:
            self.sock.sendall(data)
            return True
        except OSError:
            return False

    def wait_closed(self, timeout=WAIT):
        """Blocks until louter closes its side (EOF or reset); True when it did within `timeout`."""
        self.sock.settimeout(timeout)
        try:
            while True:
                data = self.sock.recv(65536)
                if not data:
                    return True
                self.buffer += data
        except socket.timeout:
            return False
        except OSError:
            return True


class RawPeer:
    """A threaded raw-socket server on 127.0.0.1, port 0.

    `script(connection, head, body)` runs for each request louter sends; it writes whatever bytes it
    likes with `connection.send` and returns. The connection is then closed by the peer unless the
    script returns "keep". Everything louter sent is recorded in `requests` (head, body, extra bytes
    that followed the first request on its connection) and whether louter closed a connection that the
    script waited on is recorded in `closed`.
    """

    def __init__(self, script):
        self.script = script
        self.requests = []
        self.closed = []
        self.errors = []
        self.lock = threading.Lock()
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.connections = []
        self.threads = []
        self.stopping = False
        self.acceptor = threading.Thread(target=self._accept, daemon=True)
        self.acceptor.start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def _accept(self):
        while not self.stopping:
            try:
                sock, _ = self.listener.accept()
            except OSError:
                return
            with self.lock:
                if self.stopping:
                    sock.close()
                    return
                self.connections.append(sock)
                thread = threading.Thread(target=self._serve, args=(sock,), daemon=True)
                self.threads.append(thread)
            thread.start()

    def _serve(self, sock):
        connection = PeerConnection(sock, self)
        try:
            while True:
                request = connection.read_request()
                if request is None:
                    return
                head, body = request
                with self.lock:
                    self.requests.append({"head": head, "body": body, "extra": bytes(connection.buffer)})
                if self.script(connection, head, body) != "keep":
                    return
        except Exception as error:  # recorded: a broken script must fail the test, not vanish
            with self.lock:
                self.errors.append(repr(error))
        finally:
            try:
                sock.close()
            except OSError:
                pass

    def note_closed(self, closed):
        with self.lock:
            self.closed.append(closed)

    def settle(self, timeout=WAIT + 1):
        """Waits (bounded) until every connection's script has finished, without touching the sockets."""
        with self.lock:
            threads = list(self.threads)
        for thread in threads:
            thread.join(timeout=timeout)

    def close(self):
        """Stops accepting, closes every connection and joins the threads."""
        with self.lock:
            self.stopping = True
            connections = list(self.connections)
            threads = list(self.threads)
        try:
            self.listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.listener.close()
        for sock in connections:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.acceptor.join(timeout=WAIT)
        for thread in threads:
            thread.join(timeout=WAIT)


# --- canned backend answers -------------------------------------------------------------------

HEALTHY_TEXT = "healthy"


def http_response(status, body, headers=(), reason=b"OK"):
    """A whole HTTP/1.1 response with Content-Length and Connection: close."""
    lines = [b"HTTP/1.1 %d %s" % (status, reason), b"Content-Type: application/json",
             b"Content-Length: %d" % len(body), b"Connection: close"]
    lines += [h if isinstance(h, bytes) else h.encode() for h in headers]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def sse_head():
    return (b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
            b"Connection: close\r\n\r\n")


def openai_completion(text=HEALTHY_TEXT, usage=None):
    usage = usage or {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}
    return json.dumps({"id": "c", "object": "chat.completion", "created": 1, "model": "m",
                       "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                                    "finish_reason": "stop"}], "usage": usage}).encode()


def openai_chunk(delta, finish=None):
    return {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


def sse_event(obj):
    payload = obj if isinstance(obj, bytes) else json.dumps(obj).encode()
    return b"data: " + payload + b"\n\n"


def openai_stream(text=HEALTHY_TEXT):
    return (sse_event(openai_chunk({"role": "assistant", "content": text})) + sse_event(openai_chunk({}, "stop"))
            + sse_event(b"[DONE]"))


def gemini_completion(text=HEALTHY_TEXT, usage=None):
    usage = usage or {"promptTokenCount": 1, "candidatesTokenCount": 1, "totalTokenCount": 2}
    return json.dumps({"candidates": [{"content": {"role": "model", "parts": [{"text": text}]},
                                       "finishReason": "STOP", "index": 0}], "usageMetadata": usage}).encode()


def gemini_stream(text=HEALTHY_TEXT):
    return sse_event(json.loads(gemini_completion(text)))


def healthy(connection, head, body):
    """The script of a well-behaved backend of either protocol (the request path says which)."""
    streaming = b"alt=sse" in head.split(b"\r\n")[0] or b'"stream":true' in body.replace(b" ", b"")
    gemini = b"/models/" in head.split(b"\r\n")[0]
    if streaming:
        connection.send(sse_head() + (gemini_stream() if gemini else openai_stream()))
    else:
        connection.send(http_response(200, gemini_completion() if gemini else openai_completion()))


# --- the client side ----------------------------------------------------------------------------


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body
        #: False when a chunked body ended (the connection closed) before its last chunk.
        self.complete = True

    def header(self, name):
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"Response({self.status}, {self.headers!r}, {self.body[:300]!r})"


class MalformedResponse(AssertionError):
    pass


class Client:
    """A raw connection to louter: send any bytes, read well-formed HTTP/1.1 responses."""

    def __init__(self, port, timeout=WAIT):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.settimeout(timeout)
        self.buffer = bytearray()
        self.eof = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, data):
        """Sends bytes; False when louter already closed or reset the connection."""
        try:
            self.sock.sendall(data)
            return True
        except OSError:
            return False

    def _fill(self):
        if self.eof:
            return False
        try:
            data = self.sock.recv(65536)
        except ConnectionResetError:
            data = b""
        if not data:
            self.eof = True
            return False
        self.buffer += data
        return True

    def _line(self):
        while b"\r\n" not in self.buffer:
            if not self._fill():
                raise MalformedResponse(f"connection ended inside a line: {self.buffer[:200]!r}")
        line, _, self.buffer = self.buffer.partition(b"\r\n")
        return bytes(line)

    def read_response(self):
        """Reads one response; None when louter closed without sending a byte. Raises on malformed HTTP
        and on socket.timeout when louter neither answers nor closes in time."""
        while not self.buffer:
            if not self._fill():
                return None
        while b"\r\n\r\n" not in self.buffer:
            if not self._fill():
                raise MalformedResponse(f"connection ended inside a response head: {self.buffer[:200]!r}")
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        lines = bytes(head).split(b"\r\n")
        parts = lines[0].split(b" ", 2)
        if len(parts) < 2 or parts[0] not in (b"HTTP/1.1", b"HTTP/1.0") or not parts[1].isdigit():
            raise MalformedResponse(f"bad status line {lines[0]!r}")
        status = int(parts[1])
        headers = []
        for line in lines[1:]:
            name, colon, value = line.partition(b":")
            if not colon or not name or b" " in name:
                raise MalformedResponse(f"bad header line {line!r}")
            headers.append((name.decode("latin-1"), value.strip().decode("latin-1")))
        response = Response(status, headers, b"")
        encoding = (response.header("transfer-encoding") or "").lower()
        length = response.header("content-length")
        if encoding == "chunked":
            body = bytearray()
            while True:
                # A stream that failed after it began ends without its last chunk: record it, don't raise.
                if not self.buffer and not self._fill():
                    response.complete = False
                    break
                size_line = self._line()
                size = int(size_line.split(b";")[0], 16)
                if size == 0:
                    while self._line():
                        pass
                    break
                while len(self.buffer) < size + 2:
                    if not self._fill():
                        raise MalformedResponse("connection ended inside a chunk")
                if self.buffer[size:size + 2] != b"\r\n":
                    raise MalformedResponse("chunk not followed by CRLF")
                body += self.buffer[:size]
                del self.buffer[:size + 2]
            response.body = bytes(body)
        elif length is not None:
            size = int(length)
            while len(self.buffer) < size:
                if not self._fill():
                    raise MalformedResponse(f"connection ended after {len(self.buffer)} of {size} body bytes")
            response.body, self.buffer = bytes(self.buffer[:size]), self.buffer[size:]
        elif status in (204, 304) or 100 <= status < 200:
            pass
        else:
            while self._fill():
                pass
            response.body, self.buffer = bytes(self.buffer), bytearray()
        return response

    def closed_within(self, timeout):
        """True when louter closes the connection (EOF/reset) within `timeout` seconds; bytes read are kept."""
        self.sock.settimeout(timeout)
        try:
            while self._fill():
                pass
            return True
        except socket.timeout:
            return False
        except OSError:
            return True


def request_bytes(path, body=b"", headers=(), method=b"POST", key=None):
    """A request head (HTTP/1.1, Host, Content-Length when there is a body) plus the body."""
    lines = [method + b" " + (path if isinstance(path, bytes) else path.encode()) + b" HTTP/1.1",
             b"Host: 127.0.0.1"]
    if key is not None:
        lines.append(b"x-goog-api-key: " + key.encode())
    if body or method == b"POST":
        lines.append(b"Content-Type: application/json")
        lines.append(b"Content-Length: %d" % len(body))
    lines += [h if isinstance(h, bytes) else h.encode() for h in headers]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def generate_body(text="ping", generation=None):
    body = {"contents": [{"role": "user", "parts": [{"text": text}]}]}
    if generation is not None:
        body["generationConfig"] = generation
    return json.dumps(body).encode()


def exchange(port, data, timeout=WAIT):
    """Sends `data` on a new connection and reads one response (None when louter just closed)."""
    with Client(port, timeout) as client:
        client.send(data)
        return client.read_response()


def assert_gemini_error(response, status=None):
    """The body is the Gemini error shape and its code is the HTTP status."""
    assert response is not None, "louter closed the connection without an answer"
    if status is not None:
        assert response.status == status, response
    payload = response.json()
    error = payload["error"]
    assert error["code"] == response.status, response
    assert isinstance(error["message"], str) and isinstance(error["status"], str), response


def assert_alive(port, key=None, model="alive"):
    """A normal request from a new connection gets its answer within 5 s."""
    started = time.monotonic()
    response = exchange(port, request_bytes(f"/v1beta/models/{model}:generateContent", generate_body("still alive"),
                                            key=key), timeout=WAIT)
    assert response is not None, "louter closed a normal request's connection"
    assert response.status == 200, response
    assert response.json()["candidates"][0]["content"]["parts"][0]["text"] == "still alive"
    assert time.monotonic() - started < WAIT
