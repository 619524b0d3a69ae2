"""Stage mixtures (paper Table 4, Appendix A.3) as declarative specs. Chapters 02 and 04-07.

A profile names, per stage, which sources enter and how much of each: a fraction (float <= 1)
or a sample count (int). ``<source>-filtered`` is that source without safety refusals (Table 4's
"Mammoth-VL-10M-filtered"). ``balance_to`` caps every medical source at the same count, the
balanced down-sampling of stage 3 (section 4.1.4). Sources that curation dropped are skipped.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

from infimed_lib.common import ParameterError, read_json, read_jsonl, require_path

FILTERED_SUFFIX = "-filtered"


@dataclass
class MixtureSpec:
    """Which sources a stage trains on, and how many samples of each."""

    sources: dict[str, float | int]
    balance_to: int | None = None
    seed: int = 0
    name: str = "mixture"

    def __post_init__(self):
        if not isinstance(self.sources, dict) or not self.sources:
            raise ParameterError(f"{self.name}.sources", "must be a non-empty mapping source -> amount")
        for source, amount in self.sources.items():
            ok_fraction = isinstance(amount, float) and 0.0 < amount <= 1.0
            ok_count = isinstance(amount, int) and not isinstance(amount, bool) and amount > 0
            if not (ok_fraction or ok_count):
                raise ParameterError(f"{self.name}.sources.{source}",
                                     f"{amount!r} is neither a fraction in (0, 1] nor a positive count")
        if self.balance_to is not None and (not isinstance(self.balance_to, int) or self.balance_to <= 0):
            raise ParameterError(f"{self.name}.balance_to", f"{self.balance_to!r} is not a positive int")

    @classmethod
    def from_dict(cls, value: dict, name: str = "mixture", seed: int = 0) -> "MixtureSpec":
        """Accept ``{"sources": {...}, "balance_to": N}`` or a bare ``{source: amount}`` mapping."""
        if not isinstance(value, dict):
            raise ParameterError(name, f"expected a mapping, got {type(value).__name__}")
        if "sources" in value:
            return cls(dict(value["sources"]), value.get("balance_to"), value.get("seed", seed), name)
        return cls(dict(value), None, seed, name)


@dataclass
class Mixture:
    samples: list[dict]
    counts: dict[str, int] = field(default_factory=dict)
    available: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)

    def table(self):
        """Per-source counts as a DataFrame (for the chapters)."""
        import pandas as pd

        rows = [{"source": s, "available": self.available.get(s, 0), "used": n} for s, n in self.counts.items()]
        rows += [{"source": s, "available": self.available.get(s, 0), "used": 0, "skipped": why}
                 for s, why in self.skipped.items()]
        return pd.DataFrame(rows)


def load_keep_list(path: str | Path | None) -> set[str] | None:
    """Sources kept by curation, or None when no keep-list is given (everything is kept)."""
    if path is None or str(path) == "":
        return None
    data = read_json(require_path("keep_list", path, "file"))
    if "keep" not in data:
        raise ParameterError("keep_list", f"{path} has no 'keep' field")
    return set(data["keep"])


def load_source(corpus_dir: str | Path, source: str, absolute_images: bool = True) -> list[dict]:
    """All samples of one source; image paths made absolute unless ``absolute_images`` is False."""
    corpus_dir = Path(corpus_dir)
    path = corpus_dir / "sources" / f"{source}.jsonl"
    if not path.exists():
        known = sorted(p.stem for p in (corpus_dir / "sources").glob("*.jsonl"))
        raise ParameterError("mixture", f"unknown source {source!r} in {corpus_dir} (known: {known})")
    samples = read_jsonl(path)
    if absolute_images:
        for sample in samples:
            sample["images"] = [_absolute(ref, corpus_dir) for ref in sample.get("images", [])]
    return samples


def _absolute(ref: str, root: Path) -> str:
    if ref.startswith("data:") or Path(ref).is_absolute():
        return ref
    return str((root / ref).resolve())


def build_mixture(spec: MixtureSpec, corpus_dir: str | Path, keep_list: str | Path | set | None = None,
                  absolute_images: bool = True) -> Mixture:
    """Select a stage's samples from the corpus, seeded; shuffled in a fixed order.

    With ``absolute_images=False`` image paths stay relative to ``corpus_dir``, so a written
    mixture is the same file wherever the checkout lives (the trainer takes ``image_root``).
    """
    corpus_dir = require_path("corpus_dir", corpus_dir, "dir")
    keep = keep_list if isinstance(keep_list, set) or keep_list is None else load_keep_list(keep_list)
    rng = random.Random(spec.seed)
    mixture = Mixture(samples=[])
    for name, amount in spec.sources.items():
        base = name[: -len(FILTERED_SUFFIX)] if name.endswith(FILTERED_SUFFIX) else name
        pool = load_source(corpus_dir, base, absolute_images)
        if name.endswith(FILTERED_SUFFIX):
            pool = [s for s in pool if not s.get("meta", {}).get("refusal")]
        mixture.available[name] = len(pool)
        if keep is not None and base not in keep:
            mixture.skipped[name] = "dropped by curation"
            continue
        count = round(amount * len(pool)) if isinstance(amount, float) else min(amount, len(pool))
        if spec.balance_to is not None and pool and pool[0].get("domain") == "medical":
            count = min(count, spec.balance_to)
        chosen = rng.sample(pool, count) if count < len(pool) else list(pool)
        mixture.counts[name] = len(chosen)
        mixture.samples.extend(chosen)
    rng.shuffle(mixture.samples)
    return mixture
