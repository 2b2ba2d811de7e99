"""A fake OpenAI-compatible chat-completions server for louter's end-to-end tests.

Listens on 127.0.0.1 only. The model name picks the behaviour:
  anything            echo the last user message (streamed word by word when asked)
  fake-tools          answer with a get_weather tool call (fragmented when streamed)
  fake-json           answer {"city": "Paris", "temp": 21}
  fake-500 / fake-429 / fake-503   fail with that status
  fake-context        400 context_length_exceeded
GET /_last returns the last chat request body it received; GET /_count the number of requests.
"""
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LAST = {"body": None}
COUNT = {"n": 0}
LOCK = threading.Lock()


def last_user_text(messages):
    for message in reversed(messages):
        if message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, str):
                return content
            if isinstance(content, list):
                return "".join(p.get("text", "") for p in content if p.get("type") == "text")
    return ""


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send_json(self, status, obj, headers=()):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/_last":
            self.send_json(200, LAST["body"] or {})
        elif self.path == "/_count":
            self.send_json(200, {"count": COUNT["n"]})
        else:
            self.send_json(404, {"error": {"message": "not found", "type": "invalid_request_error"}})

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = json.loads(self.rfile.read(length) or b"{}")
        with LOCK:
            COUNT["n"] += 1
            if self.path.endswith("/chat/completions"):
                LAST["body"] = body
        if self.path.endswith("/embeddings"):
            inputs = body.get("input")
            inputs = [inputs] if isinstance(inputs, str) else inputs
            data = [{"object": "embedding", "index": i, "embedding": [float(len(t)), 0.5, -0.25]} for i, t in enumerate(inputs)]
            return self.send_json(200, {"object": "list", "model": body.get("model"), "data": data,
                                        "usage": {"prompt_tokens": 3, "total_tokens": 3}})
        if not self.path.endswith("/chat/completions"):
            return self.send_json(404, {"error": {"message": "no such path", "type": "invalid_request_error"}})
        model = body.get("model", "")
        for code in (500, 429, 503):
            if model == f"fake-{code}":
                headers = [("Retry-After", "1")] if code == 429 else []
                return self.send_json(code, {"error": {"message": f"fake failure {code}", "type": "server_error", "code": None}}, headers)
        if model == "fake-context":
            return self.send_json(400, {"error": {"message": "This model's maximum context length is 8 tokens.",
                                                  "type": "invalid_request_error", "code": "context_length_exceeded"}})
        text = last_user_text(body.get("messages", []))
        usage = {"prompt_tokens": 7, "completion_tokens": 5, "total_tokens": 12}
        if body.get("stream"):
            return self.stream(model, text, usage, body)
        message = {"role": "assistant", "content": text}
        finish = "stop"
        if model == "fake-tools":
            message = {"role": "assistant", "content": None, "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]}
            finish = "tool_calls"
        elif model == "fake-json":
            message = {"role": "assistant", "content": "{\"city\": \"Paris\", \"temp\": 21}"}
        self.send_json(200, {"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": model,
                             "choices": [{"index": 0, "message": message, "finish_reason": finish}], "usage": usage})

    def stream(self, model, text, usage, body):
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

        def event(obj):
            payload = b"data: " + (obj if isinstance(obj, bytes) else json.dumps(obj).encode()) + b"\n\n"
            self.wfile.write(b"%x\r\n%s\r\n" % (len(payload), payload))
            self.wfile.flush()

        def chunk(delta, finish=None):
            return {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": model,
                    "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

        event(chunk({"role": "assistant", "content": ""}))
        if model == "fake-tools":
            event(chunk({"tool_calls": [{"index": 0, "id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": ""}}]}))
            event(chunk({"tool_calls": [{"index": 0, "function": {"arguments": "{\"city\":\"Pa"}}]}))
            event(chunk({"tool_calls": [{"index": 0, "function": {"arguments": "ris\"}"}}]}))
            event(chunk({}, "tool_calls"))
        else:
            words = text.split(" ")
            for i, word in enumerate(words):
                event(chunk({"content": word if i == 0 else " " + word}))
            event(chunk({}, "stop"))
        if (body.get("stream_options") or {}).get("include_usage"):
            event({"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": model, "choices": [], "usage": usage})
        event(b"[DONE]")
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
