"""A client for OpenAI-compatible chat-completions servers (vLLM, SGLang, hosted APIs).

Chapter 01 (data curation) asks its quality judge through it and Chapter 08 (evaluation) its
open-question judge, so it lives below both. Written on ``urllib`` so it needs no extra
dependency: the request is one JSON POST, and what matters here -- retries with backoff on
429/5xx and timeouts, a concurrency bound, keys only from the environment -- is a few lines.
"""
from __future__ import annotations

import http.client
import json
import os
import random
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from infimed_lib.common import ParameterError


class JudgeError(RuntimeError):
    """A judge could not produce a reply (network, server or model failure).

    ``retryable`` tells a resumed assessment whether asking again may help. Chapter 01.
    """

    def __init__(self, message: str, retryable: bool = True, attempts: int = 1):
        super().__init__(message)
        self.retryable = retryable
        self.attempts = attempts


class RequestRejected(JudgeError):
    """The server refused the request as such: a non-retryable HTTP 4xx (400 for a parameter the
    model does not take, such as ``temperature`` for o3; 401, 403, 404). ``status`` is the HTTP
    code; the message carries the server's own words. Asking again gets the same answer, so a
    run stops on it instead of recording one error per sample. Chapters 01 and 08.
    """

    def __init__(self, message: str, status: int, attempts: int = 1):
        super().__init__(message, retryable=False, attempts=attempts)
        self.status = status



RETRY_STATUS = frozenset({408, 409, 425, 429}) | frozenset(range(500, 600))


@dataclass(frozen=True)
class ChatResult:
    text: str
    attempts: int
    latency_s: float
    usage: dict[str, Any] = field(default_factory=dict)
    finish_reason: str | None = None


def _endpoint(base_url: str) -> str:
    if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
        raise ParameterError("judge_base_url", f"expected an http(s) URL, got {base_url!r}")
    url = base_url.rstrip("/")
    return url if url.endswith("/chat/completions") else url + "/chat/completions"


def _message_text(body: Any) -> tuple[str, str | None, dict]:
    try:
        choice = body["choices"][0]
        content = choice["message"]["content"]
    except (KeyError, IndexError, TypeError):
        raise JudgeError(f"malformed chat-completions response: {str(body)[:200]}", retryable=False) from None
    if isinstance(content, list):  # some servers return content parts
        content = "".join(part.get("text", "") for part in content if isinstance(part, dict))
    if not isinstance(content, str):
        raise JudgeError(f"response content is {type(content).__name__}, not text", retryable=False)
    return content, choice.get("finish_reason"), body.get("usage") or {}


