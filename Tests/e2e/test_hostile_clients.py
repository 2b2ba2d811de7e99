"""Hostile clients: raw bytes to `louter serve`. Every case ends by checking that louter still answers
a normal request on a new connection within 5 s (rawpeers.assert_alive).

Cases marked xfail(strict=True) fail on main because of an issue 8 defect: remove the mark when the fix
lands (strict: an unexpected pass fails the run, so a stale mark is noticed)."""
import hashlib
import json
import socket

import pytest

from rawpeers import (WAIT, Client, assert_alive, assert_gemini_error, exchange, generate_body, healthy,
                      request_bytes)

KEY = "gm_hostile-clients-test-key"
GENERATE = "/v1beta/models/anything:generateContent"

ROUTES = """
version = 1

[server]
auth = "required"
request_log = "off"
max_request_body = "1MiB"

[clients.tester]
keys = ["sha256:{digest}"]

[backends.echo]
protocol = "echo"

[backends.oai]
protocol = "openai"
url = "http://127.0.0.1:{oai}"
first_byte_timeout = "2s"

[backends.gem]
protocol = "gemini"
url = "http://127.0.0.1:{gem}"
first_byte_timeout = "2s"

[[routes]]
name = "alive"
match = {{ model = "alive" }}
backends = ["echo"]

[[routes]]
name = "translated"
match = {{ model = "oai-*" }}
backends = ["oai"]

[[routes]]
name = "passthrough"
backends = ["gem"]
"""


class Gateway:
    def __init__(self, port, oai, gem):
        self.port = port
        self.oai = oai
        self.gem = gem

    def alive(self):
        assert_alive(self.port, key=KEY)


@pytest.fixture
def gateway(louter_serve, raw_peer):
    oai = raw_peer(healthy)
    gem = raw_peer(healthy)
    digest = hashlib.sha256(KEY.encode()).hexdigest()
    port = louter_serve(ROUTES.format(digest=digest, oai=oai.port, gem=gem.port))
    return Gateway(port, oai, gem)


def head(*lines, path=GENERATE, key=KEY):
    """A POST head with the given extra header lines (no Content-Length unless given)."""
    out = [b"POST " + path.encode() + b" HTTP/1.1", b"Host: 127.0.0.1", b"Content-Type: application/json"]
    if key:
        out.append(b"x-goog-api-key: " + key.encode())
    out += [line if isinstance(line, bytes) else line.encode() for line in lines]
    return b"\r\n".join(out) + b"\r\n\r\n"


def rejected(gateway, data, statuses):
    """Sends `data`; louter answers one of `statuses` with a Gemini error body, then closes."""
    with Client(gateway.port) as client:
        client.send(data)
        response = client.read_response()
        assert response is not None, "louter closed without an answer"
        assert response.status in statuses, response
        assert_gemini_error(response)
        assert client.closed_within(WAIT), "louter kept a connection whose framing it rejected"
    gateway.alive()


BODY = generate_body()


def test_no_key(gateway):
    response = exchange(gateway.port, request_bytes(GENERATE, BODY))
    assert_gemini_error(response, 403)
    assert response.json()["error"]["status"] == "PERMISSION_DENIED"
    gateway.alive()


def test_chunk_size_negative(gateway):
    rejected(gateway, head("Transfer-Encoding: chunked") + b"-1\r\nx\r\n0\r\n\r\n", {400})


def test_chunk_size_plus(gateway):
    # A well-formed body behind the signed size: accepted, it would be answered 200.
    data = head("Transfer-Encoding: chunked") + b"+%x\r\n%s\r\n0\r\n\r\n" % (len(BODY), BODY)
    rejected(gateway, data, {400})


@pytest.mark.parametrize("size", [b"fffffffffffffff", b"7fffffffffffffff", b"ffffffffffffffffffffffffffffffff"])
def test_chunk_size_huge(gateway, size):
    rejected(gateway, head("Transfer-Encoding: chunked") + size + b"\r\nxx", {400, 413})


def test_content_length_negative(gateway):
    rejected(gateway, head("Content-Length: -5") + BODY, {400})


