"""Request bodies of the editor's HTTP API (pydantic): the editing state the browser sends with every request.

A state is {"source": {...}, "directions": {key: {"value", "conditions", "layers"}}}; the server keeps no
per-client state, so any request can be replayed (and the page can keep its state in the URL). Every field is
bounded here, before any work: numbers are finite and within their range (NaN/inf refused), strings and lists
short; what depends on the model (layers within num_ws, rows within the run, known direction keys) is checked by
the session and sources before anything is computed.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from interfacegan.ui.session import SLIDER_LIMIT

MAX_SEED = 2**32 - 1
MAX_ROW = 2**53  # rows are checked against the run; this only keeps the integer a machine integer
MAX_STRIP_STEPS = 15
KEY_PATTERN = r"^[0-9a-f]+$"  # upload ids the server made (uuid hex)
DirectionKey = Annotated[str, StringConstraints(min_length=1, max_length=200)]


class SourceIn(BaseModel):
    """Where the code comes from: a seed of the model's z sequence, a row of the run, or an uploaded image."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["seed", "run", "upload"] = "seed"
    seed: int = Field(0, ge=0, le=MAX_SEED)
    row: int = Field(0, ge=0, le=MAX_ROW)
    upload: str | None = Field(None, max_length=64, pattern=KEY_PATTERN)
    truncation: float = Field(1.0, ge=0.0, le=1.0, allow_inf_nan=False)


class SliderIn(BaseModel):
    """One direction's setting: offset along it, directions kept fixed, W+ layers it moves."""

    model_config = ConfigDict(extra="forbid")

    value: float = Field(0.0, ge=-SLIDER_LIMIT, le=SLIDER_LIMIT, allow_inf_nan=False)
    conditions: list[DirectionKey] = Field(default_factory=list, max_length=256)
    layers: str | None = Field(None, max_length=200)


class StateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: SourceIn = Field(default_factory=SourceIn)
    directions: dict[DirectionKey, SliderIn] = Field(default_factory=dict, max_length=4096)


class StripIn(BaseModel):
    """A row of images: the current state with slider `direction` set to `steps` values from `lo` to `hi`."""

    model_config = ConfigDict(extra="forbid")

    state: StateIn = Field(default_factory=StateIn)
    direction: DirectionKey
    lo: float = Field(-3.0, ge=-SLIDER_LIMIT, le=SLIDER_LIMIT, allow_inf_nan=False)
    hi: float = Field(3.0, ge=-SLIDER_LIMIT, le=SLIDER_LIMIT, allow_inf_nan=False)
    steps: int = Field(7, ge=2, le=MAX_STRIP_STEPS)
