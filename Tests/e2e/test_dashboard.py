"""`GET /dashboard` of a running `louter serve` in a real browser (issue 12 item 2): traffic from the google-genai
SDK, then Debian's headless `chromium` loads the page (the admin key as `?key=`), and the rendered DOM must hold
the request rows, routes and backends that arrived over the page's live `/dashboard/events` stream. A screenshot
is kept in Tests/e2e/artifacts/ (gitignored). .ci/run installs chromium; without it the test is skipped."""
import hashlib
import html
import http.client
import json
import pathlib
import re
import shutil
import signal
import subprocess
import time
import threading
from types import SimpleNamespace

import pytest
from google import genai
from google.genai import types

from conftest import LOUTER, _drain, _halt, _start

ADMIN_KEY = "louter-e2e-dashboard-key"
ARTIFACTS = pathlib.Path(__file__).resolve().parent / "artifacts"

ROUTES = """
version = 1

[server]
auth = "none"
request_log = "off"
admin_keys = ["sha256:{digest}"]

# The SDK's key ("any-key") identifies this client, so that its limits in use show on the page.
[clients.dash-user]
keys = ["sha256:{client_digest}"]
limits = {{ requests_per_day = 1000, concurrent_streams = 4 }}

[backends.echo]
protocol = "echo"

# Nothing listens on port 1: every hop to it fails to connect, and the chain falls back to echo.
[backends.down]
protocol = "openai"
url = "http://127.0.0.1:1/v1"

[[routes]]
name = "fallback"
match = {{ model = "fallback-*" }}
backends = ["down", "echo"]

[[routes]]
name = "live-route"
match = {{ model = "live-*" }}
backends = ["echo"]

[[routes]]
name = "chat"
backends = ["echo"]
"""


def chromium():
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    return None


@pytest.fixture
def louter_dashboard(tmp_path):
    (tmp_path / "routes.toml").write_text(ROUTES.format(
        digest=hashlib.sha256(ADMIN_KEY.encode()).hexdigest(),
        client_digest=hashlib.sha256(b"any-key").hexdigest()))
    process, port = _start([LOUTER, "serve", "--routes", str(tmp_path), "--listen", "127.0.0.1:0", "--grace", "1"],
                           r"listening on http://127\.0\.0\.1:(\d+)")
    _drain(process)
    yield SimpleNamespace(port=port, process=process, folder=tmp_path)
    _halt(process)


def client(port):
    return genai.Client(api_key="any-key",
                        http_options=types.HttpOptions(base_url=f"http://127.0.0.1:{port}", api_version="v1beta"))


