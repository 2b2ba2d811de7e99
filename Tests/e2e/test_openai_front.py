"""The OpenAI front end to end: the real `openai` Python SDK against louter, which forwards to fake
backends on 127.0.0.1 — an OpenAI one (passthrough, fake_openai.py) and a Gemini one (translated,
FakeGemini below) — and through a chain whose first backend fails."""
import hashlib
import http.client
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import openai
import pytest
import requests

KEY = "sk-louter-test-key"

ROUTES = """
version = 1

[server]
auth = "required"
request_log = "off"

[clients.app]
keys = ["sha256:{digest}"]

[backends.oai]
protocol = "openai"
url = "http://127.0.0.1:{openai_port}/v1"
first_byte_timeout = "5s"

[backends.gem]
protocol = "gemini"
url = "http://127.0.0.1:{gemini_port}"
first_byte_timeout = "5s"

[backends.gem2]
protocol = "gemini"
url = "http://127.0.0.1:{gemini_port}"

[backends.gemslow]
protocol = "gemini"
url = "http://127.0.0.1:{gemini_port}"
first_byte_timeout = "300ms"

[backends.down]
protocol = "openai"
url = "http://127.0.0.1:{openai_port}/v1"

[[routes]]
name = "chain"
match = {{ model = "chain-*" }}
model = "fake-503"
fallback_on = ["5xx"]
backends = ["down", "gem"]

[[routes]]
name = "spent"
match = {{ model = "spent-*" }}
model = "gem-500"
fallback_on = ["5xx"]
backends = ["gem", "gem2"]

[[routes]]
name = "stalled"
match = {{ model = "stall-*" }}
model = "gem-stall"
fallback_on = ["timeout"]
backends = ["gemslow", "oai"]

[[routes]]
name = "reserved"
match = {{ model = "forbidden" }}
deny = "this model is reserved"

[[routes]]
name = "openai-only"
match = {{ model = "front-probe", front = "openai" }}
model = "gem-chat"
backends = ["gem"]

[[routes]]
name = "to-gemini"
match = {{ model = "gem-*" }}
system_prompt = {{ append = "Route appended." }}
backends = ["gem"]

[[routes]]
name = "to-openai"
backends = ["oai"]
"""


