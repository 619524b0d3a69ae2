"""Utilities shared by every pipeline step: atomic writes, parameter checks, run configs, seeding.

Chapter 00 (overview) explains the run-folder layout these functions maintain.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import random
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping


class ParameterError(ValueError):
    """A notebook or config parameter is wrong. The message names the parameter."""

    def __init__(self, name: str, problem: str):
        self.parameter = name
        super().__init__(f"parameter '{name}': {problem}")


def atomic_write_bytes(path: str | os.PathLike, data: bytes | Iterable[bytes]) -> Path:
    """Write ``data`` (bytes, or an iterable of byte chunks written as they come) to ``path``
    via a temp file in the same folder, then rename.

    A reader never sees a half-written file, and an interrupted write leaves the old one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            for chunk in [data] if isinstance(data, (bytes, bytearray)) else data:
                handle.write(chunk)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def to_jsonable(value: Any) -> Any:
    """Dataclasses, paths, numpy scalars and arrays -> plain JSON values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "tolist"):  # numpy arrays and scalars
        return value.tolist()
    return value


def dumps_json(value: Any) -> str:
    """Deterministic JSON (sorted keys, fixed indent) so re-runs give byte-identical files."""
    return json.dumps(to_jsonable(value), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def atomic_write_json(path: str | os.PathLike, value: Any) -> Path:
    return atomic_write_text(path, dumps_json(value))


def atomic_write_jsonl(path: str | os.PathLike, rows: Iterable[Any]) -> Path:
    """One JSON object per line; ``rows`` may be a generator, written as it yields (a source of
    millions of records never has to be in memory at once)."""
    lines = ((json.dumps(to_jsonable(r), sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8") for r in rows)
    return atomic_write_bytes(path, lines)


def read_json(path: str | os.PathLike) -> Any:
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def iter_jsonl(path: str | os.PathLike) -> Iterator[Any]:
    """Yield the records of a JSONL file one at a time, so a corpus-scale source (Mammoth-VL has
    about ten million records) never has to fit in memory; a malformed line raises ValueError
    naming file and line. Chapter 00."""
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise ValueError(f"{path}:{number}: not valid JSON ({error.msg})") from None
            yield record


def read_jsonl(path: str | os.PathLike) -> list[Any]:
    """All records of a (small) JSONL file as a list; see `iter_jsonl` for large ones."""
    return list(iter_jsonl(path))


def write_config(config: Any, out_dir: str | os.PathLike, name: str = "config.json") -> Path:
    """Write a run's resolved config dataclass beside its outputs."""
    return atomic_write_json(Path(out_dir) / name, config)


def config_from_mapping(cls: type, values: Mapping[str, Any], what: str, **overrides) -> Any:
    """Config dataclass ``cls`` from ``values`` and ``overrides``, naming the first unknown key as a ``what``."""
    values = {**values, **overrides}
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ParameterError(unknown[0], f"unknown {what} (known: {sorted(known)})")
    return cls(**values)


def read_config_json(path: str | os.PathLike) -> dict:
    """A run's ``config.json`` as a dict, or a ParameterError saying why it is not one."""
    try:
        values = read_json(path)
    except json.JSONDecodeError as error:
        raise ParameterError("config", f"{path} is not valid JSON ({error.msg})") from None
    if not isinstance(values, dict):
        raise ParameterError("config", f"{path} must hold a JSON object")
    return values


def run_command(job: Callable[[], Any], report: Callable[[Any], str] | None = None,
                errors: tuple[type[Exception], ...] = (ParameterError,)) -> int:
    """A command line's exit status: 2 with one ``error:`` line on one of ``errors``, else 0.

    On success it prints ``report(result)``, or by default the run's ``summary`` as JSON (the
    ``python -m infimed_lib.train``/``.rl`` entry points); every ``python -m`` entry point of the
    library ends through here.
    """
    try:
        result = job()
    except errors as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if report is not None:
        print(report(result))
    elif result.summary:
        print(dumps_json(result.summary), end="")
    return 0


