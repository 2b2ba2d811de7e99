"""The legacy google-generativeai SDK (0.8.x, REST transport) against louter, with the fake OpenAI backend.

That SDK sends every call with `$alt=json;enum-encoding=int` and protobuf-JSON integer enums (Schema types,
function-calling mode), and reads streams as one JSON array.
"""
import json
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import conftest

import google.generativeai as genai
import pytest


def last_request(backend_port):
    with urllib.request.urlopen(f"http://127.0.0.1:{backend_port}/_last") as response:
        return json.load(response)


@pytest.fixture
def legacy(louter):
    genai.configure(api_key="any-key", transport="rest", client_options={"api_endpoint": f"http://127.0.0.1:{louter}"})
    return genai


def get_weather(city: str) -> str:
    """Returns the weather in a city."""
    return f"sunny in {city}"


def test_generate(legacy):
    response = legacy.GenerativeModel("gemini-1.5-flash").generate_content("hello legacy world")
    assert response.text == "hello legacy world"
    assert response.candidates[0].finish_reason.name == "STOP"
    assert response.usage_metadata.prompt_token_count == 7


def test_stream_text_of_every_chunk(legacy):
    response = legacy.GenerativeModel("gemini-1.5-flash").generate_content("one two three", stream=True)
    # The documented loop: chunk.text on every chunk, the last (finish) chunk included.
    texts = [chunk.text for chunk in response]
    assert "".join(texts) == "one two three"
    assert len(texts) >= 3


def test_chat(legacy, fake_backend):
    chat = legacy.GenerativeModel("gemini-1.5-flash").start_chat()
    assert chat.send_message("first turn").text == "first turn"
    assert chat.send_message("second turn").text == "second turn"
    messages = last_request(fake_backend)["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]


def test_function_calling_with_integer_enums(legacy, fake_backend):
    model = legacy.GenerativeModel("fake-tools", tools=[get_weather])
    response = model.generate_content(
        "weather?", tool_config={"function_calling_config": {"mode": "ANY", "allowed_function_names": ["get_weather"]}})
    call = response.candidates[0].content.parts[0].function_call
    assert call.name == "get_weather"
    assert dict(call.args) == {"city": "Paris"}
    sent = last_request(fake_backend)
    parameters = sent["tools"][0]["function"]["parameters"]
    assert parameters["type"] == "object"
    assert parameters["properties"]["city"]["type"] == "string"
    assert sent["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}


def test_tool_config_none(legacy, fake_backend):
    model = legacy.GenerativeModel("gemini-1.5-flash", tools=[get_weather])
    response = model.generate_content("just talk", tool_config={"function_calling_config": {"mode": "NONE"}})
    assert response.text == "just talk"
    assert last_request(fake_backend)["tool_choice"] == "none"


class _ToolThenText(BaseHTTPRequestHandler):
    """An OpenAI backend that asks for get_weather until it sees the tool's result, then answers with it."""

    protocol_version = "HTTP/1.1"
    bodies = []

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
        self.bodies.append(body)
        last = body["messages"][-1]
        if last["role"] == "tool":
            message = {"role": "assistant", "content": "It is " + last["content"]}
        else:
            message = {"role": "assistant", "content": None, "tool_calls": [{
                "id": "call_1", "type": "function",
                "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]}
        data = json.dumps({"id": "c", "object": "chat.completion", "model": body["model"], "choices": [
            {"index": 0, "message": message, "finish_reason": "tool_calls" if message["content"] is None else "stop"}]})
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data.encode())


@pytest.fixture
def tool_louter(tmp_path):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ToolThenText)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    (tmp_path / "routes.toml").write_text(
        '[server]\nauth = "none"\nrequest_log = "off"\n[backends.tools]\nprotocol = "openai"\n'
        f'url = "http://127.0.0.1:{server.server_address[1]}/v1"\n[[routes]]\nbackends = ["tools"]\n')
    process, port = conftest._serve(tmp_path)
    yield port
    conftest._stop(process)
    server.shutdown()
    server.server_close()


def test_automatic_function_calling(tool_louter):
    genai.configure(
        api_key="any-key", transport="rest", client_options={"api_endpoint": f"http://127.0.0.1:{tool_louter}"})
    chat = genai.GenerativeModel("gemini-1.5-flash", tools=[get_weather]).start_chat(
        enable_automatic_function_calling=True)
    assert "sunny in Paris" in chat.send_message("weather in Paris?").text
    messages = _ToolThenText.bodies[-1]["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "tool"]
    assert messages[1]["tool_calls"][0]["function"]["name"] == "get_weather"


def test_response_schema(legacy, fake_backend):
    model = legacy.GenerativeModel("fake-json")
    response = model.generate_content(
        "weather as JSON",
        generation_config=legacy.GenerationConfig(
            response_mime_type="application/json",
            response_schema={"type": "OBJECT", "properties": {"city": {"type": "STRING"}, "temp": {"type": "INTEGER"}}}))
    assert json.loads(response.text) == {"city": "Paris", "temp": 21}
    schema = last_request(fake_backend)["response_format"]["json_schema"]["schema"]
    assert schema == {"type": "object", "properties": {"city": {"type": "string"}, "temp": {"type": "integer"}}}


def test_count_tokens(legacy):
    count = legacy.GenerativeModel("gemini-1.5-flash").count_tokens("hello there, how are you today?")
    assert count.total_tokens > 0


def test_list_and_get_models(legacy):
    names = [model.name for model in legacy.list_models()]
    assert "models/gpt-fake" in names
    model = legacy.get_model("models/gpt-fake")
    assert model.name == "models/gpt-fake"


def test_model_token_limits(legacy):
    model = legacy.get_model("models/gpt-fake")
    assert model.input_token_limit > 0 and model.output_token_limit > 0


def test_embeddings(legacy):
    single = legacy.embed_content(model="models/text-embedding-004", content="abcd", task_type="retrieval_query")
    assert single["embedding"] == [4.0, 0.5, -0.25]
    batch = legacy.embed_content(model="models/text-embedding-004", content=["a", "abc"])
    assert [vector[0] for vector in batch["embedding"]] == [1.0, 3.0]


# Bodies in the shape of Google's published countTokens and embedContent REST samples, which end objects and
# arrays with a trailing comma (Google's front accepts them).
COUNT_TOKENS_SAMPLE = b"""{
    "contents": [{
      "parts":[{
        "text": "The quick brown fox jumps over the lazy dog."
        }],
      }],
  }"""

EMBED_CONTENT_SAMPLE = b"""{"model": "models/text-embedding-004",
     "content": {
     "parts":[{
       "text": "What is the meaning of life?"}]}, }"""


@pytest.mark.parametrize("method,body", [("countTokens", COUNT_TOKENS_SAMPLE),
                                         ("embedContent", EMBED_CONTENT_SAMPLE)])
def test_google_curl_samples_with_trailing_commas(louter, method, body):
    model = "text-embedding-004" if method == "embedContent" else "gemini-1.5-flash"
    request = urllib.request.Request(
        f"http://127.0.0.1:{louter}/v1beta/models/{model}:{method}?key=any-key", data=body,
        headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request) as response:
        answer = json.load(response)
    assert answer.get("totalTokens", 0) > 0 or len(answer["embedding"]["values"]) == 3