class FakeGemini:
    """A scripted Gemini backend. The model in the path picks the answer:
    gem-tools: two get_weather calls; gem-json: a JSON object; gem-429 / gem-500: that error; gem-cut: a
    stream that ends after its first event; gem-broken: a stream whose second event is an error;
    :batchEmbedContents: [1.5, 2.0] per input; anything else: echoes the last user text and the system
    instruction."""

    def __init__(self):
        self.requests = []
        self.released = threading.Event()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
                owner.requests.append({"path": self.path, "body": body})
                model = self.path.split("/models/")[1].split(":")[0]
                stream = "alt=sse" in self.path
                if model == "gem-stall":
                    # A backend that never answers in time: louter's first-byte deadline must pass first.
                    owner.released.wait(5)
                    return self.send(503, b"{}", "application/json")
                if ":batchEmbedContents" in self.path:
                    answer = {"embeddings": [{"values": [1.5, 2.0]} for _ in body["requests"]]}
                    return self.send(200, json.dumps(answer).encode(), "application/json")
                if model in ("gem-429", "gem-500"):
                    status = int(model[4:])
                    error = {"error": {"code": status, "message": f"fake {status}",
                                       "status": "RESOURCE_EXHAUSTED" if status == 429 else "INTERNAL"}}
                    if status == 429:
                        error["error"]["details"] = [{"@type": "type.googleapis.com/google.rpc.RetryInfo",
                                                      "retryDelay": "1s"}]
                    return self.send(status, json.dumps(error).encode(), "application/json")
                if model == "gem-tools":
                    answers = [{"candidates": [{"content": {"role": "model", "parts": [
                        {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}, "thoughtSignature": "U0lH"},
                        {"functionCall": {"name": "get_weather", "args": {"city": "Rome"}}}]},
                        "finishReason": "STOP", "index": 0}]}]
                elif model == "gem-json":
                    answers = [{"candidates": [{"content": {"role": "model", "parts": [
                        {"text": '{"city": "Paris", "temp": 21}'}]}, "finishReason": "STOP", "index": 0}]}]
                else:
                    last = body["contents"][-1]["parts"]
                    text = " ".join(p.get("text", json.dumps(p.get("functionResponse"))) for p in last)
                    system = " ".join(p["text"] for p in body.get("systemInstruction", {}).get("parts", []))
                    words = f"{text} | {system}".split(" ")
                    answers = [{"candidates": [{"content": {"role": "model", "parts": [{"text": (" " if i else "") + w}]},
                                                "index": 0}]} for i, w in enumerate(words)]
                    answers[-1]["candidates"][0]["finishReason"] = "STOP"
                usage = {"promptTokenCount": 9, "candidatesTokenCount": 4, "thoughtsTokenCount": 2,
                         "totalTokenCount": 15}
                answers[-1]["usageMetadata"] = usage
                if not stream:
                    merged = answers[0]
                    if len(answers) > 1:
                        text = "".join(a["candidates"][0]["content"]["parts"][0]["text"] for a in answers)
                        merged = {"candidates": [{"content": {"role": "model", "parts": [{"text": text}]},
                                                  "finishReason": "STOP", "index": 0}], "usageMetadata": usage}
                    return self.send(200, json.dumps(merged).encode(), "application/json")
                if model == "gem-cut":
                    answers = answers[:1]
                    answers[0]["candidates"][0].pop("finishReason", None)
                if model == "gem-broken":
                    answers = answers[:1] + [{"error": {"code": 500, "message": "model crashed", "status": "INTERNAL"}}]
                payload = b"".join(b"data: " + json.dumps(a).encode() + b"\r\n\r\n" for a in answers)
                self.send(200, payload, "text/event-stream")

            def send(self, status, data, content_type):
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.released.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def gemini():
    fake = FakeGemini()
    yield fake
    fake.close()


@pytest.fixture
def front(louter_serve, fake_backend, gemini):
    port = louter_serve(ROUTES.format(digest=hashlib.sha256(KEY.encode()).hexdigest(), openai_port=fake_backend, gemini_port=gemini.port))
    return port


def client(port, key=KEY):
    return openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key=key, max_retries=0)


def last_openai_body(fake_backend):
    return requests.get(f"http://127.0.0.1:{fake_backend}/_last", timeout=5).json()


# --- OpenAI backend: passthrough ---------------------------------------------------------------


def test_chat_passthrough_keeps_unknown_fields(front, fake_backend):
    answer = client(front).chat.completions.create(
        model="gpt-fake", messages=[{"role": "user", "content": "hello there"}],
        extra_body={"vendor_extension": {"keep": True}}, service_tier="flex")
    assert answer.choices[0].message.content == "hello there"
    assert answer.usage.total_tokens == 12
    sent = last_openai_body(fake_backend)
    assert sent["vendor_extension"] == {"keep": True}
    assert sent["service_tier"] == "flex"


def test_stream_passthrough_with_usage(front):
    chunks = list(client(front).chat.completions.create(
        model="gpt-fake", messages=[{"role": "user", "content": "one two three"}], stream=True,
        stream_options={"include_usage": True}))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "one two three"
    assert chunks[-1].choices == [] and chunks[-1].usage.total_tokens == 12


