"""Sampling through vLLM for the paper profile (``rollout_engine="vllm"``); optional, GPU only.

vLLM knows Qwen3 but not our vision-language model, and it would need a `transformers`
processor class to place image features itself. So vLLM serves only the policy's *language
model* (a plain ``Qwen3ForCausalLM``, saved once into ``<output_dir>/vllm_lm``) and receives each
prompt as embeddings (``prompt_embeds``): our model's own token embeddings with the projected
image features written in (``model.embed``). After every optimizer update the language model's
weights are copied into the engine in place, as TRL's colocated mode does. Everything else in the
step (rewards, log-probs, updates) is unchanged: the answers' token ids come back and are scored
by our model exactly like answers sampled with ``generate``.

vLLM's sampler state is not part of the checkpoints, so a resumed run samples other answers than
an uninterrupted one would (with ``generate`` it repeats them exactly). Not exercised by the
tests or the default book (no GPU, no vLLM there); it needs a vLLM version that accepts
``prompt_embeds`` (``enable_prompt_embeds=True``) and exposes the driver worker's model
(``llm_engine.model_executor.driver_worker.model_runner.model``), as vLLM 0.10-0.11 do.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from infimed_lib.common import ParameterError


def require_vllm():
    """The ``vllm`` module, or one clear error saying how to get it."""
    try:
        import vllm  # optional extra: vLLM is installed only for GPU rollouts
    except ImportError:
        raise ParameterError("rollout_engine", "vllm is not installed; pip install vllm on a GPU machine, "
                             "or use rollout_engine='transformers'") from None
    return vllm


class VLLMSampler:
    """A colocated vLLM engine sampling for one process's share of each GRPO step (Chapter 10)."""

    def __init__(self, policy, tokenizer, output_dir: str | Path, seed: int, memory_share: float = 0.3):
        vllm = require_vllm()
        if not torch.cuda.is_available():
            raise ParameterError("rollout_engine", "vllm samples on a GPU; this machine has none")
        folder = Path(output_dir) / "vllm_lm"
        policy.language_model.save_pretrained(folder)
        tokenizer.save_pretrained(folder)
        self.llm = vllm.LLM(model=str(folder), enable_prompt_embeds=True, gpu_memory_utilization=memory_share,
                            seed=seed, dtype=str(next(policy.parameters()).dtype).removeprefix("torch."),
                            distributed_executor_backend="external_launcher")
        self.sampling = vllm.SamplingParams

    def sample(self, embeddings: Sequence[torch.Tensor], group_size: int, *, max_new_tokens: int,
               temperature: float, top_p: float, stops: Sequence[int]) -> list[list[int]]:
        """``group_size`` answers (token ids, stop token kept) per prompt embedding, groups contiguous."""
        params = self.sampling(n=group_size, temperature=temperature, top_p=top_p, max_tokens=max_new_tokens,
                               stop_token_ids=list(stops))
        outputs = self.llm.generate([{"prompt_embeds": e.detach().cpu()} for e in embeddings], params, use_tqdm=False)
        return [list(answer.token_ids) for output in outputs for answer in output.outputs]

    def sync(self, policy) -> None:
        """Copy the policy's language-model weights into the engine (after each optimizer update)."""
        engine_model = self.llm.llm_engine.model_executor.driver_worker.model_runner.model
        for name, parameter in policy.language_model.named_parameters():
            engine_model.load_weights([(name, parameter.data)])
        self.llm.reset_prefix_cache()
