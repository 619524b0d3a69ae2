"""Balanced plans for the miniature corpus: which modality, question type and answer each sample gets.

Chapter 00 (overview) explains why answers are planned rather than drawn independently: exact
balance (half yes, half no; gold letters spread evenly) keeps a majority-class guesser near
chance, so a model has to look at the image to do better.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from infimed_lib.data.corpus.corpus_questions import LETTERS


def balanced(rng: np.random.Generator, values, n: int) -> list:
    """``n`` values cycling through ``values`` in shuffled order (each appears n/len times)."""
    values = list(values)
    return [values[i % len(values)] for i in rng.permutation(n)]


def weighted(rng: np.random.Generator, weights: dict[Any, float], n: int) -> list:
    """``n`` values with counts proportional to ``weights`` (largest remainder), shuffled."""
    keys = list(weights)
    exact = np.array([weights[k] for k in keys], dtype=np.float64)
    exact = exact / exact.sum() * n
    counts = np.floor(exact).astype(int)
    for i in np.argsort(-(exact - counts), kind="stable")[: n - counts.sum()]:
        counts[i] += 1
    values = [k for k, c in zip(keys, counts) for _ in range(c)]
    return [values[i] for i in rng.permutation(n)]


def gold_letters(rng: np.random.Generator, n_options: list[int]) -> list[str]:
    """A gold letter per question, uniform over each question's own options (stratified)."""
    n = len(n_options)
    strata = (rng.permutation(n) + rng.uniform(size=n)) / max(n, 1)
    return [LETTERS[min(int(u * k), k - 1)] for u, k in zip(strata, n_options)]


def grouped(keys: list, make: Callable[[list[int]], list]) -> list:
    """Values planned separately inside each group of equal ``keys``.

    ``make(indices)`` returns one value per index of a group; balancing yes/no answers inside
    the yes/no questions of each language (not over the whole source) keeps every subset even.
    """
    out: list = [None] * len(keys)
    for key in sorted(set(keys), key=repr):
        indices = [i for i, k in enumerate(keys) if k == key]
        for i, value in zip(indices, make(indices)):
            out[i] = value
    return out


def scaled(count: int, scale: float, minimum: int) -> int:
    """A source's sample count at ``scale``, never below ``minimum`` (tests use tiny scales)."""
    return max(minimum, int(round(count * scale)))


@dataclass(frozen=True)
class SourceSpec:
    """One mini source: its family and kind, its size at scale 1, its defects (Chapter 00).

    ``plan(rng, n)`` returns one slot (a dict of planned choices) per sample and
    ``make(rng, slot, ctx)`` turns a slot into a :class:`~infimed_lib.data.corpus.defects.Draft`.
    """

    name: str
    family: str
    kind: str
    count: int
    defect_rate: float
    defect_mix: dict[str, float]
    plan: Callable[[np.random.Generator, int], list[dict]]
    make: Callable[..., Any]
    stands_for: str
    dropped_in_paper: bool = False
    domain: str = field(default="medical")
