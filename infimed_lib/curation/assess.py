"""The assessment run: seeded sampling per dataset, judging with a resumable JSONL cache.

Chapter 01 (data curation) runs it. The paper scored 500 random samples per dataset
(section 3.2); ``n_per_source`` is that number.
"""
from __future__ import annotations

import hashlib
import json
import os
import time
import zlib
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
from tqdm.auto import tqdm

from infimed_lib.common import ParameterError, atomic_write_jsonl, require_path
from infimed_lib.curation.judges import Judge, JudgeError, RequestRejected, resolve_image_ref
from infimed_lib.curation.parse import parse_judgement
from infimed_lib.curation.rubric import apply_no_image_rule, load_prompt_template, prompt_hash, render_prompt

MEDICAL_FAMILIES = ("medical_caption", "medical_instruction")
# Statuses: "ok" (scores parsed), "parse_error" (the judge answered, unusably: asking again
# at temperature 0 gives the same answer, so a resumed run keeps it), "request_error" (no
# answer: network, server, model; a resumed run asks again).
REUSED_STATUSES = frozenset({"ok", "parse_error"})


def _first_row(path: Path) -> dict:
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                return json.loads(line)
    return {}


def list_sources(corpus_dir: str | os.PathLike, families: Sequence[str] | None = MEDICAL_FAMILIES) -> dict[str, Path]:
    """``sources/<name>.jsonl`` files of a corpus, restricted to ``families`` (None: all).

    A source's family is read from its first sample. Chapter 01.
    """
    root = require_path("corpus_dir", corpus_dir, kind="dir")
    files = sorted((root / "sources").glob("*.jsonl"))
    if not files:
        raise ParameterError("corpus_dir", f"no sources/*.jsonl under {root}")
    chosen = {p.stem: p for p in files if families is None or _first_row(p).get("family") in families}
    if not chosen:
        raise ParameterError("families", f"no source of families {list(families or [])} in {root}")
    return chosen


def sample_source(path: str | os.PathLike, n: int, seed: int) -> list[dict]:
    """``n`` samples drawn uniformly without replacement from a JSONL file (all if fewer).

    Two passes (count, then read the chosen lines) keep memory flat on million-row sources;
    the generator is seeded by ``seed`` and the file name, so adding a source does not change
    the draw of the others. Chapter 01.
    """
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ParameterError("samples_per_dataset", f"must be an integer >= 1, got {n!r}")
    path = Path(path)
    with open(path, "rb") as handle:
        n_rows = sum(1 for line in handle if line.strip())
    rng = np.random.default_rng([seed, zlib.crc32(path.stem.encode("utf-8"))])
    # Generator.choice draws k of N without building all N indices when k << N.
    picked = set(rng.choice(n_rows, size=min(n, n_rows), replace=False).tolist())
    rows, row = [], 0
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if not line.strip():
                continue
            if row in picked:
                rows.append(json.loads(line))
            row += 1
    return rows


def sample_corpus(corpus_dir, n_per_source: int, seed: int, families=MEDICAL_FAMILIES) -> list[dict]:
    """The assessment sample: :func:`sample_source` over every selected source. Chapter 01."""
    return [row for path in list_sources(corpus_dir, families).values() for row in sample_source(path, n_per_source, seed)]


def cache_key(sample_id: str, judge_id: str, prompt_digest: str) -> str:
    """Cache key of one judgement: sample, judge and prompt (a new prompt is a new key). Chapter 01."""
    return hashlib.sha256(f"{sample_id}\x1f{judge_id}\x1f{prompt_digest}".encode("utf-8")).hexdigest()[:24]


