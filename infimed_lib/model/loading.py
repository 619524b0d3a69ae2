"""Loading a saved InfiMed checkpoint (``save_pretrained`` folder). Chapters 03-08.

Stages chain through these folders: chapter 03 writes ``<run_dir>/model/init/``, each training
stage its ``checkpoint/``, and evaluation loads the last one.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from infimed_lib.common import ParameterError, require_path

from infimed_lib.model.configuration import InfiMedConfig
from infimed_lib.model.modeling import InfiMedForConditionalGeneration
from infimed_lib.model.presets import ATTENTION, DTYPES
from infimed_lib.model.processing import ImageProcessor


def load_model(path: str | os.PathLike, num_visual_tokens: int | None = None, dtype: str | None = None,
               attn_implementation: str | None = None) -> InfiMedForConditionalGeneration:
    """Load a checkpoint folder offline; optionally switch visual tokens, dtype or attention. Chapter 03."""
    folder = require_path("path", path, "dir")
    config_file = folder / "config.json"
    if not config_file.exists():
        raise ParameterError("path", f"{folder} is not a save_pretrained folder (no config.json)")
    model_type = json.loads(config_file.read_text(encoding="utf-8")).get("model_type")
    if model_type != InfiMedConfig.model_type:
        raise ParameterError("path", f"{folder} holds a {model_type!r} model, not an InfiMed checkpoint")
    kwargs = {"local_files_only": True}
    if dtype is not None:
        if dtype not in DTYPES:
            raise ParameterError("dtype", f"{dtype!r} is not one of {sorted(DTYPES)}")
        kwargs["dtype"] = DTYPES[dtype]
    if attn_implementation is not None:
        if attn_implementation not in ATTENTION:
            raise ParameterError("attn_implementation", f"{attn_implementation!r} is not one of {list(ATTENTION)}")
        kwargs["attn_implementation"] = attn_implementation
    model = InfiMedForConditionalGeneration.from_pretrained(str(folder), **kwargs)
    if num_visual_tokens is not None:
        try:
            model.set_num_visual_tokens(num_visual_tokens)
        except ValueError as error:
            raise ParameterError("num_visual_tokens", str(error)) from None
    return model


def save_checkpoint(model: InfiMedForConditionalGeneration, out_dir: str | os.PathLike) -> Path:
    """``save_pretrained`` (safetensors) plus the image processor config, swapped in atomically.

    The folder is written beside its final place and renamed over it, so a later step never
    reads a half-written checkpoint and an interrupted save keeps the previous one. Chapter 03.
    """
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        model.save_pretrained(tmp, safe_serialization=True)
        ImageProcessor(model.config).save_pretrained(tmp)
        if out_dir.exists():
            old = out_dir.with_name(f".{out_dir.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            out_dir.rename(old)
            tmp.rename(out_dir)
            shutil.rmtree(old)
        else:
            tmp.rename(out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir
