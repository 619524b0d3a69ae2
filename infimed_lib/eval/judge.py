"""An LLM judge for open-ended answers over an OpenAI-compatible endpoint (MedEvalKit's scheme).

Chapter 08 (evaluation) explains when the judge is used: only for open questions, and only
when a judge endpoint is configured; closed questions always keep their rule-based verdicts.
The judge sees the question, the reference answer and the model's answer and replies
``<judge>1</judge>`` (correct) or ``<judge>0</judge>``, as MedEvalKit asks its judge to.
The HTTP work (retries, backoff, the API key read from an environment variable) is the
data package's :class:`~infimed_lib.data.chat_client.ChatClient`, which chapter 01's quality judge
also uses.
"""
from __future__ import annotations

import re
import threading

from infimed_lib.common import ParameterError
from infimed_lib.data.chat_client import ChatClient, JudgeError, RequestRejected

JUDGE_PROMPT = """You grade answers to medical visual question answering.
Decide whether the model's answer means the same as the reference answer for this question.
Ignore differences in wording, case, punctuation and extra words that do not change the meaning.
An answer that hedges between several possibilities, or contradicts the reference, is wrong.

Question: {question}
Reference answer: {gold}
Model answer: {answer}

Reply with <judge>1</judge> if the model's answer is correct and <judge>0</judge> if it is not."""

_VERDICT = re.compile(r"<judge>\s*([01])\s*</judge>", re.I)


def parse_judge_reply(text: str) -> bool | None:
    """True/False from a ``<judge>1</judge>`` / ``<judge>0</judge>`` reply; None if absent or contradictory."""
    found = {match.group(1) for match in _VERDICT.finditer(str(text))}
    if len(found) != 1:
        return None
    return found.pop() == "1"


class JudgeRejected(RuntimeError):
    """The judge's server refused a request (HTTP 4xx): the evaluation stops once, with its message."""


class LLMJudge:
    """``judge(question, answer, gold) -> bool | None`` backed by a chat client (Chapter 08).

    A failed request (network, 5xx after retries) or an unreadable reply gives None (the scorer
    then keeps the rule's verdict) and is counted in ``failures``, which the evaluation reports
    beside its scores. A request the server refuses as such (a non-retryable 4xx: a bad key, an
    unknown model, ``temperature`` sent to a reasoning model) raises :class:`JudgeRejected` with
    the server's message, and every later call raises it again without asking: the prompts are
    alike, so every item would fail the same way.
    """

    def __init__(self, client, judge_id: str | None = None):
        if not hasattr(client, "chat"):
            raise ParameterError("client", "expected an object with a chat(messages) method (ChatClient)")
        self.client = client
        self.judge_id = judge_id or f"openai:{getattr(client, 'model', 'unknown')}"
        self.calls = 0
        self.failures = 0
        self.rejected: JudgeRejected | None = None
        self._lock = threading.Lock()

    def __call__(self, question: str, answer: str, gold: str) -> bool | None:
        if self.rejected is not None:
            raise self.rejected
        prompt = JUDGE_PROMPT.format(question=question.strip(), gold=str(gold).strip(), answer=answer.strip())
        verdict = None
        try:
            verdict = parse_judge_reply(self.client.chat([{"role": "user", "content": prompt}]).text)
        except RequestRejected as error:
            with self._lock:
                if self.rejected is None:
                    self.rejected = JudgeRejected(
                        f"judge {self.judge_id} rejected the request: {error}. Fix the judge settings (a "
                        "reasoning model such as o3 needs judge_temperature=None) or run without a judge.")
            raise self.rejected from None
        except JudgeError:
            verdict = None
        with self._lock:
            self.calls += 1
            self.failures += verdict is None
        return verdict

    def stats(self) -> dict:
        return {"judge_id": self.judge_id, "calls": self.calls, "failures": self.failures}


def make_open_judge(base_url: str, model: str, api_key_env: str = "OPENAI_API_KEY", temperature: float | None = 0.0,
               **client_options) -> LLMJudge | None:
    """The open-question judge for the notebooks' ``judge_*`` parameters; None when ``base_url`` is "" (Chapter 08).

    The key is read from the environment variable named ``api_key_env`` (never a parameter:
    papermill writes parameters into the executed notebook); "" sends no key (local servers).
    ``temperature=None`` leaves the field out of the request, as reasoning models (o1, o3)
    require; other ``client_options`` go to :class:`~infimed_lib.data.chat_client.ChatClient`.
    """
    if not isinstance(base_url, str):
        raise ParameterError("judge_base_url", f"expected a URL string or \"\", got {base_url!r}")
    if base_url == "":
        return None
    client = ChatClient(base_url, model, api_key_env=api_key_env or None, temperature=temperature, **client_options)
    return LLMJudge(client, judge_id=f"openai:{model}@{base_url}")
