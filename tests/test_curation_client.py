"""The OpenAI-compatible judge client against a real chat-completions server on 127.0.0.1,
and the assessment run's per-sample errors, cache and resume over that server."""
import base64
import io
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from PIL import Image

from infimed_lib.common import ParameterError, read_jsonl
from infimed_lib.curation.assess import JudgeRejectedError, JudgementCache, assess
from infimed_lib.curation.openai_client import OpenAIJudge
from infimed_lib.data.chat_client import ChatClient, JudgeError, RequestRejected

GOOD_REPLY = json.dumps({k: {"score": 4, "comment": "ok"} for k in (
    "Medical Information Accuracy", "Language Clarity and Fluency", "Dialogue Completeness",
    "Medical Imaging Relevance", "Practicality", "Overall")})


class ChatServer(ThreadingHTTPServer):
    """Speaks POST /v1/chat/completions. Replies follow ``script`` (one action per request, then
    "good"), or a marker in the prompt: MALFORMED -> unparseable text, FAIL -> HTTP 500."""

    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), Handler)
        self.script, self.requests, self.lock = [], [], threading.Lock()
        self.in_flight = self.max_in_flight = 0

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server_address[1]}/v1"


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def _send(self, status, body, headers=()):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        server = self.server
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with server.lock:
            server.requests.append({"path": self.path, "body": body, "auth": self.headers.get("Authorization")})
            action = server.script.pop(0) if server.script else ("good",)
            server.in_flight += 1
            server.max_in_flight = max(server.max_in_flight, server.in_flight)
        content = body["messages"][0]["content"]
        prompt = content if isinstance(content, str) else content[0]["text"]
        if "MALFORMED" in prompt:
            action = ("text", "The sample looks fine, I would give it a 4.")
        elif "FAIL" in prompt:
            action = ("status", 500)
        try:
            time.sleep(0.05)  # long enough for parallel requests to overlap
            kind = action[0]
            if kind == "slow":
                time.sleep(action[1])
                action = ("good",)
                kind = "good"
            if kind == "status":
                self._send(action[1], '{"error": "busy"}', action[2] if len(action) > 2 else ())
            elif kind == "garbage":
                self._send(200, "<html>gateway</html>")
            else:
                text = GOOD_REPLY if kind == "good" else action[1]
                reply = {"choices": [{"message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                         "usage": {"prompt_tokens": 10, "completion_tokens": 5}}
                self._send(200, json.dumps(reply))
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client timed out and went away
        finally:
            with server.lock:
                server.in_flight -= 1


@pytest.fixture()
def server():
    srv = ChatServer()
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def client(server, **kwargs):
    options = dict(api_key_env=None, timeout_s=2.0, max_retries=3, backoff_s=0.01, max_backoff_s=0.05)
    options.update(kwargs)
    return ChatClient(server.url, "judge-model", **options)


def test_good_reply_and_request_shape(server, monkeypatch):
    monkeypatch.setenv("TEST_JUDGE_KEY", "sk-secret")
    result = client(server, api_key_env="TEST_JUDGE_KEY").chat([{"role": "user", "content": "hi"}])
    assert result.text == GOOD_REPLY and result.attempts == 1 and result.usage["completion_tokens"] == 5
    (request,) = server.requests
    assert request["path"] == "/v1/chat/completions"
    assert request["auth"] == "Bearer sk-secret"
    assert request["body"]["model"] == "judge-model" and request["body"]["temperature"] == 0.0


def test_key_only_from_environment(server, monkeypatch):
    monkeypatch.delenv("TEST_JUDGE_KEY", raising=False)
    with pytest.raises(ParameterError, match="judge_api_key_env.*TEST_JUDGE_KEY is not set"):
        client(server, api_key_env="TEST_JUDGE_KEY")
    monkeypatch.setenv("TEST_JUDGE_KEY", "sk-secret")
    assert "sk-secret" not in repr(client(server, api_key_env="TEST_JUDGE_KEY"))
    with pytest.raises(ParameterError, match="judge_base_url"):
        ChatClient("localhost:8000", "m", api_key_env=None)


def test_retries_429_and_5xx_with_growing_backoff(server):
    waits = []
    server.script = [("status", 429), ("status", 503), ("status", 500)]
    result = client(server, sleep=waits.append, backoff_s=1.0, max_backoff_s=100).chat([{"role": "user", "content": "x"}])
    assert result.attempts == 4 and len(server.requests) == 4
    assert len(waits) == 3 and 0.5 <= waits[0] <= 1.0 and 1.0 <= waits[1] <= 2.0 and 2.0 <= waits[2] <= 4.0


def test_retry_after_header_is_honoured(server):
    waits = []
    server.script = [("status", 429, [("Retry-After", "3")])]
    client(server, sleep=waits.append, backoff_s=0.01, max_backoff_s=10).chat([{"role": "user", "content": "x"}])
    assert waits == [3.0]


def test_gives_up_after_max_retries(server):
    server.script = [("status", 500)] * 10
    with pytest.raises(JudgeError, match="gave up after 3 attempts: HTTP 500") as info:
        client(server, max_retries=2).chat([{"role": "user", "content": "x"}])
    assert info.value.retryable and len(server.requests) == 3


def test_client_errors_are_not_retried(server):
    server.script = [("status", 401)]
    with pytest.raises(RequestRejected, match="HTTP 401") as info:
        client(server).chat([{"role": "user", "content": "x"}])
    assert not info.value.retryable and info.value.status == 401 and len(server.requests) == 1
    assert isinstance(info.value, JudgeError)


def test_temperature_can_be_left_out(server):
    client(server, temperature=None).chat([{"role": "user", "content": "x"}])
    client(server, temperature=0.7).chat([{"role": "user", "content": "x"}])
    assert "temperature" not in server.requests[0]["body"] and server.requests[1]["body"]["temperature"] == 0.7
    with pytest.raises(ParameterError, match="judge_temperature"):
        client(server, temperature=-0.5)


def test_a_rejected_first_request_fails_the_assessment_once(server, tmp_path):
    server.script = [("status", 400)] * 10
    judge = OpenAIJudge(client(server, max_concurrency=1))
    with pytest.raises(JudgeRejectedError, match="rejected the first request.*HTTP 400.*busy"):
        assess([sample(i) for i in range(5)], judge, tmp_path / "c.jsonl", progress=False)
    cache = tmp_path / "c.jsonl"
    assert len(server.requests) == 1 and (not cache.exists() or read_jsonl(cache) == [])  # nothing journaled


def test_a_rejection_after_an_answer_is_recorded_for_its_sample(server, tmp_path):
    server.script = [("good",), ("status", 400)]
    judge = OpenAIJudge(client(server, max_concurrency=1))
    records = assess([sample(i) for i in range(3)], judge, tmp_path / "c.jsonl", progress=False)
    assert [r["status"] for r in records] == ["ok", "request_error", "ok"]
    assert records[1]["rejected_status"] == 400 and "HTTP 400" in records[1]["error"]


def test_non_json_body_is_an_error(server):
    server.script = [("garbage",)]
    with pytest.raises(JudgeError, match="not JSON"):
        client(server).chat([{"role": "user", "content": "x"}])


def test_timeout_then_retry(server):
    server.script = [("slow", 1.5)]
    start = time.perf_counter()
    result = client(server, timeout_s=0.5).chat([{"role": "user", "content": "x"}])
    assert result.attempts == 2 and time.perf_counter() - start < 1.5
    server.script = [("slow", 1.5)] * 3
    with pytest.raises(JudgeError, match="timed out"):
        client(server, timeout_s=0.3, max_retries=1).chat([{"role": "user", "content": "x"}])


def sample(i, text="Is there a lesion?", images=()):
    return {"id": f"s{i:02d}", "source": "src", "kind": "vqa", "images": list(images),
            "conversations": [{"from": "human", "value": ("<image>\n" if images else "") + text},
                              {"from": "gpt", "value": "yes"}]}


def test_images_travel_as_data_urls(server, tmp_path):
    png = tmp_path / "img.png"
    Image.new("RGB", (8, 8), (200, 30, 60)).save(png)
    judge = OpenAIJudge(client(server))
    (record,) = assess([sample(0, images=["img.png"])], judge, tmp_path / "c.jsonl", corpus_root=tmp_path, progress=False)
    content = server.requests[0]["body"]["messages"][0]["content"]
    assert content[0]["type"] == "text" and "[image 1]" in content[0]["text"]
    url = content[1]["image_url"]["url"]
    assert url.startswith("data:image/png;base64,")
    sent = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
    assert sent.size == (8, 8) and sent.convert("RGB").getpixel((3, 3)) == (200, 30, 60)
    assert record["status"] == "ok" and record["scores"]["Medical Imaging Relevance"] == 4


def test_assessment_records_failures_per_sample_and_bounds_concurrency(server, tmp_path):
    samples = [sample(i) for i in range(6)] + [sample(6, "MALFORMED?"), sample(7, "FAIL?")]
    judge = OpenAIJudge(client(server, max_concurrency=2, max_retries=1))
    records = assess(samples, judge, tmp_path / "cache.jsonl", concurrency=8, progress=False)
    assert [r["sample_id"] for r in records] == [s["id"] for s in samples]
    assert [r["status"] for r in records] == ["ok"] * 6 + ["parse_error", "request_error"]
    assert "no JSON object" in records[6]["error"] and records[6]["raw"].startswith("The sample")
    assert "HTTP 500" in records[7]["error"] and records[7]["attempts"] == 2
    # A text-only sample gets imaging 1 by the A.2 rule, whatever the judge said.
    assert records[0]["scores"]["Medical Imaging Relevance"] == 1 and records[0]["no_image_rule_applied"]
    assert server.max_in_flight == 2


class Interrupting:
    """Wraps a judge; raises KeyboardInterrupt (like Ctrl-C) on call number ``after`` + 1."""

    def __init__(self, inner, after, workers):
        self.inner, self.after, self.calls, self.lock = inner, after, 0, threading.Lock()
        self.judge_id, self.takes_images, self.max_concurrency = inner.judge_id, inner.takes_images, workers

    def judge(self, sample, prompt, images):
        with self.lock:
            self.calls += 1
            stop = self.calls > self.after
        if stop:
            raise KeyboardInterrupt
        return self.inner.judge(sample, prompt, images)


@pytest.mark.parametrize("workers", [1, 3])
def test_interrupted_assessment_resumes_without_asking_again(server, tmp_path, workers):
    samples = [sample(i) for i in range(8)] + [sample(8, "FAIL?"), sample(9, "MALFORMED?")]
    cache = tmp_path / "cache.jsonl"
    judge = OpenAIJudge(client(server, max_retries=0))
    with pytest.raises(KeyboardInterrupt):
        assess(samples[:8], Interrupting(judge, 5, workers), cache, concurrency=workers, progress=False)
    journaled, asked = len(read_jsonl(cache)), len(server.requests)
    # Sequentially, every answer is journaled; with threads, at most the ones in flight are lost.
    assert journaled == asked == 5 if workers == 1 else 0 < journaled <= asked <= 5
    with open(cache, "a") as handle:
        handle.write('{"key": "torn')  # a crash mid-line must not poison the cache
    records = assess(samples, judge, cache, progress=False)
    assert len(server.requests) == asked + 10 - journaled  # only never-journaled samples were asked
    assert [r["status"] for r in records] == ["ok"] * 8 + ["request_error", "parse_error"]
    assert JudgementCache(cache).torn_lines == 1
    # Resume again: request errors are asked again, parse errors are kept.
    before = len(server.requests)
    assess(samples, judge, cache, progress=False)
    assert len(server.requests) == before + 1 and "FAIL?" in server.requests[-1]["body"]["messages"][0]["content"]
    # A changed prompt is a new cache key: nothing old is reused.
    assess(samples[:3], judge, cache, template="Rate this, JSON only: {s}", progress=False)
    assert len(server.requests) == before + 4
