"""How far to trust a judge: agreement with another judge (weighted Cohen's kappa) and, on the
bundled corpus, with the injected-defect ground truth (precision, recall).

Chapter 01 (data curation) reads both. The ground truth is consulted only here, after judging:
no judge ever sees it.
"""
from __future__ import annotations

import math
import os
from typing import Any, Sequence

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from infimed_lib.common import ParameterError, read_jsonl, require_path
from infimed_lib.curation.selection import OVERALL_COLUMN, SCORE_COLUMNS


def weighted_kappa(a: Sequence[int], b: Sequence[int], weights: str = "quadratic",
                   categories: Sequence[int] = (1, 2, 3, 4, 5)) -> float:
    """Cohen's weighted kappa of two raters' ordinal scores (Chapter 01).

    kappa = 1 - sum(W * O) / sum(W * E), with O the observed joint distribution, E the product
    of the two marginals and W the disagreement weight |i - j| / (k - 1) ("linear") or its
    square ("quadratic"). Written with NumPy because scikit-learn (whose ``cohen_kappa_score``
    does this) is not a dependency and SciPy has no kappa; it is a few array operations.
    Returns NaN when undefined (both raters give one and the same score throughout).
    """
    if weights not in ("linear", "quadratic"):
        raise ParameterError("weights", f"{weights!r} is not 'linear' or 'quadratic'")
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape or a.ndim != 1 or a.size == 0:
        raise ValueError(f"weighted_kappa needs two equally long non-empty 1-D score lists, got {a.shape} and {b.shape}")
    index = {c: i for i, c in enumerate(categories)}
    unknown = sorted((set(a.tolist()) | set(b.tolist())) - set(index))
    if unknown:
        raise ValueError(f"weighted_kappa: scores {unknown} are not among the categories {list(categories)}")
    k = len(categories)
    observed = np.zeros((k, k))
    np.add.at(observed, ([index[x] for x in a.tolist()], [index[y] for y in b.tolist()]), 1.0)
    observed /= observed.sum()
    expected = np.outer(observed.sum(axis=1), observed.sum(axis=0))
    distance = np.abs(np.subtract.outer(np.arange(k), np.arange(k))) / (k - 1)
    weight = distance if weights == "linear" else distance**2
    chance = float((weight * expected).sum())
    if chance == 0.0:
        return math.nan
    return 1.0 - float((weight * observed).sum()) / chance


def judge_agreement(frame_a: pd.DataFrame, frame_b: pd.DataFrame) -> pd.DataFrame:
    """Per score: samples judged by both, exact agreement, linear and quadratic kappa, and
    both judges' means. Rows are matched by ``sample_id``. Chapter 01."""
    both = frame_a.merge(frame_b, on="sample_id", suffixes=("_a", "_b"))
    both = both[both["status_a"].eq("ok") & both["status_b"].eq("ok")]
    rows = []
    for column in SCORE_COLUMNS:
        a = both[f"{column}_a"].astype(int).to_numpy()
        b = both[f"{column}_b"].astype(int).to_numpy()
        if len(a) == 0:
            rows.append({"dimension": column, "n": 0})
            continue
        rows.append({
            "dimension": column, "n": len(a), "exact_agreement": float((a == b).mean()),
            "kappa_linear": weighted_kappa(a, b, "linear"), "kappa_quadratic": weighted_kappa(a, b, "quadratic"),
            "mean_a": float(a.mean()), "mean_b": float(b.mean()),
        })
    return pd.DataFrame(rows).set_index("dimension")


def load_defect_labels(corpus_dir: str | os.PathLike) -> pd.DataFrame:
    """``labels/defects.jsonl`` of the bundled corpus: id, source, defect (None when clean). Chapter 01."""
    path = require_path("corpus_dir", corpus_dir, kind="dir") / "labels" / "defects.jsonl"
    if not path.is_file():
        raise ParameterError("corpus_dir", f"no ground-truth labels at {path} (only the bundled corpus has them)")
    labels = pd.DataFrame(read_jsonl(path), columns=["id", "source", "defect"])
    return labels.rename(columns={"id": "sample_id"})


def _rates(tp: int, fp: int, fn: int, tn: int) -> dict[str, Any]:
    precision = tp / (tp + fp) if tp + fp else math.nan
    recall = tp / (tp + fn) if tp + fn else math.nan
    f1 = 2 * precision * recall / (precision + recall) if tp else (0.0 if tp + fp + fn else math.nan)
    return {"tp": tp, "fp": fp, "fn": fn, "tn": tn, "precision": precision, "recall": recall, "f1": f1}


def compare_with_ground_truth(
    frame: pd.DataFrame,
    flags: pd.Series,
    summary: pd.DataFrame,
    labels: pd.DataFrame,
    high_defect_rate: float = 0.15,
) -> dict[str, Any]:
    """Measure a judge against the injected defects (Chapter 01).

    Returns ``samples`` (flag vs defect precision/recall over judged, labelled samples),
    ``by_defect`` (per defect type: how many, how many flagged, mean overall), ``by_source``
    (true defect rate of the sampled rows beside the judge's summary and decision) and
    ``datasets`` (are the sources with a defect rate >= ``high_defect_rate`` the dropped
    ones: precision/recall of "dropped" for "high-defect", and Spearman's rho between
    defect rate and mean overall score).
    """
    if not 0 < high_defect_rate < 1:
        raise ParameterError("high_defect_rate", f"must be in (0, 1), got {high_defect_rate!r}")
    data = frame.assign(flagged=flags.astype(bool)).merge(labels[["sample_id", "defect"]], on="sample_id", how="left")
    unlabelled = int((~data["sample_id"].isin(labels["sample_id"])).sum())
    data["defective"] = data["defect"].notna()
    judged = data[data["status"].eq("ok") & data["sample_id"].isin(labels["sample_id"])]
    f, d = judged["flagged"], judged["defective"]
    samples = _rates(int((f & d).sum()), int((f & ~d).sum()), int((~f & d).sum()), int((~f & ~d).sum()))
    samples.update(judged=len(judged), unlabelled=unlabelled)
    by_defect = (judged.assign(defect=judged["defect"].fillna("clean"))
                 .groupby("defect").agg(n=("flagged", "size"), flagged=("flagged", "sum"),
                                        mean_overall=(OVERALL_COLUMN, lambda s: float(s.astype(float).mean()))))
    by_defect["flag_rate"] = by_defect["flagged"] / by_defect["n"]
    by_source = summary[[OVERALL_COLUMN, "flagged_fraction", "decision"]].copy()
    by_source.insert(0, "defect_rate", data.groupby("source")["defective"].mean().reindex(by_source.index))
    high = by_source["defect_rate"] >= high_defect_rate
    dropped = by_source["decision"].eq("drop")
    datasets = _rates(int((dropped & high).sum()), int((dropped & ~high).sum()),
                      int((~dropped & high).sum()), int((~dropped & ~high).sum()))
    valid = by_source.dropna(subset=["defect_rate", OVERALL_COLUMN])
    rho = math.nan
    if len(valid) > 2 and valid["defect_rate"].nunique() > 1 and valid[OVERALL_COLUMN].nunique() > 1:
        rho = spearmanr(valid["defect_rate"], valid[OVERALL_COLUMN]).statistic
    datasets.update(high_defect_rate=high_defect_rate, high_defect_sources=sorted(by_source.index[high]),
                    dropped_sources=sorted(by_source.index[dropped]), spearman_defect_rate_vs_overall=float(rho))
    return {"samples": samples, "by_defect": by_defect, "by_source": by_source, "datasets": datasets}
