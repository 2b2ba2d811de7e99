"""The real google-genai SDK against louter, with a fake OpenAI backend behind it."""
import json
import urllib.request

import pytest
from google import genai
from google.genai import errors, types

VERSIONS = ["v1beta", "v1"]


_CLIENTS = {}


def client(port, version):
    # Kept alive for the session: a Client closes its HTTP connection pool when it is collected.
    key = (port, version)
    if key not in _CLIENTS:
        _CLIENTS[key] = genai.Client(
            api_key="any-key", http_options=types.HttpOptions(base_url=f"http://127.0.0.1:{port}", api_version=version))
    return _CLIENTS[key]


def last_request(backend_port):
    with urllib.request.urlopen(f"http://127.0.0.1:{backend_port}/_last") as response:
        return json.load(response)


@pytest.mark.parametrize("version", VERSIONS)
def test_generate(louter, version):
    response = client(louter, version).models.generate_content(model="gemini-2.5-flash", contents="hello louter world")
    assert response.text == "hello louter world"
    assert response.candidates[0].finish_reason == types.FinishReason.STOP
    assert response.usage_metadata.prompt_token_count == 7
    assert response.usage_metadata.candidates_token_count == 5


@pytest.mark.parametrize("version", VERSIONS)
def test_stream(louter, version):
    chunks = list(client(louter, version).models.generate_content_stream(
        model="gemini-2.5-flash", contents="one two three four"))
    assert len(chunks) >= 4
    assert "".join(c.text or "" for c in chunks) == "one two three four"
    assert chunks[-1].candidates[0].finish_reason == types.FinishReason.STOP
    assert chunks[-1].usage_metadata.total_token_count == 12


@pytest.mark.parametrize("version", VERSIONS)
def test_system_instruction(louter, fake_backend, version):
    client(louter, version).models.generate_content(
        model="gemini-2.5-flash", contents="hi", config=types.GenerateContentConfig(system_instruction="Be terse."))
    messages = last_request(fake_backend)["messages"]
    assert messages[0] == {"role": "system", "content": "Be terse."}
    assert messages[-1]["role"] == "user"


@pytest.mark.parametrize("version", VERSIONS)
def test_route_system_prompt_and_model_rewrite(louter, fake_backend, version):
    client(louter, version).models.generate_content(
        model="with-system", contents="hi", config=types.GenerateContentConfig(system_instruction="Client says."))
    body = last_request(fake_backend)
    assert body["model"] == "gemini-echo"
    assert body["messages"][0]["role"] == "system"
    assert body["messages"][0]["content"].startswith("Route says hi.")
    assert "Client says." in body["messages"][0]["content"]


@pytest.mark.parametrize("version", VERSIONS)
def test_multi_turn_chat(louter, fake_backend, version):
    chat = client(louter, version).chats.create(model="gemini-2.5-flash")
    assert chat.send_message("first question").text == "first question"
    assert chat.send_message("second question").text == "second question"
    messages = last_request(fake_backend)["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    assert messages[1]["content"] == "first question"


@pytest.mark.parametrize("version", VERSIONS)
def test_models_list(louter, version):
    names = [m.name for m in client(louter, version).models.list()]
    assert "models/with-system" in names
    assert "models/gpt-fake" in names


@pytest.mark.parametrize("version", VERSIONS)
def test_upstream_500_is_a_server_error(louter, version):
    with pytest.raises(errors.ServerError) as caught:
        client(louter, version).models.generate_content(model="fake-500", contents="x")
    assert caught.value.code in (500, 502, 503)
    assert "fake" in caught.value.message


@pytest.mark.parametrize("version", VERSIONS)
def test_rate_limit_is_resource_exhausted(louter, version):
    with pytest.raises(errors.ClientError) as caught:
        client(louter, version).models.generate_content(model="fake-429", contents="x")
    assert caught.value.code == 429
    assert caught.value.status == "RESOURCE_EXHAUSTED"


@pytest.mark.parametrize("version", VERSIONS)
def test_context_length_is_invalid_argument(louter, version):
    with pytest.raises(errors.ClientError) as caught:
        client(louter, version).models.generate_content(model="fake-context", contents="x")
    assert caught.value.code == 400
    assert caught.value.status == "INVALID_ARGUMENT"
    assert "context" in caught.value.message


@pytest.mark.parametrize("version", VERSIONS)
def test_deny_is_permission_denied(louter, version):
    with pytest.raises(errors.ClientError) as caught:
        client(louter, version).models.generate_content(model="forbidden-model", contents="x")
    assert caught.value.code == 403
    assert caught.value.status == "PERMISSION_DENIED"
    assert "reserved" in caught.value.message


@pytest.mark.parametrize("version", VERSIONS)
def test_fallback_to_the_next_backend(louter, version):
    response = client(louter, version).models.generate_content(model="fallback-model", contents="still answered")
    assert response.text == "still answered"
    headers = response.sdk_http_response.headers if response.sdk_http_response else {}
    assert headers.get("x-louter-backend") == "demo"
    assert headers.get("x-louter-route") == "fallback"


def get_weather(city: str) -> str:
    """Returns the weather in a city."""
    return f"sunny in {city}"


WEATHER_TOOL = types.Tool(function_declarations=[types.FunctionDeclaration(
    name="get_weather", description="Returns the weather in a city.",
    parameters=types.Schema(type="OBJECT", properties={"city": types.Schema(type="STRING")}, required=["city"]))])


@pytest.mark.parametrize("version", VERSIONS)
def test_function_calling_round_trip(louter, fake_backend, version):
    config = types.GenerateContentConfig(tools=[WEATHER_TOOL],
                                         automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True))
    response = client(louter, version).models.generate_content(model="fake-tools", contents="weather?", config=config)
    call = response.function_calls[0]
    assert call.name == "get_weather"
    assert call.args == {"city": "Paris"}
    sent = last_request(fake_backend)
    assert sent["tools"][0]["function"]["name"] == "get_weather"
    assert sent["tools"][0]["function"]["parameters"]["properties"]["city"]["type"] == "string"
    # Send the result back: the backend must get a tool message paired with the call's id.
    history = [types.Content(role="user", parts=[types.Part(text="weather?")]), response.candidates[0].content,
               types.Content(role="user", parts=[types.Part.from_function_response(
                   name="get_weather", response={"result": "sunny"})])]
    client(louter, version).models.generate_content(model="fake-echo", contents=history, config=config)
    messages = last_request(fake_backend)["messages"]
    assert messages[1]["role"] == "assistant" and messages[1]["tool_calls"][0]["id"] == "call_1"
    assert messages[2]["role"] == "tool" and messages[2]["tool_call_id"] == "call_1"