def test_tools_passthrough_stream(front):
    with client(front).chat.completions.stream(
            model="fake-tools", messages=[{"role": "user", "content": "weather?"}],
            tools=[{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]) as s:
        final = s.get_final_completion()
    call = final.choices[0].message.tool_calls[0]
    assert (call.id, call.function.name, call.function.arguments) == ("call_1", "get_weather", '{"city":"Paris"}')


def test_errors_passthrough(front):
    with pytest.raises(openai.RateLimitError):
        client(front).chat.completions.create(model="fake-429", messages=[{"role": "user", "content": "x"}])
    with pytest.raises(openai.InternalServerError):
        client(front).chat.completions.create(model="fake-500", messages=[{"role": "user", "content": "x"}])


def test_wrong_key_is_authentication_error(front):
    with pytest.raises(openai.AuthenticationError) as caught:
        client(front, key="sk-wrong").chat.completions.create(
            model="gpt-fake", messages=[{"role": "user", "content": "x"}])
    assert caught.value.body["type"] == "authentication_error"


def test_models_on_the_shared_path(front):
    models = client(front).models.list()
    assert "gem-*" not in [m.id for m in models.data]
    # The SDK sends "openai/gpt-x" as openai%2Fgpt-x; the catch-all route serves it.
    assert client(front).models.retrieve("openai/gpt-x").id == "openai/gpt-x"
    with pytest.raises(openai.NotFoundError):
        client(front).models.retrieve("no such model")
    # The same path with a Gemini key header is the Gemini front's.
    gemini = requests.get(f"http://127.0.0.1:{front}/v1/models", headers={"x-goog-api-key": KEY}, timeout=5)
    assert gemini.status_code == 200 and "models" in gemini.json()


# --- Gemini backend: translated ----------------------------------------------------------------


def test_chat_to_gemini(front, gemini):
    response = client(front).chat.completions.with_raw_response.create(
        model="gem-chat", messages=[{"role": "system", "content": "Be brief."},
                                    {"role": "user", "content": "hello gemini"}],
        max_completion_tokens=50, temperature=0.5, stop=["END"], logit_bias={"1": 2})
    answer = response.parse()
    assert answer.choices[0].message.content == "hello gemini | Be brief. Route appended."
    assert answer.choices[0].finish_reason == "stop"
    assert (answer.usage.prompt_tokens, answer.usage.completion_tokens, answer.usage.total_tokens) == (9, 6, 15)
    assert answer.usage.completion_tokens_details.reasoning_tokens == 2
    assert "logit_bias" in response.headers["x-louter-warning"]
    sent = gemini.requests[-1]["body"]
    assert sent["generationConfig"] == {"maxOutputTokens": 50, "temperature": 0.5, "stopSequences": ["END"]}


def test_stream_to_gemini_with_usage(front):
    chunks = list(client(front).chat.completions.create(
        model="gem-chat", messages=[{"role": "user", "content": "a b"}], stream=True,
        stream_options={"include_usage": True}))
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "a b | Route appended."
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage.total_tokens == 15


def test_tools_round_trip_to_gemini(front, gemini):
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {
        "type": "object", "properties": {"city": {"type": "string"}}, "additionalProperties": False}}}]
    messages = [{"role": "user", "content": "weather in Paris and Rome?"}]
    first = client(front).chat.completions.create(model="gem-tools", messages=messages, tools=tools,
                                                  tool_choice="required")
    calls = first.choices[0].message.tool_calls
    assert first.choices[0].finish_reason == "tool_calls"
    assert [c.function.arguments for c in calls] == ['{"city":"Paris"}', '{"city":"Rome"}']
    assert calls[0].id != calls[1].id and calls[0].id.startswith("call_")
    assert gemini.requests[-1]["body"]["toolConfig"] == {"functionCallingConfig": {"mode": "ANY"}}
    messages.append(first.choices[0].message.model_dump(exclude_none=True))
    # Answered out of order: louter pairs by tool_call_id.
    messages.append({"role": "tool", "tool_call_id": calls[1].id, "content": "18C"})
    messages.append({"role": "tool", "tool_call_id": calls[0].id, "content": '{"temp": 21}'})
    second = client(front).chat.completions.create(model="gem-chat", messages=messages, tools=tools)
    contents = gemini.requests[-1]["body"]["contents"]
    assert [c["role"] for c in contents] == ["user", "model", "user"]
    # Gemini 3's thought signature came back through the SDK's history (extra_content.google).
    assert contents[1]["parts"][0]["thoughtSignature"] == "U0lH" and "thoughtSignature" not in contents[1]["parts"][1]
    assert [p["functionResponse"]["response"] for p in contents[2]["parts"]] == [{"temp": 21}, {"output": "18C"}]
    assert "temp" in second.choices[0].message.content


