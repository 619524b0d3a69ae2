"""Linear probes: which findings can a straight line read off the image features? (Chapter 08)

The first question of "where is the image signal lost?": does the information a question asks
about (modality, body part, lesion, its side, level and size) survive the frozen vision tower
and the projector at all? A multinomial logistic regression is trained on three feature sets of
the same images: the tower's patch features pooled to the projector's N x N grid, the
projector's outputs (what the language model receives), and, as a reference, the raw pixels
pooled to the same grid. A facet the probe reads well from the projector's outputs is there
for the language model to use; one it reads no better than from pixels was never extracted.

No library in the environment fits a multinomial logistic regression (scikit-learn is not a
dependency), so the probe is a few lines of PyTorch: standardised features, L2-penalised cross
entropy, full-batch LBFGS, solved in the span of the training images (see :func:`fit_gram_probe`).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from infimed_lib.common import ParameterError
from infimed_lib.data.images import MEDICAL_MODALITIES
from infimed_lib.data.images import medical_image
from infimed_lib.model import preprocess_images

FACETS = ("modality", "body_part", "lesion", "side", "level", "size")
FEATURE_SETS = ("pixels (pooled)", "vision tower (pooled)", "projector output")
# Values that say nothing a probe could learn: "skin" is the only body part dermoscopy shows.
SKIPPED_VALUES = {"body_part": {"skin"}}
TRAIN_SHARE = 0.7


def probe_images(count: int, seed: int = 0) -> tuple[list, list[dict]]:
    """``count`` procedural medical images and their true attributes, modalities in turn (Chapter 08)."""
    if isinstance(count, bool) or not isinstance(count, int) or count < len(MEDICAL_MODALITIES):
        raise ParameterError("count", f"must be an int >= {len(MEDICAL_MODALITIES)} (one image per modality), "
                             f"got {count!r}")
    rng = np.random.default_rng(seed)
    drawn = [medical_image(rng, MEDICAL_MODALITIES[i % len(MEDICAL_MODALITIES)]) for i in range(count)]
    return [image for image, _ in drawn], [attrs for _, attrs in drawn]


@torch.no_grad()
def probe_features(model, images: Sequence, batch_size: int = 64) -> dict[str, torch.Tensor]:
    """``{feature set: (images, features)}`` float32 on the CPU, for :data:`FEATURE_SETS` (Chapter 08).

    The tower's pooled grid is caught with a forward hook on the projector's pooling layer while
    ``model.get_image_features`` runs, so it is exactly the N x N grid the projector sees.
    """
    device, side = next(model.parameters()).device, model.config.pool_side
    caught, out = [], {name: [] for name in FEATURE_SETS}
    hook = model.projector.pool.register_forward_hook(lambda module, args, output: caught.append(output))
    try:
        for start in tqdm(range(0, len(images), batch_size), desc="probe features", unit="batch"):
            pixels = preprocess_images(list(images[start:start + batch_size]), model.config)
            projected = model.get_image_features(pixels.to(device))
            out["projector output"].append(projected.float().flatten(1).cpu())
            out["vision tower (pooled)"].append(caught.pop().float().flatten(1).cpu())
            out["pixels (pooled)"].append(torch.nn.functional.adaptive_avg_pool2d(pixels, side).flatten(1))
    finally:
        hook.remove()
    return {name: torch.cat(parts) for name, parts in out.items()}


def standardized_gram(features: torch.Tensor, train: torch.Tensor) -> torch.Tensor:
    """``X X^T`` of the features standardised with the training rows' mean and spread (Chapter 08)."""
    x = features.float()
    mean, spread = x[train].mean(0), x[train].std(0)
    spread[spread < 1e-6] = 1.0  # constant over the training images: centre it, do not blow it up
    x = (x - mean) / spread
    return x @ x.T


def fit_gram_probe(gram: torch.Tensor, labels: torch.Tensor, train: torch.Tensor, test: torch.Tensor,
                   l2: float = 1e-3, max_iter: int = 200) -> float:
    """Test accuracy (0-1) of an L2-penalised multinomial logistic regression, from the Gram matrix (Chapter 08).

    ``gram`` is ``X X^T`` over all rows, ``labels`` one class index per row, ``train``/``test``
    row indices. The features far outnumber the images (23,040 projector features for about a
    thousand images in the tiny profile), and the penalised optimum lies in the span of the
    training rows (the representer theorem), so the fit runs on the training rows' coordinates
    in that span: the same solution as on the raw features, tens of times cheaper. Zero
    initialisation and full-batch LBFGS make it deterministic.
    """
    values, vectors = torch.linalg.eigh(gram[train][:, train].double())
    keep = values > values.max() * 1e-9  # directions with no training variance carry no weight
    root = values[keep].sqrt()
    z_train = (vectors[:, keep] * root).float()
    z_test = (gram[test][:, train].double() @ vectors[:, keep] / root).float()
    classes = int(labels.max()) + 1
    weight = torch.zeros(z_train.shape[1], classes, requires_grad=True)
    bias = torch.zeros(classes, requires_grad=True)
    optimizer = torch.optim.LBFGS([weight, bias], max_iter=max_iter, line_search_fn="strong_wolfe")

    def closure():
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(z_train @ weight + bias, labels[train]) + l2 * weight.square().sum()
        loss.backward()
        return loss

    with torch.enable_grad():
        optimizer.step(closure)
    with torch.no_grad():
        return float(((z_test @ weight + bias).argmax(1) == labels[test]).float().mean())


