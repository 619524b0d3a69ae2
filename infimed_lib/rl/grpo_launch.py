"""What chapter 10 does around the GRPO trainer: the run folder, the question sets, the warm-up
stage, and launching a run here or as an ``accelerate launch`` job.

Layout under ``<run_dir>/rl/``: ``tasks.jsonl`` (RL questions from the corpus's training split),
``heldout.jsonl`` (fresh draws no stage trains on), ``warmup/`` (the reflective warm-up SFT stage:
``mixture.jsonl`` and the trainer's usual files), ``from_sft/`` and ``from_warmup/`` (the two GRPO
runs), ``predictions/`` (held-out answers of every model) and ``metrics.json``.
"""
from __future__ import annotations

import os
import shlex
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from infimed_lib.common import atomic_write_jsonl, read_jsonl, require_choice, require_path, \
    write_config
from infimed_lib.rl.grpo_config import RLConfig, rl_config
from infimed_lib.rl.grpo_trainer import RLResult, load_rl_result, run_grpo
from infimed_lib.data.corpus.corpus_draws import HELDOUT_STREAM, WARMUP_STREAM
from infimed_lib.rl.tasks import MIRRORS, corpus_tasks, drawn_tasks, write_tasks
from infimed_lib.rl.warmup import warmup_samples
from infimed_lib.train.stages import job_command
from infimed_lib.train.train_config import config_from_dict

ARMS = {"from_sft": "SFT + RL", "from_warmup": "warm-up + RL"}


@dataclass(frozen=True)
class RLPaths:
    """The files and folders of chapter 10 under ``<run_dir>/rl``."""

    root: Path

    @classmethod
    def of(cls, run_dir: str | Path) -> "RLPaths":
        return cls(Path(run_dir) / "rl")

    tasks = property(lambda self: self.root / "tasks.jsonl")
    heldout = property(lambda self: self.root / "heldout.jsonl")
    warmup = property(lambda self: self.root / "warmup")
    predictions = property(lambda self: self.root / "predictions")
    metrics = property(lambda self: self.root / "metrics.json")

    def arm(self, name: str) -> Path:
        require_choice("arm", name, ARMS)
        return self.root / name


def prepare_sets(paths: RLPaths, corpus_dir: str | Path, keep_list: str, rl_per_source: int, heldout_per_source: int,
                 warmup_per_source: int, reflective_share: float, seed: int, sources: Sequence[str] = tuple(MIRRORS),
                 heldout_from: str = "drawn", warmup_data: str = "") -> dict:
    """Write the RL questions, the held-out questions and the warm-up mixture; return the task sets (Chapter 10).

    RL questions: ``rl_per_source`` closed questions per VQA source of the corpus (curation's
    keep-list applies). Held-out questions: ``heldout_from="drawn"`` draws new ones with the
    miniature's generator; ``"corpus"`` (real data) sets aside ``heldout_per_source`` more of
    each source's questions, which RL never sees. Warm-up: traces written for new draws, or the
    schema samples of ``warmup_data`` (reasoning traces made elsewhere, e.g. by a strong model).
    """
    require_choice("heldout_from", heldout_from, ("drawn", "corpus"))
    extra = heldout_per_source if heldout_from == "corpus" else 0
    pool = corpus_tasks(corpus_dir, sources, keep_list, per_source=rl_per_source + extra, seed=seed)
    sets = {"rl": pool, "heldout": [], "warmup": []}
    if heldout_from == "corpus":
        sets["rl"], heldout = split_per_source(pool, heldout_per_source)
        # RL questions keep corpus-relative images (the trainer's image_root); the held-out ones are
        # answered by plain generation, which resolves paths against nothing.
        sets["heldout"] = [replace(task, images=[_under(ref, corpus_dir) for ref in task.images]) for task in heldout]
    else:
        sets["heldout"] = drawn_tasks(heldout_per_source, seed, HELDOUT_STREAM, sources)
    write_tasks(paths.tasks, sets["rl"])
    write_tasks(paths.heldout, sets["heldout"])
    if warmup_data:
        samples = read_jsonl(require_path("warmup_data", warmup_data, "file"))
    else:
        sets["warmup"] = drawn_tasks(warmup_per_source, seed, WARMUP_STREAM, sources)
        samples = warmup_samples(sets["warmup"], reflective_share, seed)
    atomic_write_jsonl(paths.warmup / "mixture.jsonl", samples)
    return sets


