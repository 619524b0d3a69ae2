"""Shared test helper: an OpenAI-compatible chat server on 127.0.0.1 that behaves like a reasoning
model's endpoint: any ``temperature`` in the request gets HTTP 400 with the server's message."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

REJECTION = "Unsupported value: 'temperature' does not support 0 with this model. Only the default (1) value is supported."


class ReasoningServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, reply: str = "<judge>1</judge>"):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.reply, self.bodies, self.lock = reply, [], threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"

    def __enter__(self):
        threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.shutdown()
        self.server_close()


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with self.server.lock:
            self.server.bodies.append(body)
        if "temperature" in body:
            status, payload = 400, {"error": {"message": REJECTION, "type": "invalid_request_error"}}
        else:
            status = 200
            payload = {"choices": [{"message": {"role": "assistant", "content": self.server.reply},
                                    "finish_reason": "stop"}]}
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