def test_content_length_plus(gateway):
    rejected(gateway, head(f"Content-Length: +{len(BODY)}") + BODY, {400})


def test_two_content_lengths(gateway):
    rejected(gateway, head(f"Content-Length: {len(BODY)}", f"Content-Length: {len(BODY) + 1}") + BODY + b"x", {400})


@pytest.mark.parametrize("codings", [
    ("chunked", "identity"),
    ("identity", "chunked"),
])
def test_two_transfer_encodings(gateway, codings):
    chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(BODY), BODY)
    data = head(*(f"Transfer-Encoding: {c}" for c in codings)) + chunked
    rejected(gateway, data, {400, 501})


def test_transfer_encoding_and_content_length(gateway):
    chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(BODY), BODY)
    rejected(gateway, head("Transfer-Encoding: chunked", f"Content-Length: {len(chunked)}") + chunked, {400})


@pytest.mark.parametrize("value", [b"a\x00b", b"a\rb"], ids=["nul", "bare-cr"])
def test_control_byte_in_header_value(gateway, value):
    rejected(gateway, head(b"X-Test: " + value, f"Content-Length: {len(BODY)}") + BODY, {400})


def test_header_of_100_kb(gateway):
    rejected(gateway, head("X-Big: " + "a" * 100_000, f"Content-Length: {len(BODY)}") + BODY, {431})


def test_1000_headers(gateway):
    lines = [f"X-H{i}: v" for i in range(1000)]
    rejected(gateway, head(*lines, f"Content-Length: {len(BODY)}") + BODY, {431})


def test_body_over_the_limit_declared(gateway):
    # The 413 must come from the head alone: the 2 MiB are never sent.
    rejected(gateway, head(f"Content-Length: {2 * 1024 * 1024}"), {413})


def test_body_over_the_limit_chunked(gateway):
    chunk = b"a" * 65536
    with Client(gateway.port) as client:
        client.send(head("Transfer-Encoding: chunked"))
        for _ in range(40):  # 2.5 MiB, louter may close before the end
            if not client.send(b"%x\r\n%s\r\n" % (len(chunk), chunk)):
                break
        response = client.read_response()
        assert_gemini_error(response, 413)
    gateway.alive()


TRICKLE_ROUTES = """
[server]
auth = "none"
request_log = "off"
header_timeout = "1s"
body_timeout = "1s"
[backends.echo]
protocol = "echo"
[[routes]]
backends = ["echo"]
"""


def test_body_trickled_then_stalled(louter_serve):
    port = louter_serve(TRICKLE_ROUTES)
    with Client(port) as client:
        client.send(head(f"Content-Length: {len(BODY)}", key=None) + BODY[:5])
        # No sleep: recv blocks until louter answers 408 or closes, bounded by the socket timeout.
        client.sock.settimeout(WAIT)
        response = client.read_response()
        if response is not None:
            assert_gemini_error(response, 408)
        assert client.closed_within(WAIT)
    assert_alive(port)


def test_half_closed_connection_still_answered(gateway):
    with Client(gateway.port) as client:
        client.send(request_bytes("/v1beta/models/alive:generateContent", generate_body("half"), key=KEY))
        client.sock.shutdown(socket.SHUT_WR)
        response = client.read_response()
        assert response is not None and response.status == 200, response
        assert response.json()["candidates"][0]["content"]["parts"][0]["text"] == "half"
        assert client.closed_within(WAIT)
    gateway.alive()


def test_half_closed_before_the_body_ends(gateway):
    with Client(gateway.port) as client:
        client.send(head(f"Content-Length: {len(BODY)}") + BODY[:10])
        client.sock.shutdown(socket.SHUT_WR)
        # Either a 400 for the truncated body or a plain close; never a hang.
        response = client.read_response()
        if response is not None:
            assert_gemini_error(response)
        assert client.closed_within(WAIT)
    gateway.alive()


