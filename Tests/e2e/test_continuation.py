"""Mid-stream continuation with the real google-genai SDK: a backend whose stream breaks after part of the
answer reached the client, a second backend (of either protocol) that continues it. The SDK must read one
whole answer with no error and no repeated text, and the second backend must have been sent the first
part as a trailing model (Gemini) or assistant (OpenAI) turn. Both fakes are raw sockets (rawpeers), not
louter's server.
"""
import json

import pytest
from google import genai
from google.genai import types

from rawpeers import gemini_stream, openai_chunk, openai_stream, sse_event, sse_head

ROUTES = """
version = 1

[server]
auth = "none"
request_log = "off"

[backends.cut]
protocol = "{cut_protocol}"
url = "http://127.0.0.1:{cut}"

[backends.rescue]
protocol = "{rescue_protocol}"
url = "http://127.0.0.1:{rescue}"

[[routes]]
backends = ["cut", "rescue"]
{extra}
"""


def cut_script(protocol):
    """Streams "The answer is" in two events, then closes the connection in the middle of a third (a close-delimited
    Gemini stream cut exactly between events cannot be told from a whole one)."""
    def script(connection, head, body):
        if protocol == "gemini":
            events = b"".join(
                sse_event({"candidates": [{"content": {"role": "model", "parts": [{"text": text}]}, "index": 0}]})
                for text in ("The answer", " is")) + b'data: {"candidates": [{"content": {"ro'
        else:
            events = sse_event(openai_chunk({"role": "assistant", "content": "The answer"})) + sse_event(
                openai_chunk({"content": " is"})) + b'data: {"id": "c", "obj'
        connection.send(sse_head() + events)
    return script


def rescue_script(protocol):
    def script(connection, head, body):
        if protocol == "gemini":
            connection.send(sse_head() + gemini_stream(" forty-two."))
            return
        usage = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m", "choices": [],
                 "usage": {"prompt_tokens": 9, "completion_tokens": 1, "total_tokens": 10}}
        stream = openai_stream(" forty-two.")
        done = stream.rindex(b"data: [DONE]")
        connection.send(sse_head() + stream[:done] + sse_event(usage) + stream[done:])
    return script


def client(port):
    return genai.Client(api_key="k", http_options=types.HttpOptions(
        base_url=f"http://127.0.0.1:{port}", api_version="v1beta"))


@pytest.mark.parametrize("cut_protocol", ["gemini", "openai"])
@pytest.mark.parametrize("rescue_protocol", ["gemini", "openai"])
def test_a_broken_stream_is_finished_by_the_next_backend(louter_serve, raw_peer, cut_protocol, rescue_protocol):
    cut = raw_peer(cut_script(cut_protocol))
    rescue = raw_peer(rescue_script(rescue_protocol))
    port = louter_serve(ROUTES.format(cut_protocol=cut_protocol, cut=cut.port, rescue_protocol=rescue_protocol,
                                      rescue=rescue.port, extra=""))
    sdk = client(port)
    chunks = list(sdk.models.generate_content_stream(model="m", contents="What is the answer?"))
    assert "".join(chunk.text or "" for chunk in chunks) == "The answer is forty-two."
    assert chunks[-1].candidates[0].finish_reason == types.FinishReason.STOP
    assert len(rescue.requests) == 1
    sent = json.loads(rescue.requests[0]["body"])
    if rescue_protocol == "gemini":
        assert sent["contents"][-1] == {"role": "model", "parts": [{"text": "The answer is"}]}
    else:
        assert sent["messages"][-1] == {"role": "assistant", "content": "The answer is"}


def test_without_continuation_the_sdk_sees_the_break(louter_serve, raw_peer):
    cut = raw_peer(cut_script("openai"))
    rescue = raw_peer(rescue_script("openai"))
    port = louter_serve(ROUTES.format(cut_protocol="openai", cut=cut.port, rescue_protocol="openai",
                                      rescue=rescue.port, extra="continue_on_break = false"))
    sdk = client(port)
    with pytest.raises(Exception) as raised:
        list(sdk.models.generate_content_stream(model="m", contents="What is the answer?"))
    assert "broke off the stream" in str(raised.value) or "503" in str(raised.value), raised.value
    assert rescue.requests == []


@pytest.mark.parametrize("cut_protocol", ["gemini", "openai"])
@pytest.mark.parametrize("rescue_protocol", ["gemini", "openai"])
def test_the_openai_front_continues_too(louter_serve, raw_peer, cut_protocol, rescue_protocol):
    from openai import OpenAI

    cut = raw_peer(cut_script(cut_protocol))
    rescue = raw_peer(rescue_script(rescue_protocol))
    port = louter_serve(ROUTES.format(cut_protocol=cut_protocol, cut=cut.port, rescue_protocol=rescue_protocol,
                                      rescue=rescue.port, extra=""))
    sdk = OpenAI(api_key="k", base_url=f"http://127.0.0.1:{port}/v1", max_retries=0)
    chunks = list(sdk.chat.completions.create(
        model="m", messages=[{"role": "user", "content": "What is the answer?"}], stream=True,
        stream_options={"include_usage": True}))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "The answer is forty-two."
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["stop"]
    usage = [c.usage for c in chunks if c.usage]
    # One usage for the whole answer: the rescue's 1 token and the first part's 4 ("The answer is", estimated).
    assert [u.completion_tokens for u in usage] == [5], usage
    sent = json.loads(rescue.requests[0]["body"])
    if rescue_protocol == "gemini":
        assert sent["contents"][-1] == {"role": "model", "parts": [{"text": "The answer is"}]}
    else:
        assert sent["messages"][-1] == {"role": "assistant", "content": "The answer is"}
