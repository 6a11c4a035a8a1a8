"""The files of an inversion: image files read in for a model, and the output folder written and read back.

Layout of OUT: `codes.npy` (N, *code_shape) float32, `losses.npy` (steps + 1, N), `inputs/` and
`reconstructions/` (`{i:03d}_{name}.png` at the model's resolution), `comparison.png` (rows = images, columns =
input | reconstruction) and `inversion.json` (model, space, sources, PSNR, settings), written all or none.
`save_inversion` writes it; `load_codes` reads its codes back (checked against the model and space to edit).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Sequence

import numpy as np

from interfacegan import DEFAULT_MODEL, checks
from interfacegan.atomic import atomic_path, staged_dir, write_text_atomic
from interfacegan.editing.render import check_render, save_grid, save_image
from interfacegan.errors import InterfaceGANError, unreadable_array

SHEET_SCALE = 2  # enlargement of the sheets of real images (inputs beside their inversions, and their edits)
CODES_FIX = "give the codes.npy written by an inversion (`interfacegan invert`)"


def check_image_files(paths: Sequence[str | Path]) -> None:
    """Fail before any model loads when an image path is wrong (none given, missing, or not a file)."""
    if not paths:
        raise InterfaceGANError("no images given: pass one or more image files")
    for path in map(Path, paths):
        if not path.exists():
            raise InterfaceGANError(f"image file {path} does not exist: check the path")
        if not path.is_file():
            raise InterfaceGANError(f"{path} is not a file: give image files (PNG, JPEG, WebP, ...)")


def read_targets(model, paths: Sequence[str | Path], align: bool) -> np.ndarray:
    """uint8 (N, R, R, 3) images for `model` from the files: face-aligned to the model's own framing, or
    centre-cropped (R = the model's resolution)."""
    from interfacegan.inversion.align import face_template
    from interfacegan.inversion.images import load_images

    template = face_template(model) if align else None
    return load_images(list(paths), model.resolution, align=align, template=template)


def inversion_model_spec(model: str | None = None, encoder: str | Path | None = None) -> str:
    """The model an inversion uses: `model` when given, else the one `encoder` was trained for, else DEFAULT_MODEL."""
    if model:
        return model
    if encoder is not None:
        from interfacegan.inversion.encoder import Encoder

        spec = Encoder.read_config(encoder).model
        if spec:
            return spec
    return DEFAULT_MODEL


def load_codes(path: str | Path, model, space: str) -> np.ndarray:
    """Codes (N, *shape) float32 from an inversion's codes.npy, checked against `model` and the `space` to edit.

    The folder's inversion.json, when present, must name the same space and model.
    """
    path = Path(path)
    if not path.is_file():
        raise InterfaceGANError(f"codes file {path} does not exist: {CODES_FIX}")
    try:
        codes = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise InterfaceGANError(f"cannot read codes {path} ({unreadable_array(exc)}): {CODES_FIX}") from None
    if not isinstance(codes, np.ndarray):  # an .npz archive
        raise InterfaceGANError(f"{path} is an archive of arrays, not one .npy array of codes: {CODES_FIX}")
    summary = path.with_name("inversion.json")
    if summary.is_file():
        try:
            saved = json.loads(summary.read_text())
        except ValueError as exc:
            raise InterfaceGANError(f"{summary} is not valid JSON ({exc}): invert again, or delete it") from None
        if not isinstance(saved, dict):
            raise InterfaceGANError(f"{summary} is not an inversion summary: invert again, or delete it")
        if saved.get("space") and saved["space"] != space:
            raise InterfaceGANError(f"{path} holds {saved['space']!r} codes but the edit needs {space!r} codes: "
                                    f"invert again into space {space!r}")  # fmt: skip
        if saved.get("model") and saved["model"] != model.spec:
            raise InterfaceGANError(f"{path} holds codes of model {saved['model']!r}, not {model.spec!r}: "
                                    f"edit with model {saved['model']!r}")  # fmt: skip
    if codes.dtype.kind not in "iuf":
        raise InterfaceGANError(f"{path} holds {codes.dtype} values, not codes: {CODES_FIX}")
    model.check_codes(codes, space)
    return checks.finite_array(f"codes in {path}", codes.astype(np.float32))


def safe_stem(name: str) -> str:
    """A file stem safe on every filesystem from an input's name: its stem, odd characters as _, at most 60."""
    stem = Path(str(name)).stem or "image"
    return re.sub(r"[^A-Za-z0-9._-]+", "_", stem)[:60]


def save_npy(array: np.ndarray, path: Path) -> Path:
    """np.save `array` to `path` atomically."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as handle:
            np.save(handle, array, allow_pickle=False)
    return path


def save_inversion(result, targets: np.ndarray, out: str | Path, names: Sequence[str], meta: dict | None = None,
                   scale: int = SHEET_SCALE) -> list[Path]:  # fmt: skip
    """Write `result` (an InversionResult) of uint8 `targets` (N, R, R, 3) named `names` into the folder `out`:
    every file of the layout above, or on any failure none; the paths."""
    scale = check_render(scale=scale)[1]
    out = Path(out)
    targets = np.asarray(targets, dtype=np.uint8)
    stems = [f"{i:03d}_{safe_stem(n)}" for i, n in enumerate(names)]
    sheet = np.stack([targets, result.reconstructions], axis=1)  # (N, 2, R, R, 3)
    labels = ["input", "inverted"] if sheet.shape[3] * scale >= 48 else None
    summary = {
        **(meta or {}),
        **result.summary(),
        "images": [{"source": str(n), "input": f"inputs/{s}.png", "reconstruction": f"reconstructions/{s}.png",
                    "psnr": round(float(p), 3)} for n, s, p in zip(names, stems, result.psnr)],  # fmt: skip
    }
    summary.pop("psnr", None)
    written = ["codes.npy", "losses.npy"]
    with staged_dir(out) as stage:
        save_npy(result.codes, stage / "codes.npy")
        save_npy(result.losses, stage / "losses.npy")
        for stem, target, rebuilt in zip(stems, targets, result.reconstructions):
            written += [save_image(target, stage / "inputs" / f"{stem}.png").relative_to(stage),
                        save_image(rebuilt, stage / "reconstructions" / f"{stem}.png").relative_to(stage)]  # fmt: skip
        save_grid(sheet, stage / "comparison.png", col_labels=labels, scale=scale)
        write_text_atomic(stage / "inversion.json", json.dumps(summary, indent=2, default=float) + "\n")
    return [out / p for p in written + ["comparison.png", "inversion.json"]]
