"""Evaluate several checkpoints at once, one worker process each (Chapters 08-09).

The miniature model generates fastest on one CPU thread (its matrices are too small for a
second thread to pay off), so on a machine with more cores than that, evaluating one model
after another leaves cores idle. :func:`evaluate_many` runs one :func:`~infimed_lib.eval.run.evaluate`
per process instead; every file it writes is the same as a sequential run's, because each
evaluation is seeded on its own and writes only its own folder.
"""
from __future__ import annotations

import multiprocessing
import os
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from infimed_lib.common import ParameterError, require_type
from infimed_lib.eval.run import EvalResult, eval_name, evaluate


def evaluate_many(checkpoints: Mapping[str, str | Path], tokenizer_dir: str | Path,
                  benchmarks: Mapping[str, str | Path], out_root: str | Path, *, workers: int | None = None,
                  judge=None, **settings) -> dict[str, EvalResult]:
    """``{label: EvalResult}`` for each checkpoint, written to ``out_root/<eval_name(checkpoint)>`` (Chapters 08-09).

    ``settings`` are :func:`evaluate`'s keyword arguments. ``workers`` processes evaluate
    side by side (default: one per CPU core, at most one per checkpoint). With a judge, or one
    worker, the checkpoints are evaluated here, one after another: a judge's client holds a
    connection that does not travel to another process.
    """
    if not checkpoints:
        raise ParameterError("checkpoints", "is empty; give at least one label -> checkpoint folder")
    jobs = {label: (str(path), str(Path(out_root) / eval_name(path))) for label, path in checkpoints.items()}
    folders = [out for _, out in jobs.values()]
    if len(set(folders)) < len(folders):
        raise ParameterError("checkpoints", f"two checkpoints would write one folder under {out_root}: "
                             f"{sorted(f for f in folders if folders.count(f) > 1)[0]}")
    workers = min(len(jobs), os.cpu_count() or 1) if workers is None else require_type("workers", workers, int)
    if workers < 1:
        raise ParameterError("workers", f"must be >= 1, got {workers}")
    if workers == 1 or judge is not None:
        return {label: evaluate(path, tokenizer_dir, benchmarks, out, judge=judge, **settings)
                for label, (path, out) in jobs.items()}
    # Spawned, not forked: a notebook kernel holds threads (PyTorch's, the kernel's own).
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {label: pool.submit(evaluate, path, str(tokenizer_dir), dict(benchmarks), out, **settings)
                   for label, (path, out) in jobs.items()}
        return {label: future.result() for label, future in futures.items()}
