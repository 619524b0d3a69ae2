"""infimed_lib.rl: reinforcement learning with verifiable rewards (GRPO) after SFT. Chapter 10.

Notebook-facing API::

    tasks = corpus_tasks(corpus_dir, per_source=200)       # closed questions of the training split
    write_tasks(run_dir / "rl" / "tasks.jsonl", tasks)
    config = RLConfig(output_dir=..., init_from=..., tokenizer_path=..., tasks_path=..., image_root=corpus_dir)
    result = run_grpo(config, resume=True)                 # -> RLResult(checkpoint_dir, metrics_path, summary)

Why not TRL: ``trl`` 1.16's ``GRPOTrainer`` drives vision-language models only through a
`transformers` ``ProcessorMixin`` whose ``apply_chat_template`` expands each image into its
placeholder tokens and returns ``pixel_values``; our model has a tokenizer and an image processor
and expands images in ``data.tokenizer.encode_prompt``, with no processor class. It also takes
its prompts as a ``datasets.Dataset`` (``datasets`` and ``pyarrow`` would be new dependencies of
the book) and is a ``transformers.Trainer``, whose checkpoints and logs differ from the layout
every other chapter uses (``train.checkpoint``). The loop here is a few hundred lines on
`accelerate`, reusing the SFT trainer's checkpoints, optimizer, schedule and data order, and the
evaluation's generation and scoring rules.
"""
from infimed_lib.rl.grpo_config import RLConfig, load_rl_config, rl_config
from infimed_lib.rl.grpo_trainer import RLResult, load_rl_result, run_grpo
from infimed_lib.rl.objective import aggregate, clipped_surrogate, group_advantages, grpo_loss, kl_k3
from infimed_lib.rl.rewards import correctness_reward, format_reward, reward, rewards
from infimed_lib.rl.tasks import corpus_tasks, drawn_tasks, read_tasks, write_tasks

__all__ = [
    "RLConfig", "RLResult", "aggregate", "clipped_surrogate", "corpus_tasks", "correctness_reward", "drawn_tasks",
    "format_reward", "group_advantages", "grpo_loss", "kl_k3", "load_rl_config", "load_rl_result", "read_tasks",
    "reward", "rewards", "rl_config", "run_grpo", "write_tasks",
]
