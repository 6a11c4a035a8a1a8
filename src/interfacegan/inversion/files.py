"""Write an inversion to a folder: codes.npy, the inputs and reconstructions as PNGs, a before/after sheet, JSON.

Layout of OUT: `codes.npy` (N, *code_shape) float32, `losses.npy` (steps + 1, N), `inputs/` and
`reconstructions/` (`{i:03d}_{name}.png` at the model's resolution), `comparison.png` (rows = images, columns =
input | reconstruction) and `inversion.json` (model, space, sources, PSNR, settings). Every file is atomic.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Sequence

import numpy as np

from interfacegan.atomic import atomic_path, write_text_atomic
from interfacegan.editing.render import save_grid, save_image


def _safe_stem(name: str) -> str:
    stem = Path(str(name)).stem or "image"
    return re.sub(r"[^A-Za-z0-9._-]+", "_", stem)[:60]


def save_npy(array: np.ndarray, path: Path) -> Path:
    """np.save `array` to `path` atomically."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as handle:
            np.save(handle, array, allow_pickle=False)
    return path


def save_inversion(result, targets: np.ndarray, out: str | Path, names: Sequence[str], meta: dict | None = None,
                   scale: int = 1) -> list[Path]:  # fmt: skip
    """Write `result` (an InversionResult) of uint8 `targets` (N, R, R, 3) named `names` into `out`; the paths."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    targets = np.asarray(targets, dtype=np.uint8)
    stems = [f"{i:03d}_{_safe_stem(n)}" for i, n in enumerate(names)]
    paths = [save_npy(result.codes, out / "codes.npy"), save_npy(result.losses, out / "losses.npy")]
    for stem, target, rebuilt in zip(stems, targets, result.reconstructions):
        paths.append(save_image(target, out / "inputs" / f"{stem}.png"))
        paths.append(save_image(rebuilt, out / "reconstructions" / f"{stem}.png"))
    sheet = np.stack([targets, result.reconstructions], axis=1)  # (N, 2, R, R, 3)
    labels = ["input", "inverted"] if sheet.shape[3] * scale >= 48 else None
    paths.append(save_grid(sheet, out / "comparison.png", col_labels=labels, scale=scale))
    summary = {
        **(meta or {}),
        **result.summary(),
        "images": [{"source": str(n), "input": f"inputs/{s}.png", "reconstruction": f"reconstructions/{s}.png",
                    "psnr": round(float(p), 3)} for n, s, p in zip(names, stems, result.psnr)],  # fmt: skip
    }
    summary.pop("psnr", None)
    paths.append(write_text_atomic(out / "inversion.json", json.dumps(summary, indent=2, default=float) + "\n"))
    return paths