def test_tool_stream_from_gemini(front):
    with client(front).chat.completions.stream(
            model="gem-tools", messages=[{"role": "user", "content": "weather?"}],
            tools=[{"type": "function", "function": {"name": "get_weather"}}]) as s:
        final = s.get_final_completion()
    calls = final.choices[0].message.tool_calls
    assert [c.function.arguments for c in calls] == ['{"city":"Paris"}', '{"city":"Rome"}']
    assert final.choices[0].finish_reason == "tool_calls"


def test_gemini_errors(front):
    with pytest.raises(openai.RateLimitError) as caught:
        client(front).chat.completions.create(model="gem-429", messages=[{"role": "user", "content": "x"}])
    assert caught.value.response.headers["retry-after"] == "1"
    with pytest.raises(openai.InternalServerError):
        client(front).chat.completions.create(model="gem-500", messages=[{"role": "user", "content": "x"}])
    with pytest.raises(openai.BadRequestError):
        client(front).chat.completions.create(model="gem-chat", messages=[{"role": "user", "content": "x"}],
                                              modalities=["audio"])


def test_cut_gemini_stream_raises(front):
    with pytest.raises(openai.APIError):
        for _ in client(front).chat.completions.create(
                model="gem-cut", messages=[{"role": "user", "content": "a b c"}], stream=True):
            pass


# --- a chain whose first backend fails -----------------------------------------------------------


