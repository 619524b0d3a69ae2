"""The bundled miniature corpus: every data family of the paper, generated on disk, deterministically.

Chapter 00 (overview) walks through the corpus; CONTRIBUTING.md fixes its layout::

    <corpus>/manifest.json              sources, families, counts, defect rates, benchmarks, checksums
    <corpus>/sources/<source>.jsonl     samples in the shared schema
    <corpus>/images/<source>/<id>.png   images
    <corpus>/labels/defects.jsonl       {"id", "source", "defect"}: ground truth, apart from the samples
    <corpus>/benchmarks/<benchmark>/... held-out splits in each benchmark's published format
    <corpus>/benchmarks/<benchmark>/findings.jsonl  {"id", "modality", "finding"}: each item's true
                                        image findings, for chapter 08's diagnostics only

The whole corpus is built in a temporary folder beside ``out_dir`` and renamed into place at the
end, so an interrupted run never leaves a half-written corpus behind.
"""
from __future__ import annotations

import functools
import hashlib
import multiprocessing
import os
import shutil
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from infimed_lib.common import (ParameterError, atomic_write_json, atomic_write_jsonl, file_sha256, read_json,
                                require_type)

from infimed_lib.data.benchmarks import BENCHMARKS, write_benchmark
from infimed_lib.data.corpus.corpus_bench import BENCHMARK_COUNTS, build_benchmark, findings_rows
from infimed_lib.data.corpus.corpus_medical import Context
from infimed_lib.data.corpus.corpus_plan import scaled
from infimed_lib.data.corpus.corpus_sources import build_sources
from infimed_lib.data.corpus.defects import DEFECT_TYPES, apply_defect, assign_defects, defect_counts
from infimed_lib.data.corpus.dicom_images import split_real_images
from infimed_lib.data.images import png_bytes

# 2: multiple choice answered with the option's text, name-the-option instructions in the general
# instruction source, and a findings.jsonl beside each benchmark (chapter 08's diagnostics only).
GENERATOR_VERSION = 3
MIN_SOURCE_SAMPLES = 4
MIN_BENCHMARK_ITEMS = 8
MAX_SCALE = 100.0
_TRAIN_STREAM, _BENCHMARK_STREAM = 0, 1  # separate random streams: no benchmark image is a training image


def _check_args(out_dir, seed, scale, vqa_scale) -> tuple[Path, int, float, float]:
    if out_dir is None or str(out_dir) == "":
        raise ParameterError("out_dir", "is empty; give the folder to write the corpus into")
    require_type("seed", seed, int)
    if seed < 0:
        raise ParameterError("seed", f"must be a non-negative integer, got {seed}")
    require_type("scale", scale, (int, float))
    if not 0 < float(scale) <= MAX_SCALE:
        raise ParameterError("scale", f"must be > 0 and <= {MAX_SCALE}, got {scale}")
    require_type("vqa_scale", vqa_scale, (int, float))
    if not 0 < float(vqa_scale) * float(scale) <= MAX_SCALE:
        raise ParameterError("vqa_scale", f"must be > 0 with scale * vqa_scale <= {MAX_SCALE}, got {vqa_scale}")
    return Path(out_dir).expanduser().absolute(), int(seed), float(scale), float(vqa_scale)


def _generator_args(seed: int, scale: float, vqa_scale: float) -> dict:
    args = {"name": "infimed_lib.data.corpus", "version": GENERATOR_VERSION, "seed": seed, "scale": scale}
    # Named only when set, so a default corpus keeps the manifest (and checksums) it always had.
    return args if vqa_scale == 1.0 else {**args, "vqa_scale": vqa_scale}


def source_count(spec, scale: float, vqa_scale: float = 1.0) -> int:
    """How many samples a source gets: ``vqa_scale`` multiplies the short-answer VQA sources only (Chapter 00)."""
    return scaled(spec.count, scale * (vqa_scale if spec.kind == "vqa" else 1.0), MIN_SOURCE_SAMPLES)


