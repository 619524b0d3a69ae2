"""Packed shards in the paper's JSON format: writer and validating reader. Chapter 02 writes them,
chapter 04 trains on them.

Each bin is one JSON line ``{"data": [sample, ...], "lengths": [int, ...]}`` (paper section 3.3,
step 3): ``data`` holds schema samples with every image inlined as a base64 data URL (PNG and
JPEG files byte for byte, other formats as PNG), ``lengths[i]`` the multimodal length of ``data[i]``. Bins are grouped into
``shard-00000.jsonl``, ``shard-00001.jsonl``, ... and ``manifest.json`` records the capacity,
the visual tokens per image, the template, a fingerprint of the tokenizer, the counts, and a
sha256 per shard. Every file is written atomically, the manifest last, so a reader never sees a
half-written set. The reader checks every bin and names the file and bin of the first problem.
"""
from __future__ import annotations

import base64
import hashlib
import io
import json
import os
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
from PIL import Image, UnidentifiedImageError
from tqdm.auto import tqdm
from transformers import PreTrainedTokenizerBase

from infimed_lib.common import ParameterError, atomic_write_json, atomic_write_jsonl, file_sha256, read_json
from infimed_lib.data.images import image_to_data_url, load_image
from infimed_lib.data.tokenizer import encode_sample

MANIFEST = "manifest.json"
FORMAT = "infimed-packed-shards/1"
_DATA_URL = "data:"
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_JPEG_SIGNATURE = b"\xff\xd8\xff"


def tokenizer_fingerprint(tokenizer: PreTrainedTokenizerBase) -> str:
    """sha256 of what decides token ids: vocabulary, merges, normalizer, special tokens (Chapter 02).

    Truncation and padding settings are left out: ``transformers`` changes them on the backend
    whenever the tokenizer is called with ``padding=`` or ``truncation=``, and they do not change
    any sample's length here.
    """
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        definition = {"vocab": sorted(tokenizer.get_vocab().items())}
    else:
        definition = {k: v for k, v in json.loads(backend.to_str()).items() if k not in ("truncation", "padding")}
    return hashlib.sha256(json.dumps(definition, sort_keys=True).encode("utf-8")).hexdigest()