def test_chain_falls_back_to_gemini(front):
    response = client(front).chat.completions.with_raw_response.create(
        model="chain-x", messages=[{"role": "user", "content": "fallback works"}])
    assert response.headers["x-louter-backend"] == "gem"
    assert response.parse().choices[0].message.content.startswith("fallback works")
    chunks = list(client(front).chat.completions.create(
        model="chain-x", messages=[{"role": "user", "content": "streamed too"}], stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices).startswith("streamed too")


# --- more of the SDK's surface ------------------------------------------------------------------


def test_missing_key_and_deny_route(front):
    # The SDK refuses to send without a key: a raw request shows the 401 in OpenAI's shape.
    missing = requests.post(f"http://127.0.0.1:{front}/v1/chat/completions",
                            json={"model": "gpt-fake", "messages": [{"role": "user", "content": "x"}]}, timeout=10)
    assert missing.status_code == 401 and missing.json()["error"]["type"] == "authentication_error"
    with pytest.raises(openai.PermissionDeniedError) as caught:
        client(front).chat.completions.create(model="forbidden", messages=[{"role": "user", "content": "x"}])
    assert "reserved" in caught.value.message


def test_front_match_field(front, gemini):
    answer = client(front).chat.completions.create(
        model="front-probe", messages=[{"role": "user", "content": "probe"}])
    assert answer.choices[0].message.content.startswith("probe")
    assert "/models/gem-chat:" in gemini.requests[-1]["path"]


def test_json_schema_parse_to_gemini(front, gemini):
    from pydantic import BaseModel

    class Weather(BaseModel):
        city: str
        temp: int

    parsed = client(front).chat.completions.parse(
        model="gem-json", messages=[{"role": "user", "content": "weather"}], response_format=Weather)
    assert parsed.choices[0].message.parsed == Weather(city="Paris", temp=21)
    config = gemini.requests[-1]["body"]["generationConfig"]
    assert config["responseMimeType"] == "application/json"
    assert config["responseJsonSchema"]["additionalProperties"] is False


def test_image_to_gemini(front, gemini):
    client(front).chat.completions.create(model="gem-chat", messages=[{"role": "user", "content": [
        {"type": "text", "text": "what is this"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}]}])
    parts = gemini.requests[-1]["body"]["contents"][0]["parts"]
    assert parts[1] == {"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}}


def test_mid_stream_error_raises_and_sends_no_done(front):
    received = []
    with pytest.raises(openai.APIError) as caught:
        for chunk in client(front).chat.completions.create(
                model="gem-broken", messages=[{"role": "user", "content": "a b"}], stream=True):
            received.append(chunk)
    assert received and "model crashed" in caught.value.message
    # On the wire: the error event, then the response ends without its last chunk and without [DONE].
    connection = http.client.HTTPConnection("127.0.0.1", front, timeout=10)
    body = json.dumps({"model": "gem-broken", "messages": [{"role": "user", "content": "a"}], "stream": True})
    connection.request("POST", "/v1/chat/completions", body=body,
                       headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"})
    response = connection.getresponse()
    with pytest.raises(http.client.IncompleteRead) as cut:
        response.read()
    connection.close()
    text = cut.value.partial.decode()
    assert '"error"' in text.rstrip().rsplit("data: ", 1)[-1] and "[DONE]" not in text


def test_embeddings_both_backends(front):
    passthrough = client(front).embeddings.create(model="gpt-fake", input=["abc", "de"])
    assert [d.embedding for d in passthrough.data] == [[3.0, 0.5, -0.25], [2.0, 0.5, -0.25]]
    translated = client(front).embeddings.create(model="gem-embed", input="hello")
    assert translated.data[0].embedding == [1.5, 2.0]
    floats = client(front).embeddings.create(model="gem-embed", input=["a", "b"], encoding_format="float")
    assert [d.index for d in floats.data] == [0, 1]


def test_both_sdks_on_one_listener(front):
    from google import genai

    gemini_client = genai.Client(api_key=KEY, http_options={"base_url": f"http://127.0.0.1:{front}"})
    answer = gemini_client.models.generate_content(model="gem-chat", contents="from genai")
    assert answer.text.startswith("from genai")
    assert any(m.name.endswith("gpt-fake") or m.name for m in gemini_client.models.list())
    assert client(front).chat.completions.create(
        model="gem-chat", messages=[{"role": "user", "content": "from openai"}]).choices[0].message.content.startswith(
        "from openai")


def test_spent_chain_tells_the_sdk_not_to_retry(front, gemini):
    before = len(gemini.requests)
    with pytest.raises(openai.InternalServerError) as caught:
        openai.OpenAI(base_url=f"http://127.0.0.1:{front}/v1", api_key=KEY, max_retries=2).chat.completions.create(
            model="spent-x", messages=[{"role": "user", "content": "x"}])
    assert caught.value.response.headers["x-should-retry"] == "false"
    assert len(gemini.requests) - before == 2, "one try per backend, no SDK retries on top"


def test_azure_style_client(front):
    azure = openai.AzureOpenAI(azure_endpoint=f"http://127.0.0.1:{front}", api_key=KEY, api_version="2024-10-21",
                               max_retries=0)
    answer = azure.chat.completions.create(model="gem-chat", messages=[{"role": "user", "content": "from azure"}])
    assert answer.choices[0].message.content.startswith("from azure")
    assert "front-probe" in [m.id for m in azure.models.list().data]


def test_unknown_path_answers_in_the_clients_shape(front):
    with pytest.raises(openai.NotFoundError) as caught:
        client(front).completions.create(model="gpt-fake", prompt="legacy")
    assert caught.value.body["type"] == "not_found_error"
    gemini = requests.post(f"http://127.0.0.1:{front}/v1/nothing", headers={"x-goog-api-key": KEY}, timeout=5)
    assert gemini.status_code == 404 and gemini.json()["error"]["status"] == "NOT_FOUND"


def test_first_token_deadline_falls_back(front):
    for stream in (False, True):
        response = client(front).chat.completions.with_raw_response.create(
            model="stall-x", messages=[{"role": "user", "content": "too slow"}], stream=stream)
        assert response.headers["x-louter-backend"] == "oai"
        if stream:
            text = "".join(c.choices[0].delta.content or "" for c in response.parse() if c.choices)
        else:
            text = response.parse().choices[0].message.content
        assert text == "too slow"
