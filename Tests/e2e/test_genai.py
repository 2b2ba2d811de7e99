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
