"""How sure a closed-question score is: bootstrap intervals over the benchmark questions (Chapter 08).

A miniature benchmark has 60-150 closed questions, so one benchmark's accuracy moves by about
five points when a different, equally likely set of questions is drawn, and the seven-benchmark
macro accuracy by about two. :func:`macro_interval` gives the percentile bootstrap interval of a
model's closed-question macro accuracy; :func:`margin_interval` the interval of its margin over
a baseline answered on the same questions (a *paired* bootstrap: each resample draws the same
questions for both, so question difficulty cancels). Questions are resampled within each
benchmark, as the macro average weighs every benchmark equally whatever its size.

Chapter 09's ``macro_standard_error`` is the analytic, unpaired counterpart for its ablation
averages. The resampling here is :func:`scipy.stats.bootstrap` (one sample per benchmark, resampled
independently); we only turn prediction files into per-benchmark arrays and pair them.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.stats import bootstrap

from infimed_lib.common import ParameterError, read_jsonl
from infimed_lib.eval.summary import CLOSED_TYPES
from infimed_lib.eval.summary import records_under


@dataclass(frozen=True)
class Interval:
    """A point estimate and its bootstrap interval, in percentage points.

    ``low`` and ``high`` are nan when some benchmark has a single question (nothing to resample).
    """

    estimate: float
    low: float
    high: float
    confidence: float

    def __str__(self) -> str:
        return f"{self.estimate:.1f} [{self.low:.1f}, {self.high:.1f}]"


def closed_verdicts(predictions: Mapping[str, str | Path], rules: str | None = None) -> dict[str, dict[str, bool]]:
    """``{benchmark: {question id: correct}}`` for the closed questions of each predictions file (Chapter 08).

    ``rules`` ("strict" or "medevalkit") reads that rule set's verdict from each record's
    ``verdicts``; None keeps the file's own ``correct``.
    """
    verdicts = {}
    for name, path in predictions.items():
        rows = [r for r in read_jsonl(path) if r.get("question_type") in CLOSED_TYPES]
        if rows and rules is not None:
            rows = records_under(rows, rules)
        if rows:
            verdicts[name] = {str(r["id"]): bool(r["correct"]) for r in rows}
            if len(verdicts[name]) < len(rows):  # pairing by id would silently drop questions
                raise ParameterError("predictions", f"{path}: question ids repeat; each question needs its own id")
    if not verdicts:
        raise ParameterError("predictions", "hold no closed questions (multiple choice, yes/no or closed)")
    return verdicts


def _macro(*samples: np.ndarray, axis: int = -1) -> np.ndarray:
    return 100 * np.mean([sample.mean(axis=axis) for sample in samples], axis=0)


def _interval(samples: list[np.ndarray], confidence: float, n_resamples: int, seed: int) -> Interval:
    if not 0 < confidence < 1:
        raise ParameterError("confidence", f"must be between 0 and 1, got {confidence}")
    if not samples or any(len(s) == 0 for s in samples):
        raise ParameterError("verdicts", "no benchmarks, or a benchmark without closed questions")
    estimate = float(_macro(*samples))
    if min(len(s) for s in samples) < 2:  # a lone question cannot be resampled: no interval
        return Interval(estimate, float("nan"), float("nan"), confidence)
    result = bootstrap(samples, _macro, n_resamples=n_resamples, confidence_level=confidence,
                       method="percentile", vectorized=True, random_state=np.random.default_rng(seed))
    low, high = result.confidence_interval
    return Interval(estimate, float(low), float(high), confidence)


def record_verdicts(records) -> dict[str, dict[str, bool]]:
    """``{benchmark: {question id: correct}}`` of scored records held in memory (Chapters 08, 10)."""
    found: dict[str, dict[str, bool]] = {}
    for record in records:
        found.setdefault(record["benchmark"], {})[str(record["id"])] = bool(record["correct"])
    return found


def macro_interval(verdicts: Mapping[str, Mapping[str, bool]], confidence: float = 0.95,
                   n_resamples: int = 2000, seed: int = 0) -> Interval:
    """Closed-question macro accuracy (%) with its stratified bootstrap interval (Chapter 08)."""
    samples = [np.fromiter(v.values(), dtype=float, count=len(v)) for v in verdicts.values()]
    return _interval(samples, confidence, n_resamples, seed)


def margin_interval(model: Mapping[str, Mapping[str, bool]], baseline: Mapping[str, Mapping[str, bool]],
                    confidence: float = 0.95, n_resamples: int = 2000, seed: int = 0) -> Interval:
    """Macro-accuracy margin (points) of ``model`` over ``baseline`` on the same questions, paired bootstrap (Chapter 08).

    Both map benchmark -> question id -> correct (:func:`closed_verdicts`); every benchmark and
    question must be present in both, or the margin would compare different questions.
    """
    if set(model) != set(baseline):
        raise ParameterError("baseline", f"covers benchmarks {sorted(baseline)}, the model {sorted(model)}")
    samples = []
    for name in model:
        missing = set(model[name]) ^ set(baseline[name])
        if missing:
            raise ParameterError("baseline", f"{name}: {len(missing)} question(s) answered by only one side, "
                                 f"e.g. {sorted(missing)[0]!r}; evaluate both on the same questions")
        ids = sorted(model[name])
        samples.append(np.array([float(model[name][i]) - float(baseline[name][i]) for i in ids]))
    return _interval(samples, confidence, n_resamples, seed)
