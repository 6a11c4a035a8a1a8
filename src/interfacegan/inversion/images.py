"""Real photos in, model-ready images out: read any common image file, centre-crop it square, resize it.

Images travel as uint8 arrays (N, H, W, 3) between files and models; `to_model_tensor` turns them into the
(N, 3, H, W) float tensors in [-1, 1] that generators produce, so a photo and a synthesized image compare directly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from interfacegan.errors import InterfaceGANError

# Photos are large: LANCZOS (antialiased) shrinking keeps fine detail without aliasing.
RESAMPLE = Image.Resampling.LANCZOS


def read_image(path: str | Path) -> Image.Image:
    """The image at `path` as an RGB PIL image, upright (EXIF orientation applied); one-line error if unreadable."""
    path = Path(path)
    if not path.exists():
        raise InterfaceGANError(f"image file {path} does not exist: check the path")
    if not path.is_file():
        raise InterfaceGANError(f"{path} is not a file: give image files (PNG, JPEG, WebP, ...)")
    try:
        with Image.open(path) as image:
            image.load()  # decode now, so a truncated file fails here and not later
            image = ImageOps.exif_transpose(image)
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError, SyntaxError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InterfaceGANError(f"cannot read image {path} ({reason}): give a valid PNG, JPEG or WebP file") from None
    return to_rgb(image)


def to_rgb(image: Image.Image) -> Image.Image:
    """RGB version of any PIL image: transparency composited on white, 16-bit and float greys scaled to 8 bits."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        values = np.asarray(image, dtype=np.float64)
        top = 65535.0 if image.mode.startswith("I;16") or values.max(initial=0) > 255 else 255.0
        image = Image.fromarray(np.clip(values / top * 255.0 + 0.5, 0, 255).astype(np.uint8), "L")
    if image.mode == "P":
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA"):
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(white, rgba)
    return image.convert("RGB")


def center_crop_resize(image: Image.Image, size: int) -> np.ndarray:
    """The central square of `image`, resized to (size, size, 3) uint8 (antialiased)."""
    w, h = image.size
    side = min(w, h)
    left, top = (w - side) // 2, (h - side) // 2
    square = image.crop((left, top, left + side, top + side))
    if square.size != (size, size):
        square = square.resize((size, size), RESAMPLE)
    return np.asarray(square, dtype=np.uint8).copy()


def load_images(
    paths: Sequence[str | Path], size: int, align: bool = False, template: np.ndarray | None = None
) -> np.ndarray:
    """Photos at `paths` as uint8 (N, size, size, 3): centre-cropped, or face-aligned to `template` with `align`.

    `template` is (5, 2) landmark positions in [0, 1] (see `interfacegan.inversion.align.face_template`).
    """
    if not paths:
        raise InterfaceGANError("no images given: pass one or more image files")
    if align and template is None:
        raise InterfaceGANError("face alignment needs a landmark template: pass template=face_template(model)")
    out = []
    for path in paths:
        image = read_image(path)
        if align:
            from interfacegan.inversion.align import align_face

            out.append(align_face(image, template, size, source=str(path)))
        else:
            out.append(center_crop_resize(image, size))
    return np.stack(out)


def check_uint8_images(images: np.ndarray, size: int | None = None) -> np.ndarray:
    """`images` as uint8 (N, H, W, 3), optionally of side `size`; a one-line error otherwise."""
    images = np.asarray(images)
    if images.ndim == 3 and images.shape[-1] == 3:
        images = images[None]
    if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
        raise InterfaceGANError(f"images must be uint8 (N, H, W, 3), got {images.dtype} {images.shape}")
    if size is not None and images.shape[1:3] != (size, size):
        raise InterfaceGANError(
            f"images are {images.shape[2]}x{images.shape[1]} but the model makes {size}x{size}: "
            f"load them with load_images(paths, {size})"
        )
    return images


def to_model_tensor(images: np.ndarray, device: torch.device | str = "cpu") -> torch.Tensor:
    """uint8 (N, H, W, 3) -> float32 (N, 3, H, W) in [-1, 1] on `device` (the inverse of `models.to_uint8`)."""
    images = check_uint8_images(images)
    tensor = torch.from_numpy(np.ascontiguousarray(images)).to(device)
    return tensor.permute(0, 3, 1, 2).float().sub_(127.5).div_(127.5)