def _write_source(root: Path, spec, index: int, seed: int, n: int, ctx: Context, bar) -> dict:
    """Write ``n`` samples of one source with their images; return its manifest entry and defect labels."""
    rng = np.random.default_rng([seed, _TRAIN_STREAM, index])
    slots = spec.plan(rng, n)
    # Refusals are a property of the data (Table 4 filters them), not a defect; keep them clean.
    # Text-only samples stay clean too: two of the five defects concern an image they lack.
    eligible = [i for i, slot in enumerate(slots) if not slot.get("refusal") and not slot.get("text_only")]
    counts = defect_counts(n, spec.defect_rate, spec.defect_mix)
    labels: list[str | None] = [None] * n
    for i, label in zip(eligible, assign_defects(len(eligible), counts, rng)):
        labels[i] = label
    image_dir = root / "images" / spec.name
    image_dir.mkdir(parents=True, exist_ok=True)
    samples, label_rows, digest = [], [], hashlib.sha256()
    for i, slot in enumerate(slots):
        draft = apply_defect(spec.make(rng, slot, ctx), labels[i], rng)
        paths = []
        for k, image in enumerate(draft.images):
            name = f"{i:06d}.png" if len(draft.images) == 1 else f"{i:06d}_{k}.png"
            data = png_bytes(image)
            # Plain writes are safe here: the whole folder is renamed into place only when complete.
            (image_dir / name).write_bytes(data)
            paths.append(f"images/{spec.name}/{name}")
            digest.update(paths[-1].encode() + hashlib.sha256(data).digest())
        sample_id = f"{spec.name}-{i:06d}"
        samples.append({"id": sample_id, "source": spec.name, "family": spec.family, "kind": spec.kind,
                        "domain": spec.domain, "images": paths, "conversations": draft.conversations,
                        "meta": draft.meta})
        label_rows.append({"id": sample_id, "source": spec.name, "defect": labels[i]})
        if bar is not None:
            bar.update(1)
    atomic_write_jsonl(root / "sources" / f"{spec.name}.jsonl", samples)
    realised = {t: sum(1 for x in labels if x == t) for t in DEFECT_TYPES}
    entry = {
        "family": spec.family, "kind": spec.kind, "domain": spec.domain, "stands_for": spec.stands_for,
        "dropped_in_paper": spec.dropped_in_paper, "count": n, "path": f"sources/{spec.name}.jsonl",
        "images": sum(len(s["images"]) for s in samples), "images_sha256": digest.hexdigest(),
        "defect_rate": spec.defect_rate, "defect_count": sum(realised.values()),
        "defect_rate_realised": round(sum(realised.values()) / n, 6), "defect_counts": realised,
        "refusals": sum(1 for s in samples if s["meta"].get("refusal")),
    }
    return {"entry": entry, "labels": label_rows}


def _write_benchmarks(root: Path, seed: int, scale: float, held_out: Context, bar) -> dict:
    out = {}
    for index, name in enumerate(BENCHMARKS):
        count = scaled(BENCHMARK_COUNTS[name], scale, MIN_BENCHMARK_ITEMS)
        rng = np.random.default_rng([seed, _BENCHMARK_STREAM, index])
        attrs: list[dict] = []
        items = build_benchmark(name, count, rng, held_out, attrs)
        write_benchmark(name, items, root / "benchmarks" / name)
        # Beside the published files, not in them: no evaluation reader looks for this name.
        atomic_write_jsonl(root / "benchmarks" / name / "findings.jsonl", findings_rows(items, attrs))
        types: dict[str, int] = {}
        for item in items:
            types[item.question_type] = types.get(item.question_type, 0) + 1
        out[name] = {"path": f"benchmarks/{name}", "count": len(items), "question_types": types}
        bar.update(count)
    return out


@functools.lru_cache(maxsize=1)
def _real_images(seed: int) -> dict:
    return split_real_images(seed)


def _source_job(root: str, index: int, seed: int, n: int) -> dict:
    """One source, written by a worker process (the specs hold closures, so each worker rebuilds them)."""
    return _write_source(Path(root), build_sources()[index], index, seed, n, Context(_real_images(seed)["train"]), None)


def _write_sources(root: Path, seed: int, counts: list[int], workers: int, bar) -> list[dict]:
    """Every source's manifest entry and labels, in source order whatever order they finish in.

    Each source draws from its own seeded stream, so sources are independent and can be made in
    parallel: ``workers`` processes (spawned, not forked: the notebook kernel may hold threads)
    give byte-identical files in about 1/workers of the time.
    """
    if workers <= 1:
        specs, ctx = build_sources(), Context(_real_images(seed)["train"])
        return [_write_source(root, spec, i, seed, counts[i], ctx, bar) for i, spec in enumerate(specs)]
    largest_first = sorted(range(len(counts)), key=lambda i: -counts[i])
    written = [None] * len(counts)
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        jobs = {pool.submit(_source_job, str(root), i, seed, counts[i]): i for i in largest_first}
        for job in as_completed(jobs):
            written[jobs[job]] = job.result()
            bar.update(counts[jobs[job]])
    return written


