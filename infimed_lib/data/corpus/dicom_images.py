"""Real DICOM images for the miniature corpus, from the files that pydicom and pydicom-data ship.

Chapter 00 (overview) explains why a handful of real scans sit next to the procedural images: they
are real CT, MR, ultrasound, radiograph and nuclear-medicine pixels whose modality is known
from the DICOM ``Modality`` tag, so the modality questions built on them have true answers.
Files are listed from the two packages' folders directly (pydicom's ``get_testdata_files`` may
try to download); files whose pixel data needs a codec plugin that is not installed are skipped,
and the same pixels stored under several transfer syntaxes are kept once.
"""
from __future__ import annotations

import functools
import hashlib
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from infimed_lib.data.corpus.corpus_draw import SIZE

# DICOM Modality tag -> the modality name the corpus text uses. Tags absent here (SEG, RTDOSE,
# OT = "other", SR, ...) are not images of a patient and are skipped.
MODALITY_NAMES = {"CT": "CT", "MR": "MRI", "US": "ultrasound", "CR": "X-ray", "DX": "X-ray",
                  "NM": "nuclear medicine", "MG": "mammography", "PT": "PET", "XA": "angiography"}
# Long series contribute a few frames (distinct images of the same study), not just one.
FRAMES_PER_SERIES = 3
# Two images whose 24x24 grey thumbnails correlate above this are the same picture (the same
# pixels re-encoded lossily, or re-windowed), whatever their transfer syntax.
DUPLICATE_CORRELATION = 0.95
MIN_SIDE = 64  # smaller test files are codec fixtures, not pictures
# Parametric maps (perfusion) are derived numbers shown with a palette, not a view of anatomy.
SKIP_IMAGE_TYPES = {"PERFUSION"}
CT_DEFAULT_WINDOW = (40.0, 400.0)  # soft-tissue window, for CT files that carry none


@dataclass(frozen=True)
class RealImage:
    """One real scan as a 96x96 RGB PNG-ready image, with its true modality (Chapter 00)."""

    ref: str  # "<package>/<file name>[#frame]", resolvable with :func:`dicom_path`
    dicom_modality: str  # the Modality tag, e.g. "MR"
    modality: str  # the corpus's name for it, e.g. "MRI"
    body_part: str | None  # BodyPartExamined, lower-cased, when the file has one
    series: str  # Modality + SeriesInstanceUID: images of one series stay on one side of a split
    image: Image.Image


def dicom_roots() -> dict[str, Path]:
    """The folders holding shipped DICOM files, by package name (no download is ever made) (Chapter 00)."""
    from data_store.utils import DataStore  # pydicom and pydicom-data load only when the corpus adds real scans
    from pydicom.data.data_manager import DATA_ROOT

    return {"pydicom-data": Path(DataStore().data_path), "pydicom": Path(DATA_ROOT) / "test_files"}


def dicom_path(ref: str) -> Path:
    """The DICOM file behind a :attr:`RealImage.ref` (or a sample's ``meta.dicom_file``) (Chapter 00)."""
    package, _, name = ref.split("#")[0].partition("/")
    roots = dicom_roots()
    if package not in roots or not name:
        raise ValueError(f"DICOM reference {ref!r}: expected '<pydicom-data|pydicom>/<file>'")
    return roots[package] / name


def _first(value) -> float:
    """A window tag may hold several windows (MultiValue); the first is the default one."""
    if hasattr(value, "__len__") and not isinstance(value, str):
        return float(value[0])
    return float(value)


def _to_grey8(ds, pixels: np.ndarray) -> np.ndarray:
    from pydicom.pixels import apply_modality_lut

    values = apply_modality_lut(pixels, ds).astype(np.float64)
    if ds.get("Modality") == "CT":
        # CT numbers are Hounsfield units: a window shows tissue the way a radiologist reads it.
        centre = _first(ds.WindowCenter) if "WindowCenter" in ds else CT_DEFAULT_WINDOW[0]
        width = _first(ds.WindowWidth) if "WindowWidth" in ds else CT_DEFAULT_WINDOW[1]
        lo, hi = centre - width / 2, centre + width / 2
    else:
        # Other modalities have arbitrary units; a percentile stretch keeps outliers from
        # squeezing the anatomy into a few grey levels.
        lo, hi = np.percentile(values, [0.5, 99.5])
    scaled = np.clip((values - lo) / max(hi - lo, 1e-6), 0.0, 1.0) * 255.0
    if ds.get("PhotometricInterpretation") == "MONOCHROME1":
        scaled = 255.0 - scaled
    return np.rint(scaled).astype(np.uint8)


def _to_rgb8(ds, pixels: np.ndarray) -> np.ndarray:
    from pydicom.pixels import apply_color_lut

    if ds.get("PhotometricInterpretation") == "PALETTE COLOR":
        pixels = apply_color_lut(pixels, ds)
    pixels = pixels.astype(np.float64)
    top = 255.0 if pixels.max() <= 255 else pixels.max()
    return np.rint(np.clip(pixels / top, 0, 1) * 255.0).astype(np.uint8)