def image_data_url(path: str | os.PathLike) -> str:
    """``data:image/png;base64,...`` or ``data:image/jpeg;base64,...`` of an image file (Chapter 02).

    PNG and JPEG files are inlined byte for byte once PIL has parsed them: decoding
    and re-encoding every image would cost forty times as long, and a JPEG photograph re-encoded
    as PNG (as the real caption sets' images are) grows several-fold. Other formats are
    converted to PNG.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise ValueError(f"image {str(path)!r}: cannot be read ({error.strerror})") from None
    kind = "png" if raw.startswith(_PNG_SIGNATURE) else "jpeg" if raw.startswith(_JPEG_SIGNATURE) else None
    if kind is None:
        return image_to_data_url(path)
    try:
        with Image.open(io.BytesIO(raw)) as image:
            image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError) as error:
        raise ValueError(f"image {str(path)!r}: not a valid {kind.upper()} ({error})") from None
    return f"data:image/{kind};base64," + base64.b64encode(raw).decode("ascii")


def inline_images(sample: dict, image_root: str | os.PathLike | None = None) -> dict:
    """A copy of ``sample`` whose images are base64 data URLs, inlined ones kept (Chapter 02)."""
    images = []
    for ref in sample.get("images") or []:
        if str(ref).startswith(_DATA_URL):
            images.append(str(ref))
        else:
            path = Path(ref) if image_root is None or Path(ref).is_absolute() else Path(image_root) / ref
            images.append(image_data_url(path))
    return dict(sample, images=images)


def _check_bins_argument(bins: Sequence[Sequence[int]], lengths: np.ndarray, capacity: int) -> None:
    seen = np.zeros(lengths.size, np.int64)
    for number, members in enumerate(bins):
        members = np.asarray(members, dtype=np.int64)
        if members.size == 0:
            raise ValueError(f"bin {number} is empty")
        if members.min() < 0 or members.max() >= lengths.size:
            raise ValueError(f"bin {number} names a sample outside 0..{lengths.size - 1}")
        if lengths[members].sum() > capacity:
            raise ValueError(f"bin {number} holds {lengths[members].sum()} tokens > capacity {capacity}")
        np.add.at(seen, members, 1)
    if (seen > 1).any():
        raise ValueError(f"sample {int(np.argmax(seen > 1))} is in more than one bin")


def write_shards(out_dir: str | os.PathLike, samples: Sequence[dict], lengths: Sequence[int] | np.ndarray,
                 bins: Sequence[Sequence[int]], *, capacity: int, num_visual_tokens: int,
                 tokenizer: PreTrainedTokenizerBase | None = None, template: str = "plain",
                 bins_per_shard: int = 256, image_root: str | os.PathLike | None = None,
                 extra: dict | None = None, progress: bool = False) -> dict:
    """Write ``bins`` (lists of sample indices) as shards under ``out_dir``; returns the manifest (Chapter 02).

    ``lengths[i]`` is the multimodal length of ``samples[i]``; each bin's total must fit
    ``capacity``. ``extra`` is stored in the manifest (e.g. the over-long report). Shard files
    of an earlier run that the new manifest does not list are removed.
    """
    if isinstance(bins_per_shard, bool) or not isinstance(bins_per_shard, int) or bins_per_shard < 1:
        raise ParameterError("bins_per_shard", f"must be a positive int, got {bins_per_shard!r}")
    lengths = np.asarray(lengths, dtype=np.int64)
    if lengths.shape != (len(samples),):
        raise ValueError(f"lengths has shape {lengths.shape} but there are {len(samples)} samples")
    _check_bins_argument(bins, lengths, capacity)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / MANIFEST).unlink(missing_ok=True)  # readers must not pair old manifest with new shards
    shards = []
    for start in tqdm(range(0, len(bins), bins_per_shard), desc="shards", disable=not progress):
        rows = [{"data": [inline_images(samples[i], image_root) for i in members],
                 "lengths": [int(lengths[i]) for i in members]}
                for members in bins[start:start + bins_per_shard]]
        name = f"shard-{len(shards):05d}.jsonl"
        atomic_write_jsonl(out_dir / name, rows)
        shards.append({"file": name, "num_bins": len(rows), "num_samples": sum(len(r["data"]) for r in rows),
                       "num_tokens": sum(sum(r["lengths"]) for r in rows), "sha256": file_sha256(out_dir / name)})
    manifest = {
        "format": FORMAT, "capacity": capacity, "num_visual_tokens": num_visual_tokens, "template": template,
        "tokenizer_sha256": tokenizer_fingerprint(tokenizer) if tokenizer is not None else None,
        "num_bins": len(bins), "num_samples": sum(s["num_samples"] for s in shards),
        "num_tokens": sum(s["num_tokens"] for s in shards), "shards": shards, "extra": extra or {},
    }
    atomic_write_json(out_dir / MANIFEST, manifest)
    listed = {s["file"] for s in shards}
    for stale in out_dir.glob("shard-*.jsonl"):
        if stale.name not in listed:
            stale.unlink()
    return manifest


def read_manifest(shard_dir: str | os.PathLike) -> dict:
    """The manifest of a shard folder; ValueError if missing or not a shard manifest (Chapters 02, 04)."""
    path = Path(shard_dir) / MANIFEST
    if not path.is_file():
        raise ValueError(f"{shard_dir}: no {MANIFEST}; write the shards with write_shards (chapter 02)")
    manifest = read_json(path)
    if manifest.get("format") != FORMAT:
        raise ValueError(f"{path}: format {manifest.get('format')!r}, expected {FORMAT!r}")
    return manifest


def _bin_problem(row, manifest: dict, tokenizer) -> str | None:
    """What is wrong with one parsed bin, or None."""
    if not isinstance(row, dict) or not isinstance(row.get("data"), list) or not isinstance(row.get("lengths"), list):
        return "not an object with 'data' and 'lengths' lists"
    data, lengths = row["data"], row["lengths"]
    if not data:
        return "empty bin"
    if len(data) != len(lengths):
        return f"{len(data)} samples but {len(lengths)} lengths"
    if any(isinstance(n, bool) or not isinstance(n, int) or n < 1 for n in lengths):
        return f"lengths {lengths} are not all positive integers"
    if sum(lengths) > manifest["capacity"]:
        return f"lengths sum to {sum(lengths)} > capacity {manifest['capacity']}"
    for position, (sample, recorded) in enumerate(zip(data, lengths)):
        if not isinstance(sample, dict):
            return f"sample {position} is not a JSON object"
        where = f"sample {position} ({sample.get('id')!r})"
        for image_index, ref in enumerate(sample.get("images") or []):
            if not str(ref).startswith(_DATA_URL):
                return f"{where} image {image_index} is not inlined as a data URL"
            try:
                load_image(ref)
            except ValueError as error:
                return f"{where} image {image_index} does not decode: {error}"
        if tokenizer is not None:
            try:
                actual = len(encode_sample(tokenizer, sample, manifest["num_visual_tokens"], manifest["template"]))
            except (ValueError, KeyError, TypeError, AttributeError) as error:
                return f"{where} cannot be encoded: {error}"
            if actual != recorded:
                return f"{where} recorded length {recorded} != {actual} recomputed with the tokenizer"
    return None


def _parse_bins(path: Path, raw: bytes, manifest: dict, tokenizer, validate: bool) -> Iterator[dict]:
    for number, line in enumerate(raw.decode("utf-8", errors="replace").splitlines()):
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            raise ValueError(f"{path.name} bin {number} (line {number + 1}): not valid JSON ({error.msg})") from None
        problem = _bin_problem(row, manifest, tokenizer) if validate else None
        if problem:
            raise ValueError(f"{path.name} bin {number} (line {number + 1}): {problem}")
        yield row


def read_bins(shard_dir: str | os.PathLike, validate: bool = True,
              tokenizer: PreTrainedTokenizerBase | None = None) -> Iterator[dict]:
    """Yield the bins of a shard folder in order, each ``{"data": [...], "lengths": [...]}`` (Chapters 02, 04).

    With ``validate`` every shard's sha256 is checked before any of its bins is yielded, and
    every bin is checked: lengths sum to at most the capacity, images decode, and, when
    ``tokenizer`` is given (it must be the one the shards were written with), every recorded
    length equals the recomputed one. The first problem raises ValueError naming file and bin.
    """
    shard_dir = Path(shard_dir)
    manifest = read_manifest(shard_dir)
    written_with = manifest.get("tokenizer_sha256")
    if validate and tokenizer is not None and written_with not in (None, tokenizer_fingerprint(tokenizer)):
        raise ValueError(f"{shard_dir / MANIFEST}: the shards were written with another tokenizer "
                         f"(sha256 {manifest['tokenizer_sha256'][:12]}...)")
    for entry in manifest["shards"]:
        path = shard_dir / entry["file"]
        if not path.is_file():
            raise ValueError(f"{path.name}: listed in {MANIFEST} but missing from {shard_dir}")
        raw = path.read_bytes()
        if validate and hashlib.sha256(raw).hexdigest() != entry["sha256"]:
            for _ in _parse_bins(path, raw, manifest, tokenizer, True):
                pass  # a bin-level problem, if there is one, gives the more precise message
            raise ValueError(f"{path.name}: sha256 does not match {MANIFEST}; the file changed after it was written")
        count = 0
        for row in _parse_bins(path, raw, manifest, tokenizer, validate):
            count += 1
            yield row
        if validate and count != entry["num_bins"]:
            raise ValueError(f"{path.name}: {count} bins but {MANIFEST} lists {entry['num_bins']}")
