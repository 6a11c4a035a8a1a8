"""The editor app composed from what a user names: a model (or the run's, or the boundaries'), direction files,
a run, the model's SeFa directions (named by re-scoring with `name_with`), an encoder for uploads.

`build_editor_app` is what `interfacegan ui` serves; every default lives here, the command only parses and calls.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from interfacegan import DEFAULT_MODEL
from interfacegan.errors import InterfaceGANError

DEFAULT_SEFA = 10  # SeFa directions shown when no direction files are given
DEFAULT_HOST = "127.0.0.1"  # the address the editor is served on: this computer only
DEFAULT_PORT = 8000  # the port it is served on


def sefa_directions(generator, k: int, layers: str | None = None, name_with: Sequence = (), progress: bool = False):
    """The model's top-k SeFa directions as editor directions; with scorers in `name_with`, labelled by
    `rescoring.naming.name_directions` with its defaults (the same names as the demo and `sefa --name-with`)."""
    from interfacegan.directions.sefa import check_layers, sefa_boundaries
    from interfacegan.ui.session import Direction, describe

    check_layers(generator, layers, "sefa_layers")
    boundaries = sefa_boundaries(generator, k, layers=layers)
    titles = {}
    if name_with:
        from interfacegan.rescoring.naming import name_directions

        names = name_directions(generator, boundaries, list(name_with), progress=progress)
        titles = {n.direction: n.title for n in names if n.label}  # 'sefa_1 (+smile)'; unnamed keep their name
    return [Direction(f"sefa_{b.metrics['rank']}", b, label=titles.get(b.attribute, ""), note=describe(b))
            for b in boundaries]  # fmt: skip


def build_editor_app(
    model: str | None = None,
    boundaries: Sequence[str] | None = None,
    run: str | Path | None = None,
    sefa: int | None = None,
    sefa_layers: str | None = None,
    space: str | None = None,
    truncation=None,
    invert_steps: int = 200,
    slider_range: float = 5.0,
    device: str = "auto",
    encoder: str | Path | None = None,
    name_with: Sequence = (),
    progress: bool = False,
    allowed_hosts: Sequence[str] = (),
):
    """The editor's FastAPI app: the model named, else the run's, else the one the boundaries name, else
    DEFAULT_MODEL; directions from `boundaries` (files, folders, PATH:I) plus the top `sefa` SeFa directions
    (default DEFAULT_SEFA when no files are given, 0 otherwise); `truncation` (a models.Truncation) for seeds;
    `allowed_hosts`: Host names it answers to besides 127.0.0.1, localhost and [::1] (see `ui.guard`)."""
    from interfacegan.models import load_model
    from interfacegan.store import SampleStore
    from interfacegan.ui.app import create_app
    from interfacegan.directions.files import direction_labels, model_named_by, read_directions
    from interfacegan.ui.session import make_directions

    boundaries = list(boundaries or [])
    store = SampleStore.open(run, mode="r") if run is not None else None
    run_model = store.meta.get("model") if store is not None else None
    spec = model or (run_model if run_model and run_model != "unknown" else None) or model_named_by(boundaries)
    generator = load_model(spec or DEFAULT_MODEL, device=device)
    generator.check_truncation(truncation)
    found = read_directions(boundaries, model=generator, space=space)
    directions = make_directions(found, direction_labels(boundaries)) if found else []
    k = sefa if sefa is not None else (0 if directions else DEFAULT_SEFA)
    if k < 0:
        raise InterfaceGANError(f"sefa must be >= 0, got {k}")
    if k:
        directions += sefa_directions(generator, k, sefa_layers, name_with, progress)
    elif sefa_layers is not None or name_with:  # settings of SeFa sliders that would change nothing
        what = "sefa_layers chooses the layers" if sefa_layers is not None else "name_with names the sliders"
        raise InterfaceGANError(f"{what} of SeFa directions, but none are added: give `sefa` (how many)")
    if not directions:
        raise InterfaceGANError("no directions to edit with: give boundaries or sefa > 0")
    net = None
    if encoder is not None:
        from interfacegan.inversion import Encoder

        net = Encoder.load(encoder, device=generator.device)
        net.check_fits(generator)
    return create_app(generator, directions, store=store, truncation=truncation, invert_steps=invert_steps,
                      encoder=net, slider_range=slider_range, allowed_hosts=allowed_hosts)  # fmt: skip
