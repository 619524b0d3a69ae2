"""The judge protocol shared by every quality judge, and the local ``transformers`` judge.

Chapter 01 (data curation) compares the three judges: an OpenAI-compatible endpoint
(``openai_client``), a local causal LM (here), and the offline reference rules
(``reference_judge``).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Protocol, runtime_checkable

from infimed_lib.common import ParameterError
from infimed_lib.common import require_path
from infimed_lib.data.chat_client import JudgeError, RequestRejected
from infimed_lib.data.images import image_to_data_url

__all__ = ["Judge", "JudgeError", "JudgeReply", "RequestRejected", "TransformersJudge", "image_data_url", "resolve_image_ref"]


@dataclass(frozen=True)
class JudgeReply:
    """What a judge said: the raw text (parsed later by ``parse_judgement``) and bookkeeping. Chapter 01."""

    text: str
    attempts: int = 1
    latency_s: float = 0.0
    usage: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class Judge(Protocol):
    """One quality judge. ``judge_id`` names judge and model (it is part of the cache key);
    ``takes_images`` says whether images travel with the prompt; ``max_concurrency`` bounds the
    assessment's worker threads. Chapter 01."""

    judge_id: str
    takes_images: bool
    max_concurrency: int

    def judge(self, sample: Mapping[str, Any], prompt: str, images: list[str]) -> JudgeReply:
        """``images`` are resolved references (absolute paths or data URLs), in order."""
        ...


def resolve_image_ref(ref: str, root: str | Path | None) -> str:
    """An image reference from a sample as an absolute path or an untouched data URL. Chapter 01."""
    if ref.startswith("data:"):
        return ref
    path = Path(ref)
    if not path.is_absolute() and root is not None:
        path = Path(root) / path
    return str(path)


def image_data_url(ref: str) -> str:
    """An image file (or a data URL, passed through untouched) as a ``data:image/png;base64``
    URL, through the data package's encoder so every step sends images alike. Chapter 01."""
    if ref.startswith("data:"):
        return ref
    return image_to_data_url(ref)


class TransformersJudge:
    """A local ``transformers`` causal LM as judge: chat template, greedy decoding.

    Text-only: images are described in the prompt, not shown (``takes_images = False``).
    ``model_path`` is a local folder (nothing is downloaded); ``chat_template_kwargs`` reach
    the template (e.g. ``{"enable_thinking": False}`` for Qwen3). Chapter 01.
    """

    takes_images = False

    def __init__(
        self,
        model_path: str | Path,
        max_new_tokens: int = 512,
        device: str = "auto",
        dtype: str = "auto",
        chat_template_kwargs: Mapping[str, Any] | None = None,
    ):
        import torch  # heavy, and only the local-model judge needs them
        from transformers import AutoModelForCausalLM, AutoTokenizer

        path = require_path("judge_model", model_path, kind="dir")
        if max_new_tokens < 1:
            raise ParameterError("max_new_tokens", f"must be >= 1, got {max_new_tokens}")
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.device = device
        self.tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        self.model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype, local_files_only=True)
        self.model.to(device).eval()
        self.max_new_tokens = max_new_tokens
        self.chat_template_kwargs = dict(chat_template_kwargs or {})
        self.judge_id = f"hf:{path.resolve().name}"
        # One forward pass at a time: a single model instance is not worth threading over.
        self.max_concurrency = 1

    def _input_ids(self, prompt: str):
        if self.tokenizer.chat_template:
            return self.tokenizer.apply_chat_template(
                [{"role": "user", "content": prompt}],
                add_generation_prompt=True,
                return_tensors="pt",
                return_dict=True,
                **self.chat_template_kwargs,
            )["input_ids"]
        # Base models without a template get the bare prompt.
        return self.tokenizer(prompt, return_tensors="pt")["input_ids"]

    def judge(self, sample: Mapping[str, Any], prompt: str, images: list[str]) -> JudgeReply:
        import torch

        start = time.perf_counter()
        input_ids = self._input_ids(prompt).to(self.device)
        pad_id = self.tokenizer.pad_token_id
        if pad_id is None:
            pad_id = self.tokenizer.eos_token_id
        try:
            with torch.no_grad():
                output = self.model.generate(
                    input_ids,
                    attention_mask=torch.ones_like(input_ids),
                    max_new_tokens=self.max_new_tokens,
                    do_sample=False,
                    pad_token_id=pad_id,
                )
        except RuntimeError as error:  # e.g. out of memory: record it, keep the run going
            raise JudgeError(f"generation failed: {error}", retryable=True) from error
        new_tokens = output[0, input_ids.shape[1] :]
        text = self.tokenizer.decode(new_tokens, skip_special_tokens=True)
        usage = {"prompt_tokens": int(input_ids.shape[1]), "completion_tokens": int(new_tokens.shape[0])}
        return JudgeReply(text=text, latency_s=time.perf_counter() - start, usage=usage)
