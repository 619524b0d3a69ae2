"""From judgements to decisions: per-dataset summaries, keep/drop thresholds, the keep-list.

Chapter 01 (data curation) shows these tables. The paper states which datasets it dropped
(IU-Xray, MedPix-2.0, PMC-OA, VQA-Med-2019) but not its thresholds, so ours are parameters.
"""
from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import pandas as pd

from infimed_lib.common import ParameterError, atomic_write_json, read_json, require_path
from infimed_lib.curation.rubric import DIMENSIONS, IMAGING, OVERALL, SCORE_KEYS, SHORT_NAMES

SCORE_COLUMNS: tuple[str, ...] = tuple(SHORT_NAMES[k] for k in SCORE_KEYS)
IMAGING_COLUMN = SHORT_NAMES[IMAGING]
OVERALL_COLUMN = SHORT_NAMES[OVERALL]


@dataclass(frozen=True)
class Thresholds:
    """Keep/drop rules (Chapter 01).

    A sample is *flagged* when its overall score or any applicable dimension is at most
    ``flag_at_or_below``. A dataset is *dropped* when its mean overall score is below
    ``min_mean_overall``, a dimension mean is below ``min_mean_dimension``, or more than
    ``max_flagged_fraction`` of its samples are flagged; it is *undecided* when fewer than
    ``min_judged_fraction`` of its sampled rows got a usable judgement. Imaging relevance does
    not count for sources whose sampled rows carry no image at all (A.2 scores those 1 by rule,
    which says nothing about a text-only dataset's quality).

    Defaults: 2 is A.2's "weak quality; flawed in multiple aspects", so a sample at or below it
    is one a curator would discard. A dataset is dropped when more than about one sample in
    seven is that bad (0.15), or when its average falls to "adequate" (3.5) or any dimension to
    "mostly accurate / understandable" (3.0). The paper gives no thresholds (Chapter 01).
    """

    min_mean_overall: float = 3.5
    min_mean_dimension: float = 3.0
    flag_at_or_below: int = 2
    max_flagged_fraction: float = 0.15
    min_judged_fraction: float = 0.8

    def __post_init__(self):
        for name in ("min_mean_overall", "min_mean_dimension"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 1 <= value <= 5:
                raise ParameterError(name, f"must be a number in [1, 5], got {value!r}")
        flag = self.flag_at_or_below
        if isinstance(flag, bool) or not isinstance(flag, int) or not 1 <= flag <= 4:
            raise ParameterError("flag_at_or_below", f"must be an integer in [1, 4], got {flag!r}")
        for name in ("max_flagged_fraction", "min_judged_fraction"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
                raise ParameterError(name, f"must be a fraction in [0, 1], got {value!r}")


def judgements_frame(records: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """One row per judgement: ids, status, image count and the six scores (short names,
    nullable integers; missing where the judge failed). Chapter 01."""
    rows = []
    for record in records:
        row = {k: record.get(k) for k in ("sample_id", "source", "judge_id", "status", "n_images")}
        scores = record.get("scores") or {}
        row.update({SHORT_NAMES[k]: scores.get(k) for k in SCORE_KEYS})
        rows.append(row)
    columns = ["sample_id", "source", "judge_id", "status", "n_images", *SCORE_COLUMNS]
    frame = pd.DataFrame(rows, columns=columns)
    return frame.astype({c: "Int64" for c in SCORE_COLUMNS})


def _text_only_sources(frame: pd.DataFrame) -> set[str]:
    images = frame.groupby("source")["n_images"].sum()
    return set(images[images == 0].index)


def flag_samples(frame: pd.DataFrame, thresholds: Thresholds) -> pd.Series:
    """True where a judged sample scores at most ``flag_at_or_below`` on the overall score or
    an applicable dimension; False for unjudged rows. Chapter 01."""
    low = frame[list(SCORE_COLUMNS)].le(thresholds.flag_at_or_below).fillna(False).astype(bool)
    low.loc[frame["source"].isin(_text_only_sources(frame)), IMAGING_COLUMN] = False
    return low.any(axis=1) & frame["status"].eq("ok")


def dataset_summary(frame: pd.DataFrame, thresholds: Thresholds) -> pd.DataFrame:
    """Per source: counts, mean of every score, flagged fraction, decision and its reasons.

    ``decision`` is "keep", "drop" or "undecided". Chapter 01.
    """
    frame = frame.assign(flagged=flag_samples(frame, thresholds))
    text_only = _text_only_sources(frame)
    rows = []
    for source, group in frame.groupby("source", sort=True):
        judged = group[group["status"].eq("ok")]
        row: dict[str, Any] = {"source": source, "sampled": len(group), "judged": len(judged),
                               "failed": int((group["status"] != "ok").sum())}
        for column in SCORE_COLUMNS:
            values = judged[column].astype("float64")
            row[column] = float(values.mean()) if len(values) else math.nan
        if source in text_only:
            row[IMAGING_COLUMN] = math.nan
        row["flagged_fraction"] = float(judged["flagged"].mean()) if len(judged) else math.nan
        row["decision"], row["reasons"] = _decide(row, thresholds)
        rows.append(row)
    return pd.DataFrame(rows).set_index("source")


def _decide(row: Mapping[str, Any], t: Thresholds) -> tuple[str, str]:
    if row["sampled"] == 0 or row["judged"] / row["sampled"] < t.min_judged_fraction:
        return "undecided", f"only {row['judged']} of {row['sampled']} samples judged"
    reasons = []
    if row[OVERALL_COLUMN] < t.min_mean_overall:
        reasons.append(f"mean overall {row[OVERALL_COLUMN]:.2f} < {t.min_mean_overall:g}")
    for column in (SHORT_NAMES[d] for d in DIMENSIONS):
        if not math.isnan(row[column]) and row[column] < t.min_mean_dimension:
            reasons.append(f"mean {column} {row[column]:.2f} < {t.min_mean_dimension:g}")
    if row["flagged_fraction"] > t.max_flagged_fraction:
        reasons.append(f"{row['flagged_fraction']:.0%} of samples flagged > {t.max_flagged_fraction:.0%}")
    return ("drop", "; ".join(reasons)) if reasons else ("keep", "")


def score_distribution(frame: pd.DataFrame) -> pd.DataFrame:
    """Fraction of judged samples at each score 1-5, per source and score column. Chapter 01."""
    judged = frame[frame["status"].eq("ok")]
    long = judged.melt(id_vars="source", value_vars=list(SCORE_COLUMNS), var_name="dimension", value_name="score")
    counts = long.groupby(["source", "dimension", "score"]).size().unstack("score", fill_value=0)
    counts = counts.reindex(columns=range(1, 6), fill_value=0)
    return counts.div(counts.sum(axis=1), axis=0)


def build_keep_list(
    summary: pd.DataFrame,
    thresholds: Thresholds,
    all_sources: Sequence[str],
    judge_id: str,
    prompt_digest: str,
    samples_per_dataset: int,
) -> dict[str, Any]:
    """The keep-list the stage mixtures read (Chapters 04-07 via ``data.mixtures``).

    ``keep`` lists every source training may use: assessed sources that passed, and sources
    outside the assessment (the paper curated its medical data only), which are repeated under
    ``not_assessed``. ``drop`` and ``undecided`` are never used. Chapter 01.
    """
    assessed = set(summary.index)
    passed = set(summary.index[summary["decision"].eq("keep")])
    not_assessed = sorted(set(all_sources) - assessed)
    return {
        "keep": sorted(passed | set(not_assessed)),
        "drop": sorted(summary.index[summary["decision"].eq("drop")]),
        "undecided": sorted(summary.index[summary["decision"].eq("undecided")]),
        "not_assessed": not_assessed,
        "reasons": {s: r for s, r in summary["reasons"].items() if r},
        "thresholds": asdict(thresholds),
        "judge_id": judge_id,
        "prompt_hash": prompt_digest,
        "samples_per_dataset": samples_per_dataset,
    }


def write_keep_list(keep_list: Mapping[str, Any], run_dir: str | os.PathLike) -> Path:
    """Write ``<run_dir>/curation/keep_list.json`` atomically. Chapter 01."""
    return atomic_write_json(Path(run_dir) / "curation" / "keep_list.json", keep_list)


def read_keep_list(path: str | os.PathLike) -> dict[str, Any]:
    """Read and check a keep-list; ParameterError naming ``keep_list`` if it is malformed. Chapter 01."""
    data = read_json(require_path("keep_list", path, kind="file"))
    for field in ("keep", "drop"):
        if not isinstance(data.get(field), list):
            raise ParameterError("keep_list", f"{path}: '{field}' must be a list of source names")
    overlap = set(data["keep"]) & set(data["drop"])
    if overlap:
        raise ParameterError("keep_list", f"{path}: sources both kept and dropped: {sorted(overlap)}")
    return data
