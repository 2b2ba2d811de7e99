"""`GET /metrics` of a running `louter serve` (issue 12 item 1): traffic through the echo backend shows up in
the counters, the exposition passes `promtool check metrics` (Debian's prometheus package; .ci/run installs it),
an admin key is required when `[server] admin_keys` is set, and a SIGHUP reload shows in the route-table
metrics."""
import hashlib
import http.client
import json
import re
import shutil
import signal
import subprocess
import time

import pytest

from conftest import LOUTER, _drain, _halt, _start

ADMIN_KEY = "louter-e2e-admin-key"

ROUTES = """
version = 1

[server]
auth = "none"
request_log = "off"
admin_keys = ["sha256:{digest}"]

[backends.echo]
protocol = "echo"

[[routes]]
name = "reserved"
match = {{ model = "reserved-*" }}
deny = "reserved"

[[routes]]
name = "echo"
backends = ["echo"]
"""

BODY = json.dumps({"contents": [{"role": "user", "parts": [{"text": "a few words to echo back"}]}]})


@pytest.fixture
def louter_with_metrics(tmp_path):
    (tmp_path / "routes.toml").write_text(ROUTES.format(digest=hashlib.sha256(ADMIN_KEY.encode()).hexdigest()))
    process, port = _start([LOUTER, "serve", "--routes", str(tmp_path), "--listen", "127.0.0.1:0", "--grace", "1"],
                           r"listening on http://127\.0\.0\.1:(\d+)")
    _drain(process)
    yield process, port, tmp_path
    _halt(process)


def request(port, method, path, body=None, headers=None):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read().decode()
    finally:
        connection.close()


def scrape(port, until=lambda text: True):
    """The exposition, scraped again (bounded) until `until` holds: a request's record reaches the metrics
    just after its answer reaches the client."""
    deadline = time.monotonic() + 10
    while True:
        status, headers, text = request(port, "GET", "/metrics", headers={"Authorization": f"Bearer {ADMIN_KEY}"})
        assert status == 200, text
        if until(text) or time.monotonic() > deadline:
            return headers, text
        time.sleep(0.05)


def sample(text, name, **labels):
    """The value of the one sample of `name` whose labels include `labels`; None when there is none."""
    for line in text.splitlines():
        match = re.fullmatch(r"([a-z_:]+)(?:\{(.*)\})? (\S+)", line)
        if not match or match.group(1) != name:
            continue
        found = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', match.group(2) or ""))
        if all(found.get(key) == value for key, value in labels.items()):
            return float(match.group(3))
    return None


def promtool_check(text):
    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing: apt-get install prometheus (.ci/run does)"
    result = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0 and not (result.stdout + result.stderr).strip(), result.stdout + result.stderr


def test_metrics_count_traffic_and_pass_promtool(louter_with_metrics):
    _, port, _ = louter_with_metrics
    for _ in range(3):
        status, _, _ = request(port, "POST", "/v1beta/models/echo-model:generateContent", BODY,
                               {"content-type": "application/json"})
        assert status == 200
    status, _, streamed = request(port, "POST", "/v1beta/models/echo-model:streamGenerateContent?alt=sse", BODY,
                                  {"content-type": "application/json"})
    assert status == 200 and "data:" in streamed
    assert request(port, "POST", "/v1beta/models/reserved-x:generateContent", BODY)[0] == 403
    assert request(port, "GET", "/no/such/path")[0] == 404

    def all_recorded(text):
        return (sample(text, "louter_requests_total", route="echo", code="200") == 4
                and sample(text, "louter_requests_total", route="reserved") == 1
                and sample(text, "louter_requests_total", route="none", code="404") == 1)

    headers, text = scrape(port, until=all_recorded)
    assert all_recorded(text), text
    assert headers["content-type"].startswith("text/plain; version=0.0.4")
    promtool_check(text)

    success = dict(route="echo", backend="echo", client="none", mode="echo", status_class="2xx", outcome="success")
    assert sample(text, "louter_requests_total", **success) == 4
    assert sample(text, "louter_requests_total", route="reserved", code="403", outcome="rejected") == 1
    assert sample(text, "louter_time_to_first_token_seconds_count", route="echo", backend="echo") == 4
    assert sample(text, "louter_request_duration_seconds_bucket", route="echo", backend="echo", le="+Inf") == 4
    assert sample(text, "louter_output_tokens_total", route="echo", backend="echo") > 0
    assert sample(text, "louter_backend_hops_total", backend="echo", outcome="ok") == 4
    assert sample(text, "louter_gateway_overhead_seconds_count", route="echo", backend="echo") == 4
    assert sample(text, "louter_upstream_latency_seconds_count", route="echo", backend="echo") == 4
    assert sample(text, "louter_streams_in_flight") == 0
    assert sample(text, "louter_backend_circuit", backend="echo", state="closed") == 1
    assert sample(text, "louter_backend_in_flight", backend="echo") == 0
    assert sample(text, "louter_requests_in_flight") >= 1
    assert sample(text, "louter_open_connections") >= 1
    assert sample(text, "louter_route_table_generation") == 1
    assert sample(text, "process_resident_memory_bytes") > 0
    assert sample(text, "process_open_fds") > 0
    # The requested model names are the client's words, never labels.
    assert "echo-model" not in text and "reserved-x" not in text


def test_metrics_need_the_admin_key(louter_with_metrics):
    _, port, _ = louter_with_metrics
    status, headers, body = request(port, "GET", "/metrics")
    assert status == 401 and "louter_" not in body
    assert headers["www-authenticate"].startswith("Bearer")
    assert request(port, "GET", "/metrics", headers={"Authorization": "Bearer wrong"})[0] == 401
    assert request(port, "GET", "/metrics", headers={"x-goog-api-key": ADMIN_KEY})[0] == 200


def test_a_reload_shows_in_the_route_table_metrics(louter_with_metrics):
    process, port, folder = louter_with_metrics
    process.send_signal(signal.SIGHUP)
    _, text = scrape(port, until=lambda text: sample(text, "louter_route_table_generation") == 2)
    assert sample(text, "louter_route_table_generation") == 2
    assert sample(text, "louter_route_table_reloads_total", result="success") == 1
    assert sample(text, "louter_route_table_last_reload_success") == 1

    (folder / "routes.toml").write_text((folder / "routes.toml").read_text() + "\n[[routes]]\nbackends = [\"nope\"]\n")
    process.send_signal(signal.SIGHUP)
    _, text = scrape(port, until=lambda text: sample(text, "louter_route_table_reloads_total", result="failure") == 1)
    assert sample(text, "louter_route_table_reloads_total", result="failure") == 1
    assert sample(text, "louter_route_table_last_reload_success") == 0
    assert sample(text, "louter_route_table_generation") == 2
    promtool_check(text)