def require_path(name: str, value: str | os.PathLike, kind: str = "any") -> Path:
    """Return ``value`` as a Path, or raise ParameterError naming ``name`` if it does not exist.

    ``kind`` is "file", "dir" or "any".
    """
    if value is None or str(value) == "":
        raise ParameterError(name, "is empty; give a path")
    path = Path(value).expanduser()
    if not path.exists():
        raise ParameterError(name, f"path does not exist: {path}")
    if kind == "file" and not path.is_file():
        raise ParameterError(name, f"expected a file, got a folder: {path}")
    if kind == "dir" and not path.is_dir():
        raise ParameterError(name, f"expected a folder, got a file: {path}")
    return path


def require_type(name: str, value: Any, expected: type | tuple[type, ...]) -> Any:
    """Raise ParameterError naming ``name`` unless ``value`` is an instance of ``expected``."""
    if isinstance(value, bool) and expected in (int, float):
        raise ParameterError(name, f"expected {expected.__name__}, got bool {value!r}")
    if not isinstance(value, expected):
        names = expected.__name__ if isinstance(expected, type) else " or ".join(t.__name__ for t in expected)
        raise ParameterError(name, f"expected {names}, got {type(value).__name__} {value!r}")
    return value


def require_positive_int(name: str, value: Any) -> int:
    """Return ``value`` if it is an int >= 1 (not a bool), else raise ParameterError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ParameterError(name, f"must be an int >= 1, got {value!r}")
    return value


def require_choice(name: str, value: Any, choices: Iterable[Any]) -> Any:
    choices = list(choices)
    if value not in choices:
        raise ParameterError(name, f"{value!r} is not one of {choices}")
    return value


PROJECT_ROOT_ENV = "INFIMED_ROOT"


def find_project_root() -> Path:
    """The checkout that relative path parameters (``run_dir = "runs/tiny"``...) are read against.

    ``$INFIMED_ROOT`` when set (for notebooks run outside a checkout), else the nearest folder at or
    above the working directory that holds ``notebooks/`` and ``infimed_lib/``. Chapter 00 explains
    the run folder these paths lead to.
    """
    override = os.environ.get(PROJECT_ROOT_ENV, "")
    if override:
        root = Path(override).expanduser().resolve()
        if not root.is_dir():
            raise ParameterError(PROJECT_ROOT_ENV, f"is set to {override!r}, which is not a folder")
        return root
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / "notebooks").is_dir() and (folder / "infimed_lib" / "__init__.py").is_file():
            return folder
    raise ParameterError(PROJECT_ROOT_ENV, f"no checkout of the project (a folder with notebooks/ and infimed_lib/) "
                                           f"at or above {here}; start there, or set {PROJECT_ROOT_ENV} to the "
                                           "folder that relative paths such as runs/tiny should be read against")


def enter_project_root() -> Path:
    """Make the project root the working directory and return it; every chapter calls it right after
    the imports of the cell below its parameters (chapter 00 says why).

    A papermill batch run starts its kernel at the root, Jupyter starts it in ``notebooks/``: from
    the root, ``runs/tiny`` is one folder for both, absolute paths are unchanged, and the paths a
    chapter writes into its configs stay relative as in a batch run, so a stage that ran in batch
    is recognised as finished in Jupyter, and runs in two checkouts still compare byte for byte
    (joining each path to the root instead would write the checkout's location into every config).
    As the first call of every chapter it also silences tqdm's notice that ipywidgets is missing:
    without them ``tqdm.auto`` falls back to text bars, which is what the rendered book shows.
    """
    warnings.filterwarnings("ignore", message="IProgress not found")
    root = find_project_root()
    os.chdir(root)
    return root


def file_sha256(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and (if imported) torch, for reproducible runs."""
    import numpy as np  # numpy and torch load only when seeding: the tools that import common never need them

    random.seed(seed)
    np.random.seed(seed % (2**32))
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a hard dependency in practice
        return
    torch.manual_seed(seed)