@pytest.mark.parametrize("version", VERSIONS)
def test_streamed_function_call_is_reassembled(louter, version):
    config = types.GenerateContentConfig(tools=[WEATHER_TOOL],
                                         automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True))
    chunks = list(client(louter, version).models.generate_content_stream(
        model="fake-tools", contents="weather?", config=config))
    calls = [call for chunk in chunks for call in (chunk.function_calls or [])]
    assert len(calls) == 1
    assert calls[0].args == {"city": "Paris"}


@pytest.mark.parametrize("version", VERSIONS)
def test_json_schema(louter, fake_backend, version):
    config = types.GenerateContentConfig(
        response_mime_type="application/json",
        response_schema=types.Schema(type="OBJECT", properties={"city": types.Schema(type="STRING"),
                                                                "temp": types.Schema(type="INTEGER")}))
    response = client(louter, version).models.generate_content(model="fake-json", contents="json please", config=config)
    assert json.loads(response.text) == {"city": "Paris", "temp": 21}
    sent = last_request(fake_backend)
    assert sent["response_format"]["type"] == "json_schema"
    assert sent["response_format"]["json_schema"]["schema"]["properties"]["temp"]["type"] == "integer"


@pytest.mark.parametrize("version", VERSIONS)
def test_image_part_becomes_a_data_url(louter, fake_backend, version):
    png = bytes.fromhex("89504e470d0a1a0a")
    contents = [types.Content(role="user", parts=[types.Part(text="what is this?"),
                                                  types.Part.from_bytes(data=png, mime_type="image/png")])]
    client(louter, version).models.generate_content(model="gemini-2.5-flash", contents=contents)
    parts = last_request(fake_backend)["messages"][-1]["content"]
    image = [p for p in parts if p["type"] == "image_url"][0]
    assert image["image_url"]["url"].startswith("data:image/png;base64,iVBORw0KGgo")


@pytest.mark.parametrize("version", VERSIONS)
def test_count_tokens_is_an_estimate(louter, version):
    response = client(louter, version).models.count_tokens(model="gemini-2.5-flash", contents="count these words please")
    assert response.total_tokens > 0


@pytest.mark.parametrize("version", VERSIONS)
def test_embed_content(louter, version):
    response = client(louter, version).models.embed_content(model="text-embedding", contents=["first", "second one"])
    assert len(response.embeddings) == 2
    assert response.embeddings[0].values == [5.0, 0.5, -0.25]
    assert response.embeddings[1].values[0] == 10.0


@pytest.mark.parametrize("version", VERSIONS)
def test_passthrough_to_a_gemini_backend(louter, version):
    response = client(louter, version).models.generate_content(
        model="via-gemini-1", contents="passed through", config=types.GenerateContentConfig(system_instruction="Hi."))
    assert response.text == "passed through"
    assert response.model_version == "upstream-model"
    headers = response.sdk_http_response.headers if response.sdk_http_response else {}
    assert headers.get("x-louter-route") == "passthrough"
    chunks = list(client(louter, version).models.generate_content_stream(model="via-gemini-2", contents="a b c"))
    assert "".join(c.text or "" for c in chunks) == "a b c"
    assert chunks[-1].usage_metadata.candidates_token_count == 3
