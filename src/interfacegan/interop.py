"""Bring data from the official InterFaceGAN repository in, and send ours out in its formats.

The official code keeps latent codes as `z.npy` / `w.npy` (N, d) or `wp.npy` (N, num_ws, d), and one
attribute's scores as a `.npy` of shape (N, 1). Arrays are read memory-mapped and copied chunk by chunk,
so importing 500K samples needs no more memory than one chunk.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from interfacegan import checks
from interfacegan.atomic import atomic_path, check_output, staged_dir
from interfacegan.errors import InterfaceGANError, unreadable_array
from interfacegan.models import load_model
from interfacegan.scoring.run import check_prefix
from interfacegan.storage import is_url
from interfacegan.store import DEFAULT_CHUNK_ROWS, SAMPLE_TASK, SampleStore


def _load_npy(path: str | Path, what: str) -> np.ndarray:
    path = Path(path)
    if not path.is_file():
        raise InterfaceGANError(f"{what} file {path} does not exist")
    try:
        return np.load(path, mmap_mode="r", allow_pickle=False)
    except ValueError as exc:
        raise InterfaceGANError(f"{path} is not a plain .npy array ({unreadable_array(exc)})") from None


def import_official(
    out: str | Path,
    codes: dict[str, str | Path],
    scores: dict[str, str | Path] | None = None,
    model: str = "unknown",
    seed: int | None = None,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
) -> SampleStore:
    """Create a store at `out` from official `.npy` files: codes {space: path}, scores {attribute: path}.

    `model` is the spec of the generator the codes belong to (needed later to synthesize or edit; unless it is
    'unknown', each space and code shape is checked against it). Codes must be finite. Every check runs before
    anything is written. `out` is a local directory (made under a temporary name, then renamed); copy it to object
    storage afterwards if needed.
    """
    if is_url(out):
        raise InterfaceGANError(f"{out}: import-official writes a local directory; copy it to object storage later")
    check_output(out, "dir")
    if Path(out).exists() and any(Path(out).iterdir()):
        raise InterfaceGANError(f"{out} exists and is not empty: choose a new output directory")
    if not codes:
        raise InterfaceGANError("give at least one codes file (`codes`: a space and its .npy file, e.g. z and z.npy)")
    chunk_rows = checks.positive_int("chunk_rows", chunk_rows)
    seed = None if seed is None else checks.seed(seed)
    arrays = {space: _load_npy(p, f"{space} codes") for space, p in codes.items()}
    score_arrays = {name: _load_npy(p, f"{name} scores") for name, p in (scores or {}).items()}
    num = len(next(iter(arrays.values())))
    for name, arr in {**arrays, **score_arrays}.items():
        if len(arr) != num:
            raise InterfaceGANError(f"{name} has {len(arr)} rows but the codes have {num}: files must match")
    for name, arr in score_arrays.items():
        check_prefix(name or "?", "score name")  # one array each: no '/' (nested groups), '..' or hidden names
        if arr.ndim == 2 and arr.shape[1] != 1 or arr.ndim > 2:
            raise InterfaceGANError(f"scores {name!r} have shape {arr.shape}: expected (N,) or (N, 1)")
        if arr.dtype.kind not in "biuf":
            raise InterfaceGANError(f"scores {name!r} hold {arr.dtype} values, not numbers")
        with np.errstate(over="ignore"):  # stored as float32: 1e300 would become inf
            infinite = arr.dtype.kind == "f" and np.isinf(arr.astype(np.float32)).any()
        if infinite:  # NaN marks a sample without a score; inf is no score
            raise InterfaceGANError(f"scores {name!r} hold inf values: use NaN for samples without a score (and "
                                    "finite values within float32's +-3.4e+38)")  # fmt: skip
    for space, arr in arrays.items():
        expected = 3 if space == "wp" else 2
        if arr.ndim != expected:
            raise InterfaceGANError(f"{space} codes have shape {arr.shape}: expected {expected} dimensions")
    model_info = _check_codes(arrays, model, chunk_rows)
    meta = {
        "model": model,
        "model_info": model_info,
        "num": num,
        "seed": seed,
        "spaces": sorted(arrays),
        "truncation": {"psi": 1.0, "cutoff": None},
        "image_size": None,
        "chunk_rows": chunk_rows,
        "imported_from": {k: str(Path(v).resolve()) for k, v in {**codes, **(scores or {})}.items()},
    }
    with atomic_path(out) as tmp:
        store = SampleStore.create(tmp, num, meta, chunk_rows=chunk_rows)
        for space, arr in arrays.items():
            store.ensure_array(f"codes/{space}", arr.shape[1:], "float32")
        for name in score_arrays:
            store.ensure_array(f"scores/{name}", (), "float32", attrs={"scorer": "imported", "version": "1"})

        def rows(start: int, stop: int) -> dict[str, np.ndarray]:
            codes_rows = {f"codes/{space}": np.asarray(arr[start:stop], np.float32) for space, arr in arrays.items()}
            score_rows = {f"scores/{name}": np.asarray(arr[start:stop], np.float32).reshape(-1)
                          for name, arr in score_arrays.items()}  # fmt: skip
            return {**codes_rows, **score_rows}

        for k, start, stop in store.iter_chunks():
            store.write_chunk(SAMPLE_TASK, k, start, rows(start, stop))
    return SampleStore.open(out)


def _check_codes(arrays: dict[str, np.ndarray], model: str, chunk_rows: int) -> dict:
    """The run's `model_info`, after checking every code: finite (read in blocks of `chunk_rows`), and, when `model`
    names one, of its latent spaces and shapes (the model is loaded on the CPU for that)."""
    info = {"name": model, "spec": model, "resolution": None}
    if model != "unknown":
        generator = load_model(model, device="cpu")
        for space, arr in arrays.items():
            generator.check_codes(arr, space)  # the space exists, each code has its shape; the error names both
        info = generator.info.as_dict()
    for space, arr in arrays.items():
        for start in range(0, len(arr), chunk_rows):
            checks.finite_array(f"{space} codes (rows {start}-{min(start + chunk_rows, len(arr)) - 1})",
                                arr[start : start + chunk_rows], dtype=np.float32)  # fmt: skip
    return info


def export_official(
    store: SampleStore, out_dir: str | Path, spaces: list[str] | None = None, attributes: list[str] | None = None
) -> list[Path]:
    """Write `<space>.npy` (N, ...) and `<attribute>_scores.npy` (N, 1) files the official code reads.

    Every name is checked before anything is written, and the files appear together (`staged_dir`): an unknown
    name, or a chunk that is missing or damaged, leaves `out_dir` as it was.
    """
    codes = {space: store.codes_array(space) for space in spaces or store.spaces}
    names = list(attributes if attributes is not None else store.score_names)
    store.scores(names, rows=slice(0, 0))  # refuses an unknown name before any file is written
    with staged_dir(out_dir) as stage:
        for space, arr in codes.items():
            _export_array(stage / f"{space}.npy", arr.shape, store, lambda s, a=arr: a[s])
        for name in names:
            arr = store.array(f"scores/{name}")
            _export_array(stage / f"{name}_scores.npy", (store.num, 1), store, lambda s, a=arr: a[s][:, None])
    return [Path(out_dir) / f"{space}.npy" for space in codes] + [Path(out_dir) / f"{n}_scores.npy" for n in names]


def _export_array(path: Path, shape, store: SampleStore, read) -> Path:
    with atomic_path(path) as tmp:
        target = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=tuple(shape))
        for _, start, stop in store.iter_chunks():
            target[start:stop] = read(slice(start, stop))
        target.flush()
        del target
    return path
