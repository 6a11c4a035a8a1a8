"""Pictures of edits: image grids (PNG) and animations (GIF, MP4), written atomically.

Grids are (R, C, H, W, 3) uint8: for edits, rows are samples and columns are steps. Animations are frames
(T, H, W, 3) uint8; `edit_frames` turns an edit grid into frames that show all samples at one step each.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from interfacegan import checks
from interfacegan.atomic import atomic_path
from interfacegan.errors import InterfaceGANError

MAX_SCALE = 64  # enlargement factor of grid images (a 1024 px model at 64x already makes 65k px tiles)
MAX_GRID_ROWS = 1000  # samples (rows) of one grid: a grid is rendered in memory whole
MAX_FPS = 1000.0  # frames per second of animations (GIF frames last at least 20 ms whatever is asked)


def check_render(fps: float = checks.UNSET, scale: int = checks.UNSET) -> tuple[float | None, int | None]:
    """(fps, scale) checked, each one given (one not given comes back None: the defaults are the renderers'; a None
    given is refused like any other bad value): fps in (0, MAX_FPS], scale a whole number in [1, MAX_SCALE]; callers
    that render at the end of long work call this first, so a bad value is refused before any work."""
    return (None if fps is checks.UNSET else checks.in_range("fps", fps, 0.0, MAX_FPS, low_open=True),
            None if scale is checks.UNSET else checks.integer("scale", scale, 1, MAX_SCALE))  # fmt: skip


def _check_images(images: np.ndarray, ndim: int, what: str) -> np.ndarray:
    images = np.asarray(images)
    if images.ndim != ndim or images.shape[-1] != 3 or images.dtype != np.uint8:
        shape = "(R, C, H, W, 3)" if ndim == 5 else "(T, H, W, 3)"
        raise InterfaceGANError(f"{what} must be uint8 {shape}, got {images.dtype} {images.shape}")
    return images


def image_grid(
    images: np.ndarray,
    pad: int = 2,
    background: int = 255,
    col_labels: Sequence[str] | None = None,
    row_labels: Sequence[str] | None = None,
    scale: int = 1,
) -> Image.Image:
    """One PIL image of a grid (R, C, H, W, 3) uint8, `pad` pixels apart, optional column/row labels (their font
    grows with the tiles, a quarter of a tile's width, so labels stay legible wherever the grid is shown smaller)."""
    images = _check_images(images, 5, "grid images")
    scale = check_render(scale=scale)[1]
    rows, cols, h, w, _ = images.shape
    if scale > 1:
        images = images.repeat(scale, axis=2).repeat(scale, axis=3)
        h, w = h * scale, w * scale
    size = max(10, w // 4)
    font = ImageFont.load_default(size=size)
    top = int(size * 1.4) if col_labels else 0
    left = 8 + int(max(font.getlength(str(s)) for s in row_labels)) if row_labels else 0
    width = left + cols * w + (cols + 1) * pad
    height = top + rows * h + (rows + 1) * pad
    canvas = np.full((height, width, 3), background, dtype=np.uint8)
    for r in range(rows):
        for c in range(cols):
            y, x = top + pad + r * (h + pad), left + pad + c * (w + pad)
            canvas[y : y + h, x : x + w] = images[r, c]
    image = Image.fromarray(canvas)
    if col_labels or row_labels:
        draw = ImageDraw.Draw(image)
        ink = (0, 0, 0) if background > 127 else (255, 255, 255)
        for c, text in enumerate(col_labels or []):
            draw.text((left + pad + c * (w + pad) + 1, 1), str(text), fill=ink, font=font)
        for r, text in enumerate(row_labels or []):
            draw.text((2, top + pad + r * (h + pad) + (h - size) // 2), str(text), fill=ink, font=font)
    return image


def save_image(image: Image.Image | np.ndarray, path: str | Path) -> Path:
    """Write a PIL image or (H, W, 3) uint8 array to `path` (format from its suffix), atomically."""
    if isinstance(image, np.ndarray):
        image = Image.fromarray(_check_images(image, 3, "image"))
    path = Path(path)
    with atomic_path(path) as tmp:
        image.save(tmp)
    return path


def save_grid(images: np.ndarray, path: str | Path, **options) -> Path:
    """image_grid(images, **options) written to `path` (PNG), atomically."""
    return save_image(image_grid(images, **options), path)


def edit_frames(grid: np.ndarray, pad: int = 2, bounce: bool = True) -> np.ndarray:
    """Frames (T, H', W', 3): frame s tiles all samples at step s (near-square layout); bounce adds the way back."""
    grid = _check_images(grid, 5, "edit grid")
    num, steps = grid.shape[:2]
    cols = math.ceil(math.sqrt(num))
    rows = math.ceil(num / cols)
    frames = []
    for s in range(steps):
        tiles = np.full((rows * cols, *grid.shape[2:]), 255, dtype=np.uint8)
        tiles[:num] = grid[:, s]
        tiled = tiles.reshape(rows, cols, *grid.shape[2:])
        frames.append(np.asarray(image_grid(tiled, pad=pad)))
    if bounce and steps > 2:
        frames += frames[-2:0:-1]
    return np.stack(frames)


def save_animation(frames: np.ndarray, path: str | Path, fps: float = 8.0, loop: bool = True) -> Path:
    """Write frames (T, H, W, 3) uint8 as an animated `.gif` (PIL) or `.mp4` (H.264 via imageio-ffmpeg)."""
    frames = _check_images(frames, 4, "frames")
    if len(frames) == 0:
        raise InterfaceGANError("no frames to write")
    fps = check_render(fps=fps)[0]
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".gif":
        images = [Image.fromarray(f) for f in frames]
        with atomic_path(path) as tmp:
            images[0].save(tmp, format="GIF", save_all=True, append_images=images[1:],
                           duration=max(20, int(round(1000 / fps))), loop=0 if loop else 1)  # fmt: skip
    elif suffix == ".mp4":
        import imageio.v2 as imageio

        h, w = frames.shape[1:3]
        # H.264 works on 16-pixel macro blocks; pad with white rather than let the encoder rescale.
        ph, pw = (-h) % 16, (-w) % 16
        if ph or pw:
            frames = np.pad(frames, ((0, 0), (0, ph), (0, pw), (0, 0)), constant_values=255)
        with atomic_path(path) as tmp:
            writer = imageio.get_writer(str(tmp), format="FFMPEG", fps=fps, codec="libx264",
                                        pixelformat="yuv420p", macro_block_size=16, quality=8)  # fmt: skip
            try:
                for frame in frames:
                    writer.append_data(frame)
            finally:
                writer.close()
    else:
        raise InterfaceGANError(f"unknown animation format {path.suffix!r}: use .gif or .mp4")
    return path
