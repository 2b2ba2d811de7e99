"""Starts a fake OpenAI backend and louter on 127.0.0.1 for the google-genai end-to-end tests."""
import os
import pathlib
import re
import subprocess
import sys
import textwrap

import pytest

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent.parent
LOUTER = os.environ.get("LOUTER_BIN", str(ROOT / ".build" / "debug" / "louter"))

ROUTES = """
version = 1

[server]
auth = "none"
request_log = "off"

[backends.fake]
protocol = "openai"
url = "http://127.0.0.1:{port}/v1"
first_byte_timeout = "5s"
models = ["gpt-fake"]

# Same fake server under other names: failing calls open a backend's circuit (passive health),
# which must not spill into the tests that expect answers.
[backends.errors]
protocol = "openai"
url = "http://127.0.0.1:{port}/v1"

[backends.failing]
protocol = "openai"
url = "http://127.0.0.1:{port}/v1"

[backends.demo]
protocol = "echo"

[backends.gemini]
protocol = "gemini"
url = "http://127.0.0.1:{gemini_port}"

[[routes]]
name = "passthrough"
match = {{ model = "via-gemini*" }}
system_prompt = {{ append = "Route appended." }}
model = "upstream-model"
backends = ["gemini"]

[[routes]]
name = "errors"
match = {{ model = ["fake-500", "fake-429", "fake-context"] }}
backends = ["errors"]

[[routes]]
name = "fallback"
match = {{ model = "fallback-*" }}
model = "fake-503"
backends = ["failing", "demo"]

[[routes]]
name = "with-system"
match = {{ model = "with-system" }}
system_prompt = {{ prepend = "Route says hi." }}
model = "gemini-echo"
backends = ["fake"]

[[routes]]
name = "denied"
match = {{ model = "forbidden-model" }}
deny = "this model is reserved"

[[routes]]
name = "default"
backends = ["fake"]
"""


def _start(args, pattern):
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for _ in range(50):
        line = process.stdout.readline()
        if not line:
            break
        match = re.search(pattern, line)
        if match:
            return process, int(match.group(1))
    process.kill()
    raise RuntimeError(f"{args[0]} did not start: {line!r}")


@pytest.fixture(scope="session")
def fake_backend():
    process, port = _start([sys.executable, str(HERE / "fake_openai.py")], r"^(\d+)$")
    yield port
    process.kill()


GEMINI_UPSTREAM = """
[server]
auth = "none"
request_log = "off"
[backends.echo]
protocol = "echo"
[[routes]]
backends = ["echo"]
"""


def _serve(routes_dir):
    return _start([LOUTER, "serve", "--routes", str(routes_dir), "--listen", "127.0.0.1:0"],
                  r"listening on http://127\.0\.0\.1:(\d+)")


def _stop(process):
    process.terminate()
    # SIGTERM is a graceful shutdown: louter must exit 0.
    assert process.wait(timeout=15) == 0


@pytest.fixture(scope="session")
def gemini_backend(tmp_path_factory):
    """A second louter with the echo backend: a real Gemini-API server for passthrough tests."""
    routes = tmp_path_factory.mktemp("gemini-routes")
    (routes / "routes.toml").write_text(GEMINI_UPSTREAM)
    process, port = _serve(routes)
    yield port
    _stop(process)


@pytest.fixture(scope="session")
def louter(fake_backend, gemini_backend, tmp_path_factory):
    routes = tmp_path_factory.mktemp("routes")
    (routes / "routes.toml").write_text(textwrap.dedent(ROUTES.format(port=fake_backend, gemini_port=gemini_backend)))
    process, port = _serve(routes)
    yield port
    _stop(process)


# --- misbehaving-peer suite (test_hostile_*.py): a louter per test, raw-socket fakes ---------------


def _drain(process):
    # louter's stdout is a pipe: read it to the end so louter never blocks on a full pipe.
    import threading

    threading.Thread(target=lambda: process.stdout.read(), daemon=True).start()


def _halt(process):
    """Stops a louter that may already have crashed; never raises (teardown of xfail tests).

    SIGKILL after 3 s: louter sometimes does not act on a SIGTERM (seen on main about once per 50 runs:
    no shutdown task ever runs; the main thread sits in Dispatch's sigsuspend, the event loop in epoll_wait)."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=3)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
    if process.stdout:
        process.stdout.close()


@pytest.fixture
def louter_serve(tmp_path):
    """Starts `louter serve` on the given route-file text; returns its port. Stopped at teardown."""
    processes = []

    def start(routes_text):
        folder = tmp_path / f"routes-{len(processes)}"
        folder.mkdir()
        (folder / "routes.toml").write_text(textwrap.dedent(routes_text))
        # A short drain: these tests never wait for in-flight requests at shutdown.
        process, port = _start([LOUTER, "serve", "--routes", str(folder), "--listen", "127.0.0.1:0", "--grace", "1"],
                               r"listening on http://127\.0\.0\.1:(\d+)")
        processes.append(process)
        _drain(process)
        return port

    start.processes = processes
    yield start
    for process in processes:
        _halt(process)


@pytest.fixture
def raw_peer():
    """Creates rawpeers.RawPeer fake backends from scripts; all are closed at teardown."""
    import rawpeers

    peers = []

    def make(script=rawpeers.healthy):
        peer = rawpeers.RawPeer(script)
        peers.append(peer)
        return peer

    yield make
    for peer in peers:
        peer.close()