def browse(browser, url, *flags):
    """Runs headless chromium on `url`; returns its stdout. The page stops its stream after a few updates
    (`updates=`), so the virtual-time budget is reached once they have arrived."""
    result = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
         "--virtual-time-budget=15000", *flags, url],
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def test_the_dashboard_shows_live_traffic_in_a_real_browser(louter_dashboard):
    browser = chromium()
    if browser is None:
        pytest.skip("chromium is not installed (apt-get install -y --no-install-recommends chromium; .ci/run does)")
    port = louter_dashboard.port
    sdk = client(port)
    assert sdk.models.generate_content(model="dash-chat", contents="hello dashboard").text
    streamed = "".join(chunk.text or "" for chunk in
                       sdk.models.generate_content_stream(model="dash-stream", contents="a streamed answer"))
    assert streamed
    tool = types.Tool(function_declarations=[types.FunctionDeclaration(
        name="lookup", description="Looks a word up.",
        parameters=types.Schema(type="OBJECT", properties={"word": types.Schema(type="STRING")}))])
    sdk.models.generate_content(model="dash-tools", contents="use a tool",
                                config=types.GenerateContentConfig(tools=[tool]))
    assert sdk.models.generate_content(model="fallback-x", contents="falls back").text

    # More traffic while the browser watches: the page must pick it up from its event stream.
    stop = threading.Event()

    def keep_sending():
        live = client(port)
        # A few only: the page keeps the last 50 requests, and the earlier ones must stay in view.
        for _ in range(8):
            if stop.is_set():
                return
            live.models.generate_content(model="live-1", contents="while the page is open")
            stop.wait(0.4)

    sender = threading.Thread(target=keep_sending, daemon=True)
    sender.start()
    try:
        url = f"http://127.0.0.1:{port}/dashboard?key={ADMIN_KEY}&updates=4"
        dom = browse(browser, url, "--dump-dom")
        ARTIFACTS.mkdir(exist_ok=True)
        screenshot = ARTIFACTS / "dashboard.png"
        screenshot.unlink(missing_ok=True)
        browse(browser, url, f"--screenshot={screenshot}", "--window-size=1400,1200", "--hide-scrollbars")
    finally:
        stop.set()
        sender.join(timeout=10)
    (ARTIFACTS / "dashboard.html").write_text(dom)

    updates = re.search(r'id="updates">(\d+)<', dom)
    assert updates and int(updates.group(1)) >= 4, dom[:3000]
    assert 'paused after 4 updates' in dom
    # The rows are drawn by the script from the snapshots: the page as served has none.
    rows = re.findall(r'<tr class="request" data-route="([^"]*)" data-status="(\d+)"', dom)
    routes = {route for route, _ in rows}
    assert {"chat", "fallback", "live-route"} <= routes, rows
    assert all(status == "200" for _, status in rows), rows
    assert "down (connect) → echo" in html.unescape(dom)
    assert 'class="badge badge-stream"' in dom and 'class="badge badge-tools"' in dom
    for route in ("chat", "fallback", "live-route"):
        assert f'<tr class="route" data-route="{route}">' in dom
    assert 'data-backend="echo" data-circuit="closed"' in dom
    # The client's limits in use: its requests so far today, of 1000.
    used = re.search(r'<tr class="limit" data-client="dash-user" data-kind="requests_per_day">'
                     r'<td>dash-user</td><td>requests_per_day</td><td class="num">(\d+)</td><td class="num">1000</td>', dom)
    assert used and int(used.group(1)) >= 3, dom[:3000]
    assert 'data-backend="down"' in dom
    assert "routes.toml" in dom and "generation 1" in dom
    # The key is the browser's own to send; louter never writes it into the page.
    assert ADMIN_KEY not in dom
    assert screenshot.exists() and screenshot.stat().st_size > 10_000


def first_snapshot(port):
    """The first snapshot of a new event stream."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", f"/dashboard/events?key={ADMIN_KEY}")
        response = connection.getresponse()
        assert response.status == 200 and response.getheader("content-type").startswith("text/event-stream")
        while True:
            line = response.fp.readline().decode()
            assert line, "the stream ended before a snapshot"
            if line.startswith("data: "):
                return json.loads(line[len("data: "):])
    finally:
        connection.close()


def test_a_refused_reload_shows_on_the_dashboard(louter_dashboard):
    port = louter_dashboard.port
    routes = louter_dashboard.folder / "routes.toml"
    routes.write_text(routes.read_text() + "\n[[routes]]\nbackends = [\"nope\"]\n")
    louter_dashboard.process.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 10
    while True:
        reload = first_snapshot(port)["config"]
        if not reload["last_reload"]["succeeded"] or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert reload["last_reload"]["succeeded"] is False
    assert "refused" in reload["last_reload"]["message"]
    assert reload["generation"] == 1 and reload["files"][0].endswith("routes.toml")


def test_the_dashboard_needs_the_admin_key(louter_dashboard):
    port = louter_dashboard.port
    for path in ("/dashboard", "/dashboard/events"):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.request("GET", path)
        response = connection.getresponse()
        assert response.status == 401 and b"admin" in response.read()
        connection.close()
