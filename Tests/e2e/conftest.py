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


@pytest.fixture(scope="session")
def louter(fake_backend, tmp_path_factory):
    routes = tmp_path_factory.mktemp("routes")
    (routes / "routes.toml").write_text(textwrap.dedent(ROUTES.format(port=fake_backend)))
    process, port = _start([LOUTER, "serve", "--routes", str(routes), "--listen", "127.0.0.1:0"],
                           r"listening on http://127\.0\.0\.1:(\d+)")
    yield port
    process.terminate()
    process.wait(timeout=10)
