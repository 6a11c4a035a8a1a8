"""Source codes for the editor: a seed of the model's z sequence, a row of a run store, or an inverted upload.

Codes come back in the editor's space (*code_shape) with the truncation they were made with. Run rows and
uploads are kept in small bounded caches (thread-safe), so following a slider never re-reads the store.
"""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np

from interfacegan.errors import InterfaceGANError
from interfacegan.ui.session import Editor


@dataclass
class Upload:
    """An uploaded image inverted into the model: its code (*code_shape) and the target it was fitted to."""

    code: np.ndarray
    target: np.ndarray  # (H, W, 3) uint8, the image the inversion aimed at (model resolution)
    info: dict = field(default_factory=dict)


class LRU:
    """A small thread-safe least-recently-used dict."""

    def __init__(self, size: int):
        self.size = size
        self._items: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key):
        with self._lock:
            if key not in self._items:
                return None
            self._items.move_to_end(key)
            return self._items[key]

    def put(self, key, value) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)


class Sources:
    """Turns a `SourceIn` (kind seed / run / upload) into (code (*code_shape), truncation or None)."""

    def __init__(self, editor: Editor, store=None, truncation=None, max_uploads: int = 16):
        self.editor = editor
        self.store = store
        self.truncation = truncation  # cutoff (and default psi) for seeds on style models
        self.uploads = LRU(max_uploads)
        self._rows = LRU(64)
        self._seeds = LRU(64)
        if store is not None:
            self._check_store(store)

    def _check_store(self, store) -> None:
        spec = store.meta.get("model")
        model_spec = getattr(self.editor.model, "spec", None)
        if spec and spec != "unknown" and model_spec and spec != model_spec:
            raise InterfaceGANError(
                f"run {store.path} was sampled with model {spec!r}, the editor runs {model_spec!r}: "
                f"start the editor with model {spec!r}"
            )

    @property
    def num_rows(self) -> int:
        return self.store.num if self.store is not None else 0

    def truncation_for(self, psi: float):
        """The Truncation of a seed source with this psi (None when truncation does not apply)."""
        from interfacegan.models import Truncation

        if "w" not in self.editor.model.spaces:
            return None
        cutoff = self.truncation.cutoff if self.truncation is not None else None
        return Truncation(psi=float(psi), cutoff=cutoff)

    def get(self, source) -> tuple[np.ndarray, object]:
        if source.kind == "seed":
            return self.seed(source.seed, source.truncation)
        if source.kind == "run":
            return self.run_row(source.row)
        return self.upload(source.upload).code, None

    def seed(self, seed: int, psi: float = 1.0) -> tuple[np.ndarray, object]:
        truncation = self.truncation_for(psi)
        key = (int(seed), float(psi))
        code = self._seeds.get(key)
        if code is None:
            z = self.editor.model.sample(1, seed=int(seed))[0]
            code = self.editor.code_from_z(z, truncation) if self.editor.space != "z" else z
            self._seeds.put(key, code)
        return code, truncation if self.editor.space == "z" else None

    def run_row(self, row: int) -> tuple[np.ndarray, object]:
        """Row `row` of the run in the editor's space (stored codes, or mapped from z with the run's truncation)."""
        from interfacegan.editing.codes import run_codes

        if self.store is None:
            raise InterfaceGANError("no run is open: start the editor with a run (run=RUN) to edit its samples")
        if not 0 <= row < self.store.num:
            raise InterfaceGANError(f"row {row} is outside the run: choose 0..{self.store.num - 1}")
        code = self._rows.get(row)
        if code is None:
            space, spaces = self.editor.space, self.store.spaces
            rows = np.array([row])
            if space == "wp" and space not in spaces and "z" not in spaces and "w" in spaces:
                code = self.editor.code_from(self.store.codes("w", rows=rows)[0], "w")  # imported w, no z to map
            else:
                code = run_codes(self.store, self.editor.model, space, rows)[0]
            if not np.isfinite(code).all():
                raise InterfaceGANError(
                    f"row {row} of {self.store.path} has no code yet (its sampling did not finish): "
                    "run the same `interfacegan sample` command again, or pick another row"
                )
            self._rows.put(row, code)
        return code, self.store.truncation if self.editor.space == "z" else None

    def row_scores(self, row: int) -> dict[str, float]:
        """The run's scores of `row` ({} without a run), NaN as None for JSON."""
        if self.store is None or not 0 <= row < self.store.num:
            return {}
        scores = self.store.scores(rows=slice(row, row + 1))
        return {k: (float(v[0]) if np.isfinite(v[0]) else None) for k, v in scores.items()}

    def add_upload(self, upload: Upload) -> str:
        key = uuid.uuid4().hex[:16]
        self.uploads.put(key, upload)
        return key

    def upload(self, key: str | None) -> Upload:
        item = self.uploads.get(key) if key else None
        if item is None:
            raise InterfaceGANError(f"upload {key!r} is not (or no longer) held by the server: upload the image again")
        return item
