"""A request log written to a pipe that nobody reads (`louter serve | (sleep 9999)`) must not slow serving:
the log is written off the event loop, so a full pipe costs log lines, never answers (issue 9 item 4)."""
import http.client
import json
import re
import subprocess

from conftest import LOUTER

ROUTES = """
version = 1

[server]
auth = "none"
request_log = "stdout"

[backends.echo]
protocol = "echo"

[[routes]]
backends = ["echo"]
"""

# About 350 bytes of log per request: 2,000 requests write ~700 KiB, ten times a 64 KiB pipe buffer.
REQUESTS = 2000


def test_a_request_log_pipe_nobody_reads_does_not_stall_serving(tmp_path):
    (tmp_path / "routes.toml").write_text(ROUTES)
    process = subprocess.Popen(
        [LOUTER, "serve", "--routes", str(tmp_path), "--listen", "127.0.0.1:0", "--grace", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        # The banner is the only thing this test ever reads from the pipe.
        banner = process.stdout.readline().decode()
        port = int(re.search(r"listening on http://127\.0\.0\.1:(\d+)", banner).group(1))
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        for number in range(REQUESTS):
            body = json.dumps({"contents": [{"role": "user", "parts": [{"text": f"request {number}"}]}]})
            connection.request("POST", "/v1beta/models/m:generateContent", body=body,
                               headers={"content-type": "application/json"})
            response = connection.getresponse()
            assert response.status == 200, number
            assert f"request {number}" in response.read().decode(), number
        connection.close()
    finally:
        process.terminate()
        # Shutdown gives the unread log its deadline (here one second) and exits: it never hangs on the pipe.
        try:
            status = process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            status = "hung on SIGTERM"
        process.stdout.close()
    assert status == 0
