"""The A.2 quality judge behind an OpenAI-compatible endpoint (Chapter 01, data curation).

The HTTP work (retries, backoff, the key from the environment) is :class:`~infimed_lib.data.chat_client.ChatClient`,
which chapter 08's open-question judge shares.
"""
from __future__ import annotations

from typing import Any, Mapping

from infimed_lib.curation.judges import JudgeReply, image_data_url
from infimed_lib.data.chat_client import ChatClient, ChatResult, JudgeError

__all__ = ["ChatClient", "ChatResult", "OpenAIJudge"]


class OpenAIJudge:
    """The A.2 judge behind an OpenAI-compatible endpoint; images go as data URLs.

    ``send_images=False`` serves text-only models: the prompt then says that the images exist
    but are not shown. Chapter 01.
    """

    def __init__(self, client: ChatClient, send_images: bool = True):
        self.client = client
        self.takes_images = bool(send_images)
        self.max_concurrency = client.max_concurrency
        self.judge_id = f"openai:{client.model}" + ("" if send_images else "+text-only")

    def judge(self, sample: Mapping[str, Any], prompt: str, images: list[str]) -> JudgeReply:
        if self.takes_images and images:
            try:
                urls = [image_data_url(ref) for ref in images]
            except (OSError, ValueError) as error:
                raise JudgeError(f"cannot attach image: {error}", retryable=False) from None
            content: Any = [{"type": "text", "text": prompt}]
            content += [{"type": "image_url", "image_url": {"url": url}} for url in urls]
        else:
            content = prompt
        result = self.client.chat([{"role": "user", "content": content}])
        usage = dict(result.usage)
        if result.finish_reason:
            usage["finish_reason"] = result.finish_reason
        return JudgeReply(result.text, attempts=result.attempts, latency_s=result.latency_s, usage=usage)