def _under(ref, root: str | Path):
    """An image reference made absolute against ``root`` when it is a relative file path."""
    if not isinstance(ref, str) or ref.startswith("data:") or Path(ref).is_absolute():
        return ref
    return str(Path(root).resolve() / ref)


def split_per_source(tasks: Sequence, held_out: int) -> tuple[list, list]:
    """(rest, held out): the first ``held_out`` tasks of each source set aside, the order kept."""
    seen: dict[str, int] = {}
    rest, kept = [], []
    for task in tasks:
        source = task.meta.get("source", task.benchmark)
        seen[source] = seen.get(source, 0) + 1
        (kept if seen[source] <= held_out else rest).append(task)
    return rest, kept


def warmup_config(paths: RLPaths, init_from: str, tokenizer_path: str, **settings):
    """The warm-up SFT stage's TrainConfig (stage ``"warmup"``), reading ``warmup/mixture.jsonl`` (Chapter 10).

    Give ``image_root`` when the mixture's images are relative paths (``warmup_data``).
    """
    return config_from_dict({"stage": "warmup", "output_dir": str(paths.warmup), "init_from": init_from,
                             "tokenizer_path": tokenizer_path, "data_path": str(paths.warmup / "mixture.jsonl")},
                            **settings)


def warmup_examples(paths: RLPaths) -> list[dict]:
    """The first plain and the first reflective sample of the warm-up mixture (fewer if it has none)."""
    samples = read_jsonl(paths.warmup / "mixture.jsonl")
    firsts = {}
    for sample in samples:
        firsts.setdefault(bool((sample.get("meta") or {}).get("reflective")), sample)
    return [firsts[k] for k in (False, True) if k in firsts]


def arm_config(paths: RLPaths, arm: str, init_from: str, tokenizer_path: str, image_root: str, **settings) -> RLConfig:
    """The GRPO config of one arm (``from_sft`` or ``from_warmup``), on ``tasks.jsonl`` (Chapter 10)."""
    return rl_config({"output_dir": str(paths.arm(arm)), "init_from": init_from, "tokenizer_path": tokenizer_path,
                      "tasks_path": str(paths.tasks), "image_root": image_root}, **settings)


def launch_command(config_path: Path, launcher: str, accelerate_config: str = "", num_processes: int = 1) -> list[str]:
    """The command line that runs one GRPO config as its own job (``python -m infimed_lib.rl``)."""
    return job_command(["-m", "infimed_lib.rl", "--config", str(config_path), "--resume"], launcher,
                       accelerate_config, num_processes)


def launch_grpo(config: RLConfig, launcher: str = "inprocess", accelerate_config: str = "",
                num_processes: int = 1) -> RLResult:
    """Run GRPO here or as a launched job; a finished run of the same config is reused (Chapter 10)."""
    require_choice("launcher", launcher, ("inprocess", "accelerate", "torchrun"))
    if launcher == "inprocess":
        return run_grpo(config, resume=True)
    config_path = write_config(config, config.output_dir, "launch_config.json")
    command = launch_command(config_path, launcher, accelerate_config, num_processes)
    print("$", shlex.join(command), flush=True)
    completed = subprocess.run(command, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    if completed.returncode != 0:
        raise RuntimeError(f"GRPO run {config.output_dir} failed under {launcher} (exit {completed.returncode})")
    return load_rl_result(config.output_dir)
