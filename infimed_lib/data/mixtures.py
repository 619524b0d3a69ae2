"""Stage mixtures (paper Table 4, Appendix A.3) as declarative specs. Chapters 02 and 04-07.

A profile names, per stage, which sources enter and how much of each: a fraction (float <= 1)
or a sample count (int). ``<source>-filtered`` is that source without safety refusals (Table 4's
"Mammoth-VL-10M-filtered"). ``balance_to`` caps every medical source at the same count, the
balanced down-sampling of stage 3 (section 4.1.4). Sources that curation dropped are skipped.

Sources are streamed twice (count, then read the chosen records), so a source of millions of
records costs memory only for the samples a stage keeps.
"""
from __future__ import annotations

import random
import re
from array import array
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import pandas as pd

from infimed_lib.common import ParameterError, iter_jsonl, read_json, require_path

FILTERED_SUFFIX = "-filtered"

# How a safety refusal opens (Table 4's note: "Sorry, I can't..."). Real Mammoth-VL records carry
# no refusal flag, so the reply's first words decide; the miniature corpus also marks
# ``meta.refusal``, which is honoured too. Each pattern needs an apology or a first-person
# "cannot" *and* a refusal verb, so an answer that merely starts with "Sorry" or "I cannot see
# any fracture" is kept.
_CANT = r"(?:can(?:not|['’]?t)|am (?:unable|not able)|won['’]?t|will not|must decline)"
_ACT = r"(?:help|assist|answer|provide|comply|fulfil|fulfill|do that|identify|support|respond|share|process)"
REFUSAL_PATTERNS: tuple[str, ...] = (
    rf"(?:i['’]?m|i am|we['’]?re|we are)? ?(?:so |very |really )?sorry,? (?:but )?(?:i|we) {_CANT}",
    rf"i (?:must )?apologi[sz]e,? (?:but )?(?:i|we) {_CANT}",
    rf"(?:unfortunately,? )?(?:i|we) {_CANT} (?:to )?{_ACT}",
    r"as an ai(?: language model| assistant)?,? i",
)
_REFUSAL = re.compile("|".join(f"(?:{pattern})" for pattern in REFUSAL_PATTERNS), re.IGNORECASE)


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


def is_refusal(sample: dict) -> bool:
    """True when an assistant reply of ``sample`` opens as a safety refusal (`REFUSAL_PATTERNS`),
    or the sample is marked ``meta.refusal``. Chapters 05-07 (the ``-filtered`` mixtures)."""
    if (sample.get("meta") or {}).get("refusal"):
        return True
    return any(_REFUSAL.match(turn.get("value", "").lstrip()) for turn in sample.get("conversations", [])
               if turn.get("from") in ("gpt", "assistant"))


def source_file(corpus_dir: str | Path, source: str) -> Path:
    """``<corpus_dir>/sources/<source>.jsonl``; an unknown source names the known ones."""
    corpus_dir = Path(corpus_dir)
    path = corpus_dir / "sources" / f"{source}.jsonl"
    if not path.exists():
        known = sorted(p.stem for p in (corpus_dir / "sources").glob("*.jsonl"))
        raise ParameterError("mixture", f"unknown source {source!r} in {corpus_dir} (known: {known})")
    return path


def iter_source(corpus_dir: str | Path, source: str, absolute_images: bool = True) -> Iterator[dict]:
    """The samples of one source, streamed; image paths made absolute unless ``absolute_images``
    is False."""
    corpus_dir = Path(corpus_dir)
    for sample in iter_jsonl(source_file(corpus_dir, source)):
        if absolute_images:
            sample["images"] = [_absolute(ref, corpus_dir) for ref in sample.get("images", [])]
        yield sample


def load_source(corpus_dir: str | Path, source: str, absolute_images: bool = True) -> list[dict]:
    """All samples of one source as a list (small sources; `iter_source` streams)."""
    return list(iter_source(corpus_dir, source, absolute_images))


def _absolute(ref: str, root: Path) -> str:
    if ref.startswith("data:") or Path(ref).is_absolute():
        return ref
    return str((root / ref).resolve())


def _eligible(corpus_dir: Path, source: str, filtered: bool) -> tuple[array, str | None]:
    """Line numbers of the samples a mixture may draw (refusals left out when ``filtered``),
    and the domain of the first one."""
    lines, domain = array("q"), None
    for number, sample in enumerate(iter_source(corpus_dir, source, absolute_images=False)):
        if filtered and is_refusal(sample):
            continue
        lines.append(number)
        domain = sample.get("domain") if domain is None else domain
    return lines, domain


def _read_lines(corpus_dir: Path, source: str, wanted: list[int], absolute_images: bool) -> list[dict]:
    """The samples at line numbers ``wanted``, in that order, read in one streaming pass."""
    position = {line: index for index, line in enumerate(wanted)}
    found: list[dict | None] = [None] * len(wanted)
    for number, sample in enumerate(iter_source(corpus_dir, source, absolute_images)):
        if number in position:
            found[position[number]] = sample
    return found


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
        filtered = name.endswith(FILTERED_SUFFIX)
        base = name[: -len(FILTERED_SUFFIX)] if filtered else name
        lines, domain = _eligible(corpus_dir, base, filtered)
        mixture.available[name] = len(lines)
        if keep is not None and base not in keep:
            mixture.skipped[name] = "dropped by curation"
            continue
        count = round(amount * len(lines)) if isinstance(amount, float) else min(amount, len(lines))
        if spec.balance_to is not None and lines and domain == "medical":
            count = min(count, spec.balance_to)
        # Sampling positions draws the same samples as sampling the loaded list would.
        chosen = rng.sample(range(len(lines)), count) if count < len(lines) else range(len(lines))
        samples = _read_lines(corpus_dir, base, [lines[i] for i in chosen], absolute_images)
        mixture.counts[name] = len(samples)
        mixture.samples.extend(samples)
    rng.shuffle(mixture.samples)
    return mixture