class JudgementCache:
    """Append-only JSONL journal of judgements, read back on resume.

    Appending rather than rewriting keeps an interrupted run's work: each line is flushed as it
    is written (a crash or Ctrl-C loses nothing already answered) and fsync'ed at most every
    ``sync_every_s`` seconds and on close (a per-line fsync costs more than the reference judge
    itself; only a power cut can lose the last seconds). A torn last line is skipped on reading.
    The final, deduplicated table is written atomically by :func:`write_judgements`. Chapter 01.
    """

    def __init__(self, path: str | os.PathLike, sync_every_s: float = 2.0):
        self.path = Path(path)
        self.records: dict[str, dict] = {}
        self.torn_lines = 0
        self.sync_every_s = sync_every_s
        self._handle = None
        self._synced = 0.0
        if self.path.exists():
            with open(self.path, encoding="utf-8") as handle:
                for line in handle:
                    if not line.strip():
                        continue
                    try:
                        record = json.loads(line)
                    except json.JSONDecodeError:
                        self.torn_lines += 1
                        continue
                    self.records[record["key"]] = record  # later lines win (re-asked failures)

    def get(self, key: str) -> dict | None:
        return self.records.get(key)

    def _open(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        torn = False
        if self.path.exists() and self.path.stat().st_size:
            with open(self.path, "rb") as handle:
                handle.seek(-1, os.SEEK_END)
                torn = handle.read(1) != b"\n"
        self._handle = open(self.path, "a", encoding="utf-8")
        if torn:  # a torn line from a crash: start a fresh line
            self._handle.write("\n")

    def add(self, record: Mapping[str, Any]) -> None:
        if self._handle is None:
            self._open()
        self._handle.write(json.dumps(record, sort_keys=True, ensure_ascii=False) + "\n")
        self._handle.flush()
        if time.monotonic() - self._synced > self.sync_every_s:
            os.fsync(self._handle.fileno())
            self._synced = time.monotonic()
        self.records[record["key"]] = dict(record)

    def close(self) -> None:
        if self._handle is not None:
            self._handle.flush()
            os.fsync(self._handle.fileno())
            self._handle.close()
            self._handle = None

    def __enter__(self) -> "JudgementCache":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def judge_one(judge: Judge, sample: Mapping[str, Any], template: str, digest: str, root) -> dict:
    """Ask ``judge`` about one sample and turn whatever happens into a record (never raises
    for judge failures: one bad sample must not end a 3,500-request run). Chapter 01."""
    images = [resolve_image_ref(ref, root) for ref in sample.get("images") or []]
    record: dict[str, Any] = {
        "key": cache_key(sample["id"], judge.judge_id, digest),
        "sample_id": sample["id"], "source": sample.get("source", ""),
        "judge_id": judge.judge_id, "prompt_hash": digest, "n_images": len(images),
        "scores": None, "raw": None, "error": None, "attempts": 0, "latency_s": 0.0,
        "no_image_rule_applied": False,
    }
    try:
        reply = judge.judge(sample, render_prompt(template, sample, judge.takes_images), images)
    except JudgeError as error:
        record.update(status="request_error", error=str(error), attempts=error.attempts)
        if isinstance(error, RequestRejected):
            record["rejected_status"] = error.status
        return record
    except Exception as error:  # a judge bug is recorded per sample, like a network failure
        record.update(status="request_error", error=f"{type(error).__name__}: {error}", attempts=1)
        return record
    record.update(raw=reply.text, attempts=reply.attempts, latency_s=round(reply.latency_s, 4))
    try:
        scores = parse_judgement(reply.text)
    except ValueError as error:
        record.update(status="parse_error", error=str(error))
        return record
    scores, corrected = apply_no_image_rule(scores, has_image=bool(images))
    record.update(status="ok", scores=scores, no_image_rule_applied=corrected)
    return record


class JudgeRejectedError(RuntimeError):
    """The judge's server refused the run's first request (HTTP 4xx): a setting, not a sample. Chapter 01."""


def assess(
    samples: Sequence[Mapping[str, Any]],
    judge: Judge,
    cache_path: str | os.PathLike,
    template: str | None = None,
    corpus_root: str | os.PathLike | None = None,
    concurrency: int = 4,
    retry_parse_errors: bool = False,
    progress: bool = True,
) -> list[dict]:
    """Judge every sample, reusing cached judgements; return one record per sample, in order.

    Cached records with the same (sample, judge, prompt) key are reused, except request errors
    (and parse errors when ``retry_parse_errors``), which are asked again. New records are
    journaled as they arrive, so an interrupted run (Ctrl-C, crash) loses at most the
    requests in flight. ``concurrency`` is capped by ``judge.max_concurrency``. A non-retryable
    HTTP 4xx before any judgement came back raises :class:`JudgeRejectedError` (once, with the
    server's message); after one, a 4xx is recorded for its sample. Chapter 01.
    """
    if not isinstance(concurrency, int) or isinstance(concurrency, bool) or concurrency < 1:
        raise ParameterError("concurrency", f"must be an integer >= 1, got {concurrency!r}")
    ids = [s.get("id") for s in samples]
    if len(set(ids)) != len(ids) or None in ids:
        raise ParameterError("samples", "every sample needs a unique 'id'")
    template = load_prompt_template() if template is None else template
    digest = prompt_hash(template)
    cache = JudgementCache(cache_path)
    reuse = REUSED_STATUSES - ({"parse_error"} if retry_parse_errors else set())
    results: dict[str, dict] = {}
    todo = []
    for sample in samples:
        cached = cache.get(cache_key(sample["id"], judge.judge_id, digest))
        if cached is not None and cached.get("status") in reuse:
            results[sample["id"]] = cached
        else:
            todo.append(sample)
    workers = max(1, min(concurrency, getattr(judge, "max_concurrency", 1)))
    bar = tqdm(total=len(samples), initial=len(results), desc=f"judging ({judge.judge_id})", disable=not progress)

    answered = []

    def keep(record: dict) -> None:
        # A 4xx before any answer is the settings (key, model name, a parameter such as temperature),
        # not the sample: stop once with the server's words rather than fail every sample alike.
        # After an answer it is about that sample (too long, an unreadable image) and is recorded.
        if record.get("rejected_status") and not answered:
            raise JudgeRejectedError(f"{judge.judge_id}: the server rejected the first request ({record['error']}); "
                                     "check the judge's settings")
        if record["status"] != "request_error":
            answered.append(True)
        cache.add(record)
        results[record["sample_id"]] = record
        bar.update(1)

    try:
        if workers == 1:  # local judges: no thread hand-off per sample
            for sample in todo:
                keep(judge_one(judge, sample, template, digest, corpus_root))
        else:
            _judge_in_threads(todo, judge, template, digest, corpus_root, workers, keep)
    finally:
        cache.close()
        bar.close()
    return [results[i] for i in ids]


def _judge_in_threads(todo, judge, template, digest, corpus_root, workers, keep) -> None:
    pool = ThreadPoolExecutor(max_workers=workers)
    try:
        pending = {pool.submit(judge_one, judge, s, template, digest, corpus_root) for s in todo}
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            interrupt = None
            for future in done:
                try:
                    record = future.result()
                except BaseException as error:  # an interrupt: journal the finished ones first
                    interrupt = error
                    continue
                keep(record)
            if interrupt is not None:
                raise interrupt
    finally:
        # cancel_futures: after an interrupt, queued samples must not keep calling the judge.
        pool.shutdown(wait=True, cancel_futures=True)


# Bookkeeping that varies from run to run stays in the cache, out of the published table.
_VOLATILE = ("latency_s",)


def write_judgements(records: Iterable[Mapping[str, Any]], path: str | os.PathLike) -> Path:
    """Write the run's judgements atomically, sorted, without timings (re-runs are byte-equal). Chapter 01."""
    rows = [{k: v for k, v in r.items() if k not in _VOLATILE} for r in records]
    rows.sort(key=lambda r: (r["source"], r["sample_id"], r["judge_id"]))
    return atomic_write_jsonl(path, rows)