class ChatClient:
    """Chat completions with retries, exponential backoff and a bound on parallel requests.

    ``api_key_env`` names the environment variable that holds the key (papermill records
    parameters in executed notebooks, so a key must never be one); ``None`` or ``""`` sends no
    key, as local vLLM/SGLang servers expect. Retried: HTTP 408/409/425/429/5xx, timeouts and
    connection errors, up to ``max_retries`` times, waiting ``backoff_s * 2**k`` (jittered,
    capped at ``max_backoff_s``, at least a server's ``Retry-After``). Any other 4xx raises
    :class:`RequestRejected` with the server's message at once.
    ``temperature=None`` leaves the field out of the request: reasoning models (o1, o3) accept
    only their default and answer HTTP 400 to any value. Chapter 01.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key_env: str | None = "OPENAI_API_KEY",
        timeout_s: float = 120.0,
        max_retries: int = 4,
        backoff_s: float = 1.0,
        max_backoff_s: float = 60.0,
        max_concurrency: int = 8,
        temperature: float | None = 0.0,
        max_tokens: int | None = None,
        extra_body: Mapping[str, Any] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.url = _endpoint(base_url)
        if not isinstance(model, str) or not model:
            raise ParameterError("judge_model", "is empty; name the served model")
        for name, value in (("judge_timeout_s", timeout_s), ("backoff_s", backoff_s), ("max_backoff_s", max_backoff_s)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise ParameterError(name, f"must be a positive number, got {value!r}")
        if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
            raise ParameterError("judge_max_retries", f"must be an integer >= 0, got {max_retries!r}")
        if not isinstance(max_concurrency, int) or max_concurrency < 1:
            raise ParameterError("concurrency", f"must be an integer >= 1, got {max_concurrency!r}")
        if temperature is not None and (isinstance(temperature, bool) or not isinstance(temperature, (int, float))
                                        or temperature < 0):
            raise ParameterError("judge_temperature", f"must be a number >= 0, or None to leave it out; got {temperature!r}")
        self._key = None
        if api_key_env:
            self._key = os.environ.get(api_key_env)
            if not self._key:
                raise ParameterError(
                    "judge_api_key_env",
                    f"environment variable {api_key_env} is not set; export it, or pass an empty "
                    "name for a server that needs no key",
                )
        self.model, self.timeout_s, self.max_retries = model, float(timeout_s), max_retries
        self.backoff_s, self.max_backoff_s = float(backoff_s), float(max_backoff_s)
        self.max_concurrency = max_concurrency
        self.temperature, self.max_tokens = temperature, max_tokens
        self.extra_body = dict(extra_body or {})
        self._gate = threading.BoundedSemaphore(max_concurrency)
        self._sleep = sleep

    def __repr__(self) -> str:  # never shows the key
        return f"ChatClient(url={self.url!r}, model={self.model!r})"

    def _post(self, payload: bytes) -> Any:
        headers = {"Content-Type": "application/json"}
        if self._key:
            headers["Authorization"] = f"Bearer {self._key}"
        request = urllib.request.Request(self.url, data=payload, headers=headers, method="POST")
        with self._gate, urllib.request.urlopen(request, timeout=self.timeout_s) as response:
            raw = response.read()
        try:
            return json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise JudgeError(f"response is not JSON: {raw[:200]!r}", retryable=False) from None

    def _wait(self, attempt: int, retry_after: str | None) -> None:
        delay = min(self.max_backoff_s, self.backoff_s * 2 ** (attempt - 1))
        delay *= random.uniform(0.5, 1.0)  # jitter: parallel workers should not retry in lockstep
        if retry_after:
            try:
                delay = max(delay, min(float(retry_after), self.max_backoff_s))
            except ValueError:
                pass
        self._sleep(delay)

    def chat(self, messages: list[dict[str, Any]]) -> ChatResult:
        """Send ``messages``; return the first choice's text or raise :class:`JudgeError`. Chapter 01."""
        body: dict[str, Any] = {"model": self.model, "messages": messages, **self.extra_body}
        if self.temperature is not None:
            body["temperature"] = self.temperature
        if self.max_tokens is not None:
            body["max_tokens"] = self.max_tokens
        payload = json.dumps(body).encode("utf-8")
        start = time.perf_counter()
        for attempt in range(1, self.max_retries + 2):
            retry_after, problem = None, ""
            try:
                text, finish, usage = _message_text(self._post(payload))
                return ChatResult(text, attempt, time.perf_counter() - start, usage, finish)
            except urllib.error.HTTPError as error:
                detail = error.read()[:500].decode("utf-8", "replace")
                problem = f"HTTP {error.code} from {self.url}: {detail}"
                if 400 <= error.code < 500 and error.code not in RETRY_STATUS:
                    raise RequestRejected(problem, error.code, attempts=attempt) from None
                if error.code not in RETRY_STATUS:
                    raise JudgeError(problem, retryable=False, attempts=attempt) from None
                retry_after = error.headers.get("Retry-After") if error.headers else None
            except TimeoutError as error:
                problem = f"timed out after {self.timeout_s:g} s ({error})"
            except urllib.error.URLError as error:
                if isinstance(error.reason, TimeoutError):
                    problem = f"timed out after {self.timeout_s:g} s connecting to {self.url}"
                else:
                    problem = f"cannot reach {self.url}: {error.reason}"
            except (ConnectionError, http.client.HTTPException) as error:
                problem = f"connection failed: {error!r}"
            except JudgeError as error:
                error.attempts = attempt
                raise
            if attempt <= self.max_retries:
                self._wait(attempt, retry_after)
        raise JudgeError(f"gave up after {attempt} attempts: {problem}", retryable=True, attempts=attempt)
