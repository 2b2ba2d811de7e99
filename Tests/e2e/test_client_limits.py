"""Per-client limits through `louter serve`, seen by the real google-genai SDK and by raw HTTP."""
import hashlib
import json
import urllib.error
import urllib.request

import pytest
from google import genai
from google.genai import errors, types

KEY = "gm_limits_e2e_key"

# A daily limit: the test cannot move louter's clock, and a day does not roll over mid-test
# (except across 00:00 UTC, where the first refused request would be admitted instead).
ROUTES = """
[server]
request_log = "off"

[clients.limited]
keys = ["sha256:{digest}"]
limits = {{ requests_per_day = 2, concurrent_streams = 1 }}

[backends.demo]
protocol = "echo"

[[routes]]
backends = ["demo"]
"""


@pytest.fixture
def limited(louter_serve):
    return louter_serve(ROUTES.format(digest=hashlib.sha256(KEY.encode()).hexdigest()))


def sdk(port):
    return genai.Client(
        api_key=KEY, http_options=types.HttpOptions(base_url=f"http://127.0.0.1:{port}", api_version="v1beta"))


def test_the_sdk_sees_resource_exhausted_with_retry_info_after_the_limit(limited):
    client = sdk(limited)
    for _ in range(2):
        assert client.models.generate_content(model="gemini-2.5-flash", contents="hello there").text == "hello there"
    with pytest.raises(errors.ClientError) as caught:
        client.models.generate_content(model="gemini-2.5-flash", contents="hello there")
    assert caught.value.code == 429
    assert caught.value.status == "RESOURCE_EXHAUSTED"
    assert "requests_per_day = 2" in caught.value.message
    details = caught.value.details["error"]["details"]
    retry = [d for d in details if d["@type"] == "type.googleapis.com/google.rpc.RetryInfo"]
    assert len(retry) == 1
    seconds = int(retry[0]["retryDelay"].removesuffix("s"))
    assert 1 <= seconds <= 86_400


def test_raw_answer_carries_retry_after_equal_to_the_retry_delay(limited):
    body = json.dumps({"contents": [{"parts": [{"text": "hi"}]}]}).encode()

    def post():
        request = urllib.request.Request(
            f"http://127.0.0.1:{limited}/v1beta/models/m:generateContent", data=body,
            headers={"content-type": "application/json", "x-goog-api-key": KEY})
        return urllib.request.urlopen(request, timeout=10)

    for _ in range(2):
        with post() as response:
            assert response.status == 200
    with pytest.raises(urllib.error.HTTPError) as caught:
        post()
    assert caught.value.code == 429
    error = json.loads(caught.value.read())["error"]
    delay = next(d["retryDelay"] for d in error["details"] if d["@type"].endswith("RetryInfo"))
    assert caught.value.headers["retry-after"] + "s" == delay
