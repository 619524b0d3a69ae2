"""Training data on disk: random access to JSONL lines, and the seeded global-batch order.

Chapter 04 explains why the order is a pure function of (seed, epoch, step): every process of a
multi-GPU run computes the same order without talking to the others, and a resumed run skips the
consumed batches by arithmetic instead of replaying them.
"""
from __future__ import annotations

import json
from bisect import bisect_right
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from infimed_lib.common import ParameterError, file_sha256, require_path
from infimed_lib.packing import read_manifest
from infimed_lib.packing import tokenizer_fingerprint


class JsonlRecords:
    """Random access to the lines of one or more JSONL files, by byte offset.

    Packed shards and stage mixtures can be far larger than memory at the paper's scale, so we
    keep only one offset per line (an int64 array) and parse a line when its batch needs it.
    """

    def __init__(self, paths: list[Path]):
        if not paths:
            raise ParameterError("data_path", "no JSONL files found")
        self.paths = [Path(p) for p in paths]
        self._offsets: list[np.ndarray] = [self._index(p) for p in self.paths]
        self._starts: list[int] = []
        total = 0
        for offsets in self._offsets:
            self._starts.append(total)
            total += len(offsets)
        self._len = total

    @staticmethod
    def _index(path: Path) -> np.ndarray:
        offsets, position = [], 0
        with open(path, "rb") as handle:
            for line in handle:
                if line.strip():
                    offsets.append(position)
                position += len(line)
        return np.asarray(offsets, dtype=np.int64)

    def __len__(self) -> int:
        return self._len

    def __getitem__(self, index: int) -> dict:
        if not 0 <= index < self._len:
            raise IndexError(index)
        file_index = bisect_right(self._starts, index) - 1
        path = self.paths[file_index]
        with open(path, "rb") as handle:
            handle.seek(int(self._offsets[file_index][index - self._starts[file_index]]))
            line = handle.readline()
        try:
            return json.loads(line)
        except json.JSONDecodeError as error:
            raise ValueError(f"{path}: record {index - self._starts[file_index]} is not valid JSON "
                             f"({error.msg})") from None


def open_samples(data_path: str | Path) -> JsonlRecords:
    """SFT data: a JSONL file of schema samples, or a folder of them (sorted by name). Chapter 05."""
    path = require_path("data_path", data_path)
    files = sorted(path.glob("*.jsonl")) if path.is_dir() else [path]
    return JsonlRecords(files)


def open_shards(shard_dir: str | Path, tokenizer=None, validate: bool = True) -> tuple[JsonlRecords, dict]:
    """CPT data: the packed shard folder of chapter 02 -> (bins, manifest). Chapter 04.

    ``infimed_lib.packing.read_bins`` streams bins in file order; shuffled global batches need
    random access, so we index the same files by line instead. With ``validate``, each shard's
    sha256 and the tokenizer fingerprint are checked against the manifest first, so stale
    shards or a different tokenizer stop the run before any step is spent on them.
    """
    folder = require_path("data_path", shard_dir, kind="dir")
    try:
        manifest = read_manifest(folder)
    except ValueError as error:
        raise ParameterError("data_path", str(error)) from None
    if manifest.get("template", "plain") != "plain":
        raise ParameterError("data_path", f"shards were packed with template {manifest['template']!r}; "
                             "continual pretraining re-encodes with 'plain'")
    files = [folder / entry["file"] for entry in manifest["shards"]]
    if validate:
        expected = manifest.get("tokenizer_sha256")
        if tokenizer is not None and expected not in (None, tokenizer_fingerprint(tokenizer)):
            raise ParameterError("tokenizer_path", f"differs from the tokenizer the shards in {folder} "
                                 "were packed with")
        for file, entry in zip(files, manifest["shards"]):
            if not file.is_file() or file_sha256(file) != entry["sha256"]:
                raise ValueError(f"{file}: missing or sha256 differs from manifest.json; "
                                 "re-run the packing step")
    records = JsonlRecords(files)
    if len(records) != manifest["num_bins"]:
        raise ValueError(f"{folder}: {len(records)} bins on disk but manifest.json lists "
                         f"{manifest['num_bins']}")
    return records, manifest


@lru_cache(maxsize=2)
def _permutation(num_units: int, seed: int, epoch: int) -> torch.Tensor:
    # Cached: at the paper's scale an epoch has millions of units and every step needs a slice.
    generator = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    return torch.randperm(num_units, generator=generator)


def epoch_order(num_units: int, seed: int, epoch: int) -> list[int]:
    """The shuffled order of one epoch: a seeded permutation, the same on every process. Chapter 04."""
    return _permutation(num_units, seed, epoch).tolist()


def global_batch(num_units: int, global_batch_size: int, seed: int, step: int) -> list[int]:
    """Unit indices of optimizer step ``step`` (0-based): the step-th slice of its epoch's order."""
    steps_per_epoch = num_units // global_batch_size
    if steps_per_epoch == 0:
        raise ParameterError("global_batch_size", f"{global_batch_size} exceeds the {num_units} "
                             "training units (bins or samples) available")
    epoch, within = divmod(step, steps_per_epoch)
    order = _permutation(num_units, seed, epoch)
    return order[within * global_batch_size:(within + 1) * global_batch_size].tolist()


def process_share(indices: list[int], micro_batch_size: int, num_processes: int,
                  process_index: int) -> list[list[int]]:
    """Split one global batch into this process's micro-batches (accumulation order). Chapter 04.

    Micro-step ``a`` of process ``r`` takes slice ``a * num_processes + r``, so every process
    does the same number of micro-steps and the union over processes is the global batch.
    """
    slices = [indices[i:i + micro_batch_size] for i in range(0, len(indices), micro_batch_size)]
    return slices[process_index::num_processes]