def fit_probe(features: torch.Tensor, labels: torch.Tensor, train: torch.Tensor, l2: float = 1e-3,
              max_iter: int = 200) -> float:
    """Test accuracy (0-1) of a linear probe trained on rows ``train`` of ``features``, tested on the rest (Chapter 08)."""
    test = torch.ones(len(labels), dtype=torch.bool)
    test[train] = False
    return fit_gram_probe(standardized_gram(features, train), labels, train, test.nonzero().flatten(), l2, max_iter)


def _facet_labels(attrs: Sequence[Mapping], facet: str) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """(rows that have the facet, their class indices, class names in sorted order)."""
    values = [a.get(facet) for a in attrs]
    keep = [v is not None and str(v) not in SKIPPED_VALUES.get(facet, ()) for v in values]
    names = sorted({str(v) for v, k in zip(values, keep) if k})
    rows = torch.tensor([i for i, k in enumerate(keep) if k], dtype=torch.long)
    labels = torch.tensor([names.index(str(values[i])) for i in rows.tolist()], dtype=torch.long)
    return rows, labels, names


def linear_probes(model, images: Sequence, attrs: Sequence[Mapping], facets: Sequence[str] = FACETS, seed: int = 0,
                  l2: float = 1e-3, batch_size: int = 64) -> pd.DataFrame:
    """Probe accuracy per facet and feature set, against the test split's majority class (Chapter 08).

    ``images`` (PIL) and ``attrs`` (their true attributes, e.g. from :func:`probe_images`) pair
    up in order. Per facet, images whose value is None (no lesion: no side) or uninformative
    (body part "skin") are left out. The images are split 70/30 once, by a seeded permutation, so
    every facet and feature set shares the split (a facet's own split is then about 70/30). One
    row per (facet, feature set): ``facet, features, classes, n_train, n_test, accuracy_pct,
    majority_pct``. Memory: the features of all images at once, images x visual tokens x width
    x 4 bytes (1,500 x 144 x 160 x 4 = 140 MB for the tiny projector).
    """
    if len(images) != len(attrs):
        raise ParameterError("attrs", f"{len(attrs)} attribute dicts for {len(images)} images")
    if isinstance(facets, str) or not facets:
        raise ParameterError("facets", f"expected a non-empty sequence of attribute names, got {facets!r}")
    missing = [f for f in facets if all(a.get(f) is None for a in attrs)]
    if missing:
        raise ParameterError("facets", f"{missing} appear in no image's attributes")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ParameterError("seed", f"expected an int, got {seed!r}")
    if isinstance(l2, bool) or not isinstance(l2, (int, float)) or l2 <= 0:
        raise ParameterError("l2", f"expected a positive number (the penalty keeps the optimum finite), got {l2!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ParameterError("batch_size", f"expected a positive int, got {batch_size!r}")
    features = probe_features(model, images, batch_size)
    order = torch.from_numpy(np.random.default_rng(seed).permutation(len(images)))
    is_train = torch.zeros(len(images), dtype=torch.bool)
    is_train[order[:round(TRAIN_SHARE * len(images))]] = True
    # One split of the images for every facet and feature set; features are standardised with
    # the training images' statistics, never the test images'.
    grams = {name: standardized_gram(features.pop(name), is_train) for name in FEATURE_SETS}
    rows = []
    for facet in tqdm(facets, desc="linear probes", unit="facet"):
        kept, labels, names = _facet_labels(attrs, facet)
        full = torch.full((len(images),), -1, dtype=torch.long)
        full[kept] = labels
        train, test = kept[is_train[kept]], kept[~is_train[kept]]
        if len(names) < 2 or len(train) < 2 or len(test) < 1:
            raise ParameterError("images", f"facet {facet!r}: {len(kept)} usable images in {len(names)} class(es); "
                                 "give more images")
        majority = float(torch.bincount(full[test]).max()) / len(test)
        for name in FEATURE_SETS:
            accuracy = fit_gram_probe(grams[name], full.clamp(min=0), train, test, l2)
            rows.append({"facet": facet, "features": name, "classes": len(names), "n_train": len(train),
                         "n_test": len(test), "accuracy_pct": 100 * accuracy, "majority_pct": 100 * majority})
    return pd.DataFrame(rows)
