"""Tables and figures of chapter 00: the corpus at a glance, the profiles side by side."""
from __future__ import annotations

import textwrap
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import yaml

from infimed_lib.common import ParameterError, iter_jsonl, read_json
from infimed_lib.data.images import load_image

GALLERY_MODALITIES = ["CT", "MRI", "X-ray", "histopathology", "dermoscopy", "MR", "US", "CR", "DX"]


def corpus_summary(corpus_dir: str | Path) -> pd.DataFrame:
    """One row per source: family, kind, samples, images, and its injected defect rate.

    Sources are streamed, so a corpus of real datasets is counted in constant memory."""
    corpus_dir = Path(corpus_dir)
    manifest = read_json(corpus_dir / "manifest.json")
    rows = []
    for name, info in sorted(manifest["sources"].items()):
        samples = images = 0
        for sample in iter_jsonl(corpus_dir / "sources" / f"{name}.jsonl"):
            samples += 1
            images += len(sample.get("images", []))
        rows.append({"source": name, "family": info.get("family"), "kind": info.get("kind"),
                     "samples": samples, "images": images,
                     "injected defect rate": info.get("defect_rate", 0.0)})
    return pd.DataFrame(rows).sort_values(["family", "source"]).reset_index(drop=True)


def first_sample(corpus_dir: str | Path, source: str = "") -> dict:
    """The first sample with an image of ``source`` (for chapter 00's worked example).

    ``source=""`` takes the corpus's first medical VQA source (manifest order) that has one, then
    any source with an image, so the example works on the miniature and on an imported corpus.
    """
    corpus_dir = Path(corpus_dir)
    sources = read_json(corpus_dir / "manifest.json")["sources"]
    if source and source not in sources:
        raise ParameterError("example_source", f"{source!r} is not a source of {corpus_dir} (known: {sorted(sources)})")
    medical_vqa = [n for n, i in sources.items() if i.get("kind") == "vqa" and i.get("domain") == "medical"]
    for name in [source] if source else [*medical_vqa, *(n for n in sources if n not in medical_vqa)]:
        for sample in iter_jsonl(corpus_dir / "sources" / f"{name}.jsonl"):
            if sample.get("images"):
                return sample
    raise ValueError(f"{source or corpus_dir!s} has no sample with an image")


def _gallery_picks(corpus_dir: Path) -> list[tuple[str, dict]]:
    """First image of each modality, from sources with few injected defects (clean examples)."""
    sources = read_json(corpus_dir / "manifest.json")["sources"]
    clean = [name for name, info in sorted(sources.items()) if (info.get("defect_rate") or 0) <= 0.1]
    picks: dict[str, dict] = {}
    for name in clean:
        for sample in iter_jsonl(corpus_dir / "sources" / f"{name}.jsonl"):
            modality = sample.get("meta", {}).get("modality")
            if modality and modality not in picks and sample.get("images") and sample["domain"] == "medical":
                picks[modality] = sample
    ordered = [m for m in GALLERY_MODALITIES if m in picks] + sorted(set(picks) - set(GALLERY_MODALITIES))
    return [(m, picks[m]) for m in ordered]


def plot_corpus_gallery(corpus_dir: str | Path, seed: int = 0, columns: int = 5):
    """One image per modality with the start of its text (the generator's finding)."""
    corpus_dir = Path(corpus_dir)
    picks = _gallery_picks(corpus_dir)
    rows = max(1, -(-len(picks) // columns))
    fig, axes = plt.subplots(rows, columns, figsize=(3.2 * columns, 4.3 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, (modality, sample) in zip(axes.flat, picks):
        ax.imshow(load_image(sample["images"][0], corpus_dir))
        answer = next((t["value"] for t in sample["conversations"] if t["from"] == "gpt"), "")
        ax.set_title(f"{modality}\n{sample['source']}", fontsize=9)
        ax.text(0.5, -0.04, "\n".join(textwrap.wrap(answer, 38)[:3]), transform=ax.transAxes,
                ha="center", va="top", fontsize=7.5)
    fig.subplots_adjust(hspace=0.45, wspace=0.08)
    return fig


def _flatten(prefix: str, value, out: dict) -> dict:
    if isinstance(value, dict) and value and not prefix.endswith("mixture"):
        for key, inner in value.items():
            _flatten(f"{prefix}.{key}" if prefix else str(key), inner, out)
    else:
        out[prefix] = value
    return out


def profile_comparison(profiles_dir: str | Path, names=("tiny", "paper")) -> pd.DataFrame:
    """Settings that differ between profiles, one row per parameter."""
    flat = {}
    for name in names:
        data = yaml.safe_load((Path(profiles_dir) / f"{name}.yaml").read_text(encoding="utf-8"))
        flat[name] = _flatten("", {"(all)": data.get("parameters", {}), **(data.get("notebooks") or {})}, {})
    keys = sorted(set().union(*flat.values()))
    rows = [{"parameter": k, **{n: _short(flat[n].get(k, "—")) for n in names}} for k in keys]
    frame = pd.DataFrame(rows)
    differs = frame[list(names)].nunique(axis=1) > 1
    return frame[differs].reset_index(drop=True)


def _short(value) -> str:
    text = str(value)
    return text if len(text) <= 60 else text[:57] + "..."
