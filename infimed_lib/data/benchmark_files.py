"""File helpers the benchmark readers and writers share: record errors, images as bytes, files or
Hugging Face parquet structs, and parquet rows (Chapter 08)."""
from __future__ import annotations

import base64
import io
import json
import re
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

from infimed_lib.common import atomic_write_bytes
def record_error(source: Any, record: Any, problem: str) -> ValueError:
    """One message naming the file, the record and what is wrong with it."""
    return ValueError(f"{source}: record {record}: {problem}")


def require_fields(record: dict, fields: tuple[str, ...], source: Any, where: Any) -> None:
    missing = [name for name in fields if name not in record or record[name] is None]
    if missing:
        raise record_error(source, where, f"missing field(s) {missing}")


def existing_image(path: Path, source: Any, where: Any) -> str:
    if not path.is_file():
        raise record_error(source, where, f"image file missing: {path}")
    return str(path)




def image_bytes(image: Any) -> tuple[bytes, str]:
    """Encoded bytes and file suffix of an image given as PIL image, path or data URL.

    Files are copied byte for byte so re-writing a loaded benchmark keeps its images intact.
    """
    if hasattr(image, "save") and hasattr(image, "size"):
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        return buffer.getvalue(), ".png"
    text = str(image)
    match = re.match(r"data:image/(\w+);base64,(.*)", text, re.DOTALL)
    if match:
        kind = match.group(1).lower()
        return base64.b64decode(match.group(2)), "." + ("jpg" if kind == "jpeg" else kind)
    path = Path(text)
    if not path.is_file():
        raise ValueError(f"image file missing: {path}")
    return path.read_bytes(), path.suffix.lower() or ".png"


def safe_name(text: str) -> str:
    """A file-name stem from an item id (ids may hold slashes or spaces)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", str(text)).strip("._") or "item"


_IMAGE_TYPE = pa.struct([("bytes", pa.binary()), ("path", pa.string())])


def write_hf_parquet(path: Path, rows: list[dict], columns: dict[str, str]) -> None:
    """Parquet as `datasets` exports it: images as {bytes, path} structs, features in the footer."""
    fields = [(name, _IMAGE_TYPE if kind == "Image" else pa.string()) for name, kind in columns.items()]
    features = {name: {"_type": "Image"} if kind == "Image" else {"dtype": "string", "_type": "Value"}
                for name, kind in columns.items()}
    schema = pa.schema(fields, metadata={"huggingface": json.dumps({"info": {"features": features}})})
    table = pa.Table.from_pylist(rows, schema=schema)
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    atomic_write_bytes(path, buffer.getvalue())


def parquet_rows(files: list[Path], limit: int | None):
    """Yield (file, row) in file order, reading no further than ``limit`` rows."""
    count = 0
    for file in files:
        for batch in pq.ParquetFile(file).iter_batches(batch_size=256):
            for row in batch.to_pylist():
                yield file, row
                count += 1
                if limit is not None and count >= limit:
                    return


def hf_image(value: dict, file: Path, where: Any) -> Image.Image:
    if value.get("bytes"):
        return Image.open(io.BytesIO(value["bytes"]))
    if value.get("path"):
        return Image.open(existing_image(file.parent / value["path"], file, where))
    raise record_error(file, where, "image has neither bytes nor path")


def image_struct(image: Any, stem: str) -> dict:
    data, suffix = image_bytes(image)
    return {"bytes": data, "path": f"{stem}{suffix}"}


def save_image(image: Any, folder: Path, stem: str) -> str:
    """Write one image under ``folder``; return its file name."""
    data, suffix = image_bytes(image)
    atomic_write_bytes(folder / f"{stem}{suffix}", data)
    return f"{stem}{suffix}"
