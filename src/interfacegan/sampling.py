"""Fill a sample store with latent codes (and optionally images) from a generator, resumably.

`sample_to_store` is what `interfacegan sample` runs: it describes the work of a chunk as a `SampleJob` and
hands the chunks not flagged yet to an executor (`interfacegan.execution`; local threads by default), which
streams chunk by chunk (memory bounded whatever N is) and flags each chunk once written, so a second call with
the same arguments does only the rest. Shards let several processes or machines fill disjoint chunks of one store.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Mapping, Sequence

import numpy as np
from PIL import Image

from interfacegan import checks
from interfacegan.errors import InterfaceGANError
from interfacegan.execution import ChunkJob, Executor, run_job
from interfacegan.models import Generator, Truncation, load_model
from interfacegan.progress import ProgressOption
from interfacegan.store import DEFAULT_CHUNK_ROWS, SAMPLE_TASK, SampleStore
from interfacegan.store_reads import MAX_NUM

MAX_THUMBNAIL = 8192  # thumbnail side in pixels (the largest GANs make 1024-px images)
MAX_CHUNK_BYTES = 8 * 2**30  # one store chunk is held in memory whole (1,024 rows of 1024-px images: 3 GiB)


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
            "repeat the original arguments to resume, or choose a new output directory"
        )


def open_or_create_run(path: str | Path, wanted: dict[str, Any], storage_options: dict | None = None) -> SampleStore:
    """Claim the run at `path` for `wanted` (atomically: of writers racing with different arguments, exactly one
    creates it and the others are refused here), or open it when it exists with the same arguments."""
    store, created = SampleStore.claim(path, wanted, storage_options)
    if not created:
        _check_same_run(store, wanted)
        store.remove_partial_files()
    return store


def resize_images(images: np.ndarray, size: int) -> np.ndarray:
    """Downscale (N, H, W, 3) uint8 images to size x size thumbnails (box filter)."""
    if images.shape[1] == size:
        return images
    return np.stack([np.asarray(Image.fromarray(im).resize((size, size), Image.BOX)) for im in images])


def make_truncation(psi: float = 1.0, cutoff: int | None = None) -> Truncation:
    """A validated `Truncation`: psi in [0, 1], cutoff (number of W+ layers truncated; None = all) >= 0."""
    if not 0.0 <= psi <= 1.0:
        raise InterfaceGANError(f"truncation psi must be in [0, 1], got {psi}")
    if cutoff is not None and cutoff < 0:
        raise InterfaceGANError(f"truncation cutoff must be >= 0, got {cutoff}")
    return Truncation(psi=psi, cutoff=cutoff)


def check_truncation_space(model: Generator, space: str, truncation: Truncation) -> None:
    """Refuse `w` codes under a layer cutoff: one w vector cannot carry a truncation that differs between layers.

    With a cutoff, only the first `cutoff` W+ layers are truncated; a stored w would be either truncated on all
    layers or on none, so images re-synthesized from it differ from the run's (by up to 61 grey levels, measured).
    `wp` codes keep the layer axis and reproduce the images exactly.
    """
    if space != "w" or not truncation.active or truncation.cutoff is None:
        return
    if model.num_ws is not None and truncation.cutoff >= model.num_ws:
        return  # every layer is truncated: the same as no cutoff
    raise InterfaceGANError(
        f"space 'w' cannot hold codes truncated on the first {truncation.cutoff} layers only: "
        "use space 'wp' (W+ keeps the per-layer truncation), or drop the truncation cutoff"
    )


@dataclass
class SampleJob(ChunkJob):
    """The rows of a run: z from the seed, its other `spaces` and, with `image_size`, images (see ChunkJob).

    Pickled, it carries `model_spec` and rebuilds the generator once per worker; in this process it uses the
    loaded `model`. A model without a spec (built in Python, not by `load_model`) travels whole instead.
    """

    model_spec: str
    seed: int
    spaces: tuple[str, ...]
    truncation: Truncation
    image_size: int | None
    batch_size: int
    device: str | None = None
    task: str = SAMPLE_TASK
    model: Generator | None = field(default=None, repr=False, compare=False)
    live_fields: ClassVar[tuple[str, ...]] = ("model",)

    def setup(self) -> None:
        if self.model is None:
            self.model = load_model(self.model_spec, device=self.device)

    def __getstate__(self) -> dict:
        state = super().__getstate__()
        if not self.model_spec:
            state["model"] = self.model  # nothing to reload it from
        return state

    def array_names(self) -> list[str]:
        return [f"codes/{space}" for space in self.spaces] + (["images"] if self.image_size else [])

    def compute(self, start: int, stop: int, prefetched: Any = None) -> dict[str, np.ndarray]:
        model = self.model
        z = model.sample(stop - start, self.seed, start=start)
        arrays = {"codes/z": z}
        for space in self.spaces:
            if space != "z":
                arrays[f"codes/{space}"] = model.map(z, space, self.truncation, batch_size=self.batch_size)
        if self.image_size:
            images = model.synthesize(z, "z", batch_size=self.batch_size, truncation=self.truncation)
            arrays["images"] = resize_images(images, self.image_size)
        return arrays


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
    progress: ProgressOption = True,
    executor: Executor | str | None = None,
    storage_options: dict | None = None,
) -> SampleStore:
    """Sample `num` codes with `seed` into the store at `out` (resuming it when it exists; see module doc).

    `spaces` lists the code spaces to save ('z' is always saved, since every other space derives from it).
    Images are saved at full resolution with `save_images`, or as `thumbnail_size` thumbnails. `shard` (I, K)
    does only the chunks k with k % K == I; `executor` runs the chunks (None: local threads); `progress` is
    True (bar), False, or a callable getting (description, rows done, rows in all). `out` is a directory or an
    fsspec URL (`s3://bucket/run`; `storage_options` go to fsspec).
    """
    num, seed = checks.positive_int("num", num, MAX_NUM), checks.seed(seed)
    batch_size, chunk_rows = checks.positive_int("batch_size", batch_size), checks.positive_int("chunk_rows", chunk_rows)
    if thumbnail_size is not None:
        thumbnail_size = checks.positive_int("thumbnail_size", thumbnail_size, MAX_THUMBNAIL)
    check_shard(shard)
    truncation = truncation or Truncation()
    model.check_truncation(truncation)  # e.g. BigGAN: its truncation is part of its spec (before the store exists)
    spaces = list(dict.fromkeys(["z", *spaces]))
    for space in spaces:
        model.check_space(space)
        check_truncation_space(model, space, truncation)
    image_size = thumbnail_size or (model.resolution if save_images else None)
    check_chunk_bytes(model, spaces, image_size, chunk_rows)
    wanted = run_arguments(model, num, seed, spaces, truncation, image_size, chunk_rows)
    store = open_or_create_run(out, wanted, storage_options)
    for space in spaces:
        store.ensure_array(f"codes/{space}", model.space_shape(space), "float32")
    if image_size:
        store.ensure_array("images", (image_size, image_size, 3), "uint8", compress=False)
    job = SampleJob(model.spec, seed, tuple(spaces), truncation, image_size, batch_size, model.requested_device,
                    model=model)  # fmt: skip
    run_job(store, job, shard, executor, progress, "sampling")
    return store


def check_chunk_bytes(model: Generator, spaces: Sequence[str], image_size: int | None, chunk_rows: int) -> None:
    """One line unless a chunk of `chunk_rows` rows of the largest array (codes of a space, or images of
    `image_size` px) fits in MAX_CHUNK_BYTES: a chunk is allocated whole, so this is refused before the store exists."""
    row_bytes = max(4 * int(np.prod(model.space_shape(space))) for space in spaces)
    if image_size:
        row_bytes = max(row_bytes, 3 * image_size * image_size)
    if chunk_rows * row_bytes > MAX_CHUNK_BYTES:
        raise InterfaceGANError(
            f"one store chunk ({chunk_rows} rows of {row_bytes:,} bytes) would exceed {MAX_CHUNK_BYTES // 2**30} GiB: "
            "lower chunk_rows" + (" or the image size" if image_size else "")
        )


def check_shard(shard: tuple[int, int]) -> tuple[int, int]:
    """`shard` (I, K) when 0 <= I < K, else a one-line error."""
    index, count = shard
    if not (count >= 1 and 0 <= index < count):
        raise InterfaceGANError(f"bad shard {index}/{count}: use I/K with 0 <= I < K")
    return index, count


# (index, count, index on this machine) variables of the launchers `--shard auto` reads, in order
LAUNCHERS = {
    "SLURM": ("SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID"),
    "torchrun": ("RANK", "WORLD_SIZE", "LOCAL_RANK"),
}


def _launcher(env: Mapping[str, str]) -> tuple[str, tuple[str, str, str]] | None:
    return next(((name, keys) for name, keys in LAUNCHERS.items() if keys[0] in env and keys[1] in env), None)


def launcher_shard(env: Mapping[str, str] | None = None) -> tuple[int, int]:
    """(I, K) of this process from its launcher's environment: SLURM's SLURM_PROCID/SLURM_NTASKS (srun) or
    torchrun's RANK/WORLD_SIZE, so K launched processes fill one store with no wrapper script."""
    env = os.environ if env is None else env
    found = _launcher(env)
    if found is None:
        raise InterfaceGANError("shard 'auto' needs a launcher's environment (SLURM_PROCID and SLURM_NTASKS from srun, "
                                "or RANK and WORLD_SIZE from torchrun): run under one, or give I/K")  # fmt: skip
    name, (index, count, _) = found
    try:
        shard = int(env[index]), int(env[count])
    except ValueError:
        values = f"{index}={env[index]!r}, {count}={env[count]!r}"
        raise InterfaceGANError(f"{name} sets {values}: not whole numbers") from None
    return check_shard(shard)


def launcher_device(device: str = "auto", env: Mapping[str, str] | None = None) -> str:
    """`device`, except that 'auto' under a launcher on a machine with several GPUs becomes the GPU of this process's
    index on the machine (SLURM_LOCALID / LOCAL_RANK), so the processes of one machine do not share one GPU."""
    import torch

    env = os.environ if env is None else env
    found = _launcher(env)
    if device != "auto" or found is None or found[1][2] not in env or torch.cuda.device_count() < 2:
        return device
    return f"cuda:{int(env[found[1][2]]) % torch.cuda.device_count()}"


def parse_shard(text: str) -> tuple[int, int]:
    """'I/K' -> (I, K): the process doing the chunks k with k % K == I (one of K processes or machines); 'auto'
    reads them from the launcher (`launcher_shard`)."""
    if text.strip() == "auto":
        return launcher_shard()
    try:
        index, count = (int(p) for p in text.split("/"))
    except ValueError:
        raise InterfaceGANError(f"bad shard {text!r}: use I/K, e.g. 0/4 for the first of four workers") from None
    return check_shard((index, count))
