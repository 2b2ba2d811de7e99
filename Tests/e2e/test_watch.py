"""`louter serve --watch` (issue 12 item 5): a route file written into the watched folder is served without a
signal, and a broken one is refused the way SIGHUP refuses it: the old table keeps serving, and /readyz and
/metrics report the failed reload."""
import http.client
import json
import shutil
import time

import pytest

from conftest import LOUTER, ROOT, _drain, _halt, _start

BODY = json.dumps({"contents": [{"role": "user", "parts": [{"text": "hello"}]}]})

WATCHED_ROUTE = """
version = 1

[[routes]]
name = "watched"
match = { model = "watch-test-*" }
deny = "added while serving"
"""

BROKEN = """
version = 1

[[routes]]
name = "broken"
backends = ["no-such-backend"]
"""


def request(port, method, path, body=None):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request(method, path, body=body, headers={"content-type": "application/json"})
        response = connection.getresponse()
        return response.status, response.read().decode()
    finally:
        connection.close()


def readyz(port):
    status, text = request(port, "GET", "/readyz")
    assert status == 200, text
    return json.loads(text)


def poll(condition, what, seconds=10):
    """Polls `condition` until it returns a true value, within a deadline (the watcher debounces 250 ms)."""
    deadline = time.monotonic() + seconds
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


@pytest.fixture
def watched(tmp_path):
    routes = tmp_path / "routes"
    shutil.copytree(ROOT / "routes", routes)
    process, port = _start([LOUTER, "serve", "--routes", str(routes), "--listen", "127.0.0.1:0", "--grace", "1",
                            "--watch"], r"listening on http://127\.0\.0\.1:(\d+)")
    _drain(process)
    yield port, routes
    _halt(process)


def test_watch_serves_a_new_route_and_refuses_a_broken_set(watched):
    port, routes = watched
    before = readyz(port)
    assert "last_reload" not in before
    status, text = request(port, "POST", "/v1beta/models/watch-test-1:generateContent", BODY)
    assert "added while serving" not in text

    # Written in place, as an editor or `cp` does: the watcher sees it close and reloads.
    (routes / "05-watched.toml").write_text(WATCHED_ROUTE)
    ready = poll(lambda: (body := readyz(port)).get("last_reload") and body, "the reload after a new route file")
    assert ready["last_reload"]["succeeded"] is True and ready["last_reload"]["trigger"] == "watch"
    assert ready["routes"] == before["routes"] + 1
    status, text = request(port, "POST", "/v1beta/models/watch-test-1:generateContent", BODY)
    assert status == 403 and "added while serving" in text, text

    # A broken file: the reload is refused, the table with the watched route keeps serving.
    (routes / "06-broken.toml").write_text(BROKEN)
    refused = poll(lambda: (body := readyz(port))["last_reload"]["succeeded"] is False and body,
                   "the refused reload after a broken route file")
    assert refused["last_reload"]["errors"] >= 1 and refused["routes"] == before["routes"] + 1
    status, text = request(port, "POST", "/v1beta/models/watch-test-1:generateContent", BODY)
    assert status == 403 and "added while serving" in text, text
    status, metrics = request(port, "GET", "/metrics")
    assert status == 200 and "\nlouter_route_table_last_reload_success 0\n" in metrics, metrics

    # Fixed again: the next change is taken.
    (routes / "06-broken.toml").unlink()
    poll(lambda: readyz(port)["last_reload"]["succeeded"] is True, "the reload after removing the broken file")