def test_pipelined_requests(gateway):
    texts = ["first", "second", "third"]
    data = b"".join(request_bytes("/v1beta/models/alive:generateContent", generate_body(t), key=KEY) for t in texts)
    with Client(gateway.port) as client:
        client.send(data)
        for text in texts:
            response = client.read_response()
            assert response is not None and response.status == 200, response
            assert response.json()["candidates"][0]["content"]["parts"][0]["text"] == text
    gateway.alive()


def assert_clean_request_line(peer):
    """The passthrough fake saw at most one request, whose request line is three clean tokens."""
    assert not peer.errors
    assert len(peer.requests) <= 1, peer.requests
    for request in peer.requests:
        line = request["head"].split(b"\r\n")[0]
        assert b"\n" not in line and b"\r" not in line and b"\x00" not in line, line
        assert line.count(b" ") == 2, line
        assert request["extra"] == b"", request
        assert all(0x21 <= b <= 0x7E for b in line.split(b" ")[1]), line


@pytest.mark.parametrize("escape", [
    "%0D%0A",
    "%20",
    "%2F",
    "%00",
    "%0D%0AX-Injected:%201%0D%0A%0D%0AGET%20/",
])
def test_model_name_escapes(gateway, escape):
    path = f"/v1beta/models/a{escape}b:generateContent"
    response = exchange(gateway.port, request_bytes(path, BODY, key=KEY))
    assert response is not None
    if response.status == 200:
        assert len(gateway.gem.requests) == 1
    else:
        assert 400 <= response.status < 500, response
        assert_gemini_error(response)
    assert_clean_request_line(gateway.gem)
    gateway.alive()


@pytest.mark.parametrize("body", [b"{", b"not json", b'{"contents": [}', b"\xff\xfe", b"[]", b"null"])
def test_invalid_json_body(gateway, body):
    response = exchange(gateway.port, request_bytes("/v1beta/models/oai-x:generateContent", body, key=KEY))
    assert_gemini_error(response, 400)
    assert gateway.oai.requests == []
    gateway.alive()


@pytest.mark.parametrize("opener,closer", [(b"[", b"]"), (b'{"a":', b"}")], ids=["arrays", "objects"])
def test_json_nested_100000_deep(gateway, opener, closer):
    body = b'{"contents":' + opener * 100_000 + b"1" + closer * 100_000 + b"}"
    response = exchange(gateway.port, request_bytes("/v1beta/models/oai-x:generateContent", body, key=KEY))
    assert_gemini_error(response, 400)
    gateway.alive()


@pytest.mark.parametrize("field,value", [
    (field, value)
    for field in ("maxOutputTokens", "candidateCount", "topK")
    for value in ("1e300", "-1", "99999999999999999999", "-1e300", "1.5")
])
def test_absurd_numbers(gateway, field, value):
    text = '{"contents":[{"role":"user","parts":[{"text":"hi"}]}],"generationConfig":{"%s":%s}}' % (field, value)
    response = exchange(gateway.port, request_bytes("/v1beta/models/oai-x:generateContent", text.encode(), key=KEY))
    assert response is not None
    if response.status == 200:
        # Forwarded: whatever reached the backend is a sane JSON integer, never a wrapped or trapped one.
        assert len(gateway.oai.requests) == 1
        sent = json.loads(gateway.oai.requests[0]["body"])
        for name in ("max_tokens", "max_completion_tokens", "n", "top_k"):
            if name in sent:
                assert isinstance(sent[name], int) and 0 < sent[name] < 2**63, sent
    else:
        assert_gemini_error(response, 400)
    gateway.alive()


@pytest.mark.parametrize("path", ["/nope", "/v1beta/nope", "/v1beta/models/x:nope", "/v9/models/x:generateContent",
                                  "*"])
def test_unknown_path(gateway, path):
    response = exchange(gateway.port, request_bytes(path, BODY, key=KEY))
    assert response is not None
    assert response.status in (400, 404, 405), response
    assert_gemini_error(response)
    gateway.alive()


def test_huge_url(gateway):
    path = "/v1beta/models/" + "a" * 100_000 + ":generateContent?key=" + KEY
    rejected(gateway, request_bytes(path, BODY), {414, 431})
