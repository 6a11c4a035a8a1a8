"""Fill a sample store with latent codes (and optionally images) from a generator, resumably.

`sample_to_store` is what `interfacegan sample` runs: it streams chunk by chunk (memory bounded by one chunk
whatever N is), overlaps writing chunk k with computing chunk k+1, flags each chunk once written, and on a
second call with the same arguments does only the chunks that are not flagged. Shards let several processes
or machines fill disjoint chunks of one store.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
from PIL import Image

from interfacegan.errors import InterfaceGANError
from interfacegan.models import Generator, Truncation
from interfacegan.store import DEFAULT_CHUNK_ROWS, SAMPLE_TASK, SampleStore, is_store


def run_arguments(
    model: Generator,
    num: int,
    seed: int,
    spaces: Sequence[str],
    truncation: Truncation,
    image_size: int | None,
    chunk_rows: int,
) -> dict[str, Any]:
    """The arguments that define a run's content; a resumed run must repeat them exactly."""
    return {
        "model": model.spec or model.name,
        "model_info": model.info.as_dict(),
        "num": int(num),
        "seed": int(seed),
        "spaces": list(spaces),
        "truncation": truncation.as_dict(),
        "image_size": image_size,
        "chunk_rows": int(chunk_rows),
    }


def _check_same_run(store: SampleStore, wanted: dict[str, Any]) -> None:
    meta = store.meta
    diffs = [
        f"{key} {meta.get(key)!r} (asked {wanted[key]!r})"
        for key in ("model", "num", "seed", "spaces", "truncation", "image_size", "chunk_rows")
        if meta.get(key) != wanted[key]
    ]
    if diffs:
        raise InterfaceGANError(
            f"{store.path} was made with other arguments: {'; '.join(diffs)}; "
            "repeat the original arguments to resume, or choose a new --out"
        )


def open_or_create_run(path: str | Path, wanted: dict[str, Any]) -> SampleStore:
    """Open the run at `path` when its arguments match `wanted`, or create it."""
    path = Path(path)
    if is_store(path):
        store = SampleStore.open(path)
        _check_same_run(store, wanted)
        store.remove_partial_files()
        return store
    return SampleStore.create(path, wanted["num"], meta=wanted, chunk_rows=wanted["chunk_rows"])


def resize_images(images: np.ndarray, size: int) -> np.ndarray:
    """Downscale (N, H, W, 3) uint8 images to size x size thumbnails (box filter)."""
    if images.shape[1] == size:
        return images
    return np.stack([np.asarray(Image.fromarray(im).resize((size, size), Image.BOX)) for im in images])


def sample_to_store(
    model: Generator,
    out: str | Path,
    num: int,
    seed: int = 0,
    spaces: Sequence[str] = ("z",),
    truncation: Truncation | None = None,
    save_images: bool = False,
    thumbnail_size: int | None = None,
    batch_size: int = 256,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    shard: tuple[int, int] = (0, 1),
    progress: bool = True,
) -> SampleStore:
    """Sample `num` codes with `seed` into the store at `out` (resuming it when it exists; see module doc).

    `spaces` lists the code spaces to save ('z' is always saved, since every other space derives from it).
    Images are saved at full resolution with `save_images`, or as `thumbnail_size` thumbnails.
    """
    if num <= 0:
        raise InterfaceGANError(f"--num must be positive, got {num}")
    if batch_size <= 0 or chunk_rows <= 0:
        raise InterfaceGANError("batch size and chunk rows must be positive")
    index, count = shard
    if not (count >= 1 and 0 <= index < count):
        raise InterfaceGANError(f"bad shard {index}/{count}: use I/K with 0 <= I < K")
    truncation = truncation or Truncation()
    spaces = list(dict.fromkeys(["z", *spaces]))
    for space in spaces:
        model.check_space(space)
    image_size = thumbnail_size or (model.resolution if save_images else None)
    wanted = run_arguments(model, num, seed, spaces, truncation, image_size, chunk_rows)
    store = open_or_create_run(out, wanted)
    for space in spaces:
        store.ensure_array(f"codes/{space}", model.space_shape(space), "float32")
    if image_size:
        store.ensure_array("images", (image_size, image_size, 3), "uint8", compress=False)

    store.fill_chunks(
        SAMPLE_TASK,
        lambda start, stop: _compute_chunk(model, seed, start, stop, spaces, truncation, image_size, batch_size),
        shard,
        "sampling",
        progress,
    )
    return store


def _compute_chunk(model, seed, start, stop, spaces, truncation, image_size, batch_size) -> dict[str, np.ndarray]:
    z = model.sample(stop - start, seed, start=start)
    arrays = {"codes/z": z}
    for space in spaces:
        if space != "z":
            arrays[f"codes/{space}"] = model.map(z, space, truncation, batch_size=batch_size)
    if image_size:
        images = model.synthesize(z, "z", batch_size=batch_size, truncation=truncation)
        arrays["images"] = resize_images(images, image_size)
    return arrays