def _frames(ds) -> list[tuple[str, np.ndarray]]:
    """The frames to keep, decoded one at a time (a 120-frame cine would need gigabytes at once)."""
    from pydicom.pixels import pixel_array

    frames = int(ds.get("NumberOfFrames", 1) or 1)
    if frames <= 1:
        return [("", ds.pixel_array)]
    picks = [frames // 2] if frames < 10 else np.linspace(0, frames - 1, FRAMES_PER_SERIES + 2)[1:-1]
    return [(f"#{int(i)}", pixel_array(ds, index=int(i))) for i in picks]


def _square(array: np.ndarray) -> Image.Image:
    img = Image.fromarray(array).convert("RGB")
    # Letterbox rather than stretch, so anatomy keeps its proportions.
    return ImageOps.pad(img, (SIZE, SIZE), method=Image.Resampling.LANCZOS, color=(0, 0, 0))


def convert_dicom(path: Path, package: str) -> list[RealImage]:
    """A DICOM file's image(s) as :class:`RealImage`; [] when it has no decodable patient image (Chapter 00)."""
    import pydicom

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            ds = pydicom.dcmread(path, force=True)
            tag = str(ds.get("Modality", "") or "")
            image_type = {str(v).strip().upper() for v in (ds.get("ImageType") or [])}
            if tag not in MODALITY_NAMES or image_type & SKIP_IMAGE_TYPES:
                return []
            if min(int(ds.get("Rows", 0)), int(ds.get("Columns", 0))) < MIN_SIDE:
                return []
            frames = _frames(ds)
        except Exception:  # noqa: BLE001 - any decoder failure means "needs a plugin we lack"
            return []
        body = ds.get("BodyPartExamined")
        body = str(body).strip().lower() or None if body else None
        series = f"{tag}:{ds.get('SeriesInstanceUID', path.name)}"
        out = []
        for suffix, frame in frames:
            frame = frame.astype(frame.dtype.newbyteorder("="))
            colour = frame.ndim == 3
            pixels8 = _to_rgb8(ds, frame) if colour or ds.get("PhotometricInterpretation") == "PALETTE COLOR" \
                else _to_grey8(ds, frame)
            out.append(RealImage(f"{package}/{path.name}{suffix}", tag, MODALITY_NAMES[tag], body,
                                 series, _square(pixels8)))
        return out


def _signature(img: Image.Image) -> np.ndarray:
    thumb = np.asarray(img.convert("L").resize((24, 24), Image.Resampling.BILINEAR), np.float64).ravel()
    return (thumb - thumb.mean()) / (thumb.std() + 1e-6)


def _is_duplicate(signature: np.ndarray, kept: list[np.ndarray]) -> bool:
    return any(float(signature @ other) / signature.size > DUPLICATE_CORRELATION for other in kept)


@functools.lru_cache(maxsize=1)
def real_images() -> tuple[RealImage, ...]:
    """Every usable shipped DICOM image, deduplicated, in a fixed order (Chapter 00).

    Cached: decoding the larger JPEG 2000 radiographs takes a few seconds.
    """
    kept: list[RealImage] = []
    signatures: list[np.ndarray] = []
    files = [(package, path) for package, root in dicom_roots().items() if root.is_dir()
             for path in root.glob("*.dcm")]
    # Lossless uncompressed files first, so a lossy twin is the one dropped as a duplicate.
    def preference(item: tuple[str, Path]) -> tuple:
        name = item[1].name
        return ("UNCI" in name or "J2KI" in name, "UNC" not in name, item[0], name)

    for package, path in sorted(files, key=preference):
        for real in convert_dicom(path, package):
            signature = _signature(real.image)
            if not _is_duplicate(signature, signatures):
                kept.append(real)
                signatures.append(signature)
    return tuple(sorted(kept, key=lambda r: r.ref))


def split_real_images(seed: int, benchmark_fraction: float = 0.35) -> dict[str, list[RealImage]]:
    """Split the real images into "train" and "benchmark" by series, within each modality (Chapter 00).

    Frames of one series never straddle the split, so no benchmark image has a training twin.
    A modality with a single series stays in training only.
    """
    by_modality: dict[str, list[str]] = {}
    for real in real_images():
        series = by_modality.setdefault(real.modality, [])
        if real.series not in series:
            series.append(real.series)
    held_out: set[str] = set()
    for modality, series in sorted(by_modality.items()):
        if len(series) < 2:
            continue
        order = sorted(series, key=lambda s: hashlib.sha256(f"{seed}:{s}".encode()).hexdigest())
        held_out.update(order[:max(1, int(round(benchmark_fraction * len(series))))])
    split: dict[str, list[RealImage]] = {"train": [], "benchmark": []}
    for real in real_images():
        split["benchmark" if real.series in held_out else "train"].append(real)
    return split


def augment(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A lightly cropped, flipped, brightness-shifted copy, so reused scans are not pixel twins (Chapter 00)."""
    scale = rng.uniform(0.82, 1.0)
    side = int(round(SIZE * scale))
    x0, y0 = rng.integers(0, SIZE - side + 1, size=2)
    out = img.crop((int(x0), int(y0), int(x0) + side, int(y0) + side)).resize((SIZE, SIZE), Image.Resampling.BILINEAR)
    if rng.uniform() < 0.5:
        out = ImageOps.mirror(out)
    gain = rng.uniform(0.85, 1.15)
    return Image.fromarray(np.clip(np.asarray(out, np.float32) * gain, 0, 255).astype(np.uint8), "RGB")