def _write_corpus(root: Path, seed: int, scale: float, vqa_scale: float, workers: int) -> None:
    split = _real_images(seed)
    specs = build_sources()
    counts = [source_count(spec, scale, vqa_scale) for spec in specs]
    total = sum(counts) + sum(
        scaled(c, scale, MIN_BENCHMARK_ITEMS) for c in BENCHMARK_COUNTS.values())
    sources, families, labels = {}, {}, []
    with tqdm(total=total, desc="miniature corpus", unit="sample") as bar:
        for spec, written in zip(specs, _write_sources(root, seed, counts, workers, bar)):
            sources[spec.name] = written["entry"]
            families.setdefault(spec.family, []).append(spec.name)
            labels.extend(written["labels"])
        benchmarks = _write_benchmarks(root, seed, scale, Context(split["benchmark"]), bar)
    atomic_write_jsonl(root / "labels" / "defects.jsonl", labels)
    checksums = {p.relative_to(root).as_posix(): file_sha256(p) for p in sorted(root.rglob("*"))
                 if p.is_file() and not p.relative_to(root).as_posix().startswith("images/")}
    dicom = [{"ref": r.ref, "modality": r.modality, "dicom_modality": r.dicom_modality, "body_part": r.body_part,
              "split": part} for part, reals in split.items() for r in reals]
    atomic_write_json(root / "manifest.json", {
        "generator": _generator_args(seed, scale, vqa_scale), "image_size": 96, "families": families,
        "sources": sources, "benchmarks": benchmarks, "defect_types": list(DEFECT_TYPES),
        "dicom_images": sorted(dicom, key=lambda d: d["ref"]), "checksums": checksums,
    })


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_stale(out: Path) -> None:
    """Remove leftovers of generations into ``out`` that were killed (their process is gone)."""
    for leftover in out.parent.glob(f".{out.name}.partial-*"):
        pid = leftover.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not _pid_alive(int(pid)):
            shutil.rmtree(leftover, ignore_errors=True)


def generate_corpus(out_dir: str | os.PathLike, seed: int = 0, scale: float = 1.0, vqa_scale: float = 1.0,
                    workers: int | None = None) -> Path:
    """Generate the miniature corpus into ``out_dir`` and return its path (Chapter 00).

    Same arguments give byte-identical files. ``scale`` multiplies every source's and
    benchmark's size (each keeps a few samples at tiny scales); ``vqa_scale`` multiplies the
    short-answer VQA sources' sizes on top (chapter 08: more distinct training images is what lifts the
    miniature model's closed-question scores). An existing corpus at
    ``out_dir`` is replaced only once the new one is complete. ``workers`` processes make the
    sources (default: one per CPU core, at most 4); the files do not depend on it.
    """
    out, seed, scale, vqa_scale = _check_args(out_dir, seed, scale, vqa_scale)
    workers = min(4, os.cpu_count() or 1) if workers is None else require_type("workers", workers, int)
    if workers < 1:
        raise ParameterError("workers", f"must be >= 1, got {workers}")
    out.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale(out)
    partial = out.parent / f".{out.name}.partial-{os.getpid()}"
    shutil.rmtree(partial, ignore_errors=True)
    try:
        partial.mkdir()
        _write_corpus(partial, seed, scale, vqa_scale, workers)
        if out.exists():
            old = out.parent / f".{out.name}.old-{os.getpid()}"
            os.replace(out, old)
            os.replace(partial, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(partial, out)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return out


def corpus_matches(out_dir: str | os.PathLike, seed: int, scale: float, vqa_scale: float = 1.0) -> bool:
    """True when ``out_dir`` holds a complete corpus made with these arguments (Chapter 00)."""
    out, seed, scale, vqa_scale = _check_args(out_dir, seed, scale, vqa_scale)
    manifest_path = out / "manifest.json"
    if not manifest_path.is_file():
        return False
    try:
        manifest = read_json(manifest_path)
    except ValueError:
        return False
    if manifest.get("generator") != _generator_args(seed, scale, vqa_scale):
        return False
    return all((out / rel).is_file() for rel in manifest.get("checksums", {}))


def ensure_corpus(out_dir: str | os.PathLike, seed: int = 0, scale: float = 1.0, vqa_scale: float = 1.0) -> Path:
    """The corpus at ``out_dir``, generated only if missing or made with other arguments (Chapter 00)."""
    out, seed, scale, vqa_scale = _check_args(out_dir, seed, scale, vqa_scale)
    if corpus_matches(out, seed, scale, vqa_scale):
        return out
    return generate_corpus(out, seed, scale, vqa_scale)
