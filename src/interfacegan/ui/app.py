"""The editor's web server: a FastAPI app over an `Editor` (model + directions), with the page served locally.

Endpoints (JSON bodies are `schemas.StateIn` / `StripIn`; user errors answer 4xx {"detail": "one line"}):
    GET  /                      the page (static/index.html; its scripts and style.css under /static, no CDN)
    GET  /api/config            model, edit space, W+ layers, directions (label, note, default layers), run, upload
    POST /api/render            state -> PNG of the edited image (model resolution)
    POST /api/strip             {state, direction, lo, hi, steps} -> PNG strip of that slider at `steps` values
    POST /api/inspect           state -> per direction: cosine of its conditional direction, position, error
    POST /api/code              state -> .npy of the edited code, float32 (1, *code_shape)
    POST /api/upload            multipart file (+ align) -> 202 {"job"}; inversion runs in the background; 400 for a
                                non-image, 413 too large, 409 busy, 501 when the inversion module is missing
    GET  /api/jobs/{job}        inversion progress: status, step, steps, source when done, detail on error
    GET  /api/uploads/{id}/target.png   the image an upload was inverted towards (model resolution)

Every request passes `guard.EditorGuard` (its own Host only, state changes from its own page only, security
headers, a one-line 500 for anything unexpected) and every body is bounded while it is read (FastAPI's
`max_body_size`: MAX_JSON_BYTES for JSON, the upload limit plus form overhead for uploads).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Sequence

import numpy as np
from fastapi import FastAPI, File, Form, HTTPException, Path as PathParam, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from interfacegan.directions.boundary import Boundary
from interfacegan.errors import InterfaceGANError
from interfacegan.ui.guard import EditorGuard, HostRule
from interfacegan.ui.schemas import StateIn, StripIn
from interfacegan.ui.session import SLIDER_LIMIT, Direction, Editor, EditSession
from interfacegan.ui.sources import Sources
from interfacegan.ui.upload import MAX_UPLOAD_BYTES, InversionJobs, UploadTooLarge, inversion_status

STATIC = Path(__file__).parent / "static"
NO_STORE = {"Cache-Control": "no-store"}
MULTIPART_SLACK = 64 * 1024  # form boundaries and headers around the file
MAX_JSON_BYTES = 2**20  # an editing state is a few KB; 4,096 sliders with conditions stay well below
UPLOAD_FORM_LIMITS = {"max_files": 1, "max_fields": 4, "max_part_size": 1024}  # the file and `align`


def png_bytes(image: np.ndarray) -> bytes:
    """PNG of an (H, W, 3) uint8 image (fast zlib level: these are small and sent often)."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image)).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def layer_presets(num_layers: int | None) -> dict[str, str]:
    """Named W+ layer ranges for the page: all, and StyleGAN's coarse (0-3) / middle (4-7) / fine (8+) groups."""
    if not num_layers:
        return {}
    presets = {"all": f"0-{num_layers - 1}"}
    if num_layers > 4:
        presets["coarse"] = "0-3"
        presets["middle"] = f"4-{min(7, num_layers - 1)}"
    if num_layers > 8:
        presets["fine"] = f"8-{num_layers - 1}"
    return presets


def _too_large_text(limit: int, what: str = "the image") -> str:
    fix = "upload a smaller one" if what == "the image" else "send a smaller one"
    return f"{what} is larger than {limit / 2**20:.3g} MB: {fix}"


def _one_line(exc: RequestValidationError) -> str:
    errors = exc.errors()
    if not errors:
        return "invalid request"
    first = errors[0]
    where = ".".join(str(p)[:40] for p in first.get("loc", ()) if p != "body")  # dict keys come from the client
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{where or 'request'}: {first.get('msg', 'invalid value')}{more}"


def create_app(
    model,
    directions: Sequence[Direction | Boundary],
    store=None,
    truncation=None,
    invert_steps: int = 200,
    encoder=None,
    slider_range: float = 5.0,
    max_upload_bytes: int = MAX_UPLOAD_BYTES,
    title: str | None = None,
    allowed_hosts: Sequence[str] = (),
) -> FastAPI:
    """The editor app for `model` with sliders for `directions` (optionally the rows of run `store`).

    `truncation` sets the default psi and cutoff of seed samples on style models; uploads are inverted with
    `invert_steps` optimisation steps (when `interfacegan.inversion` is installed), starting from `encoder`'s
    guess when one is given (an `interfacegan.inversion.Encoder`). Sliders span
    +-`slider_range` unit-normal lengths (the number box accepts up to +-100). The app answers at 127.0.0.1,
    localhost and [::1] on the port it is served on, and at the names in `allowed_hosts` (the --host it listens
    on, a reverse proxy's name); see `guard` for the rule.
    """
    if not 0 < slider_range <= SLIDER_LIMIT:
        raise InterfaceGANError(f"the slider range must be in (0, {SLIDER_LIMIT:g}], got {slider_range}")
    if not 0 < max_upload_bytes <= 2**30:
        raise InterfaceGANError(f"max_upload_bytes must be in 1..2**30, got {max_upload_bytes}")
    editor = Editor(model, directions)
    sources = Sources(editor, store=store, truncation=truncation)
    jobs = InversionJobs(editor, sources, steps=invert_steps, encoder=encoder)
    app = FastAPI(title=title or f"interfacegan editor - {model.name}", docs_url=None, redoc_url=None,
                  openapi_url=None)  # fmt: skip
    app.state.editor, app.state.sources, app.state.jobs = editor, sources, jobs
    json_limit = {"max_body_size": MAX_JSON_BYTES}
    upload_limit = max_upload_bytes + MULTIPART_SLACK

    def too_large(path: str) -> str:
        if path == "/api/upload":
            return _too_large_text(max_upload_bytes)
        return _too_large_text(MAX_JSON_BYTES, "the request body")

    app.add_middleware(EditorGuard, hosts=HostRule(allowed_hosts), too_large=too_large)

    @app.exception_handler(InterfaceGANError)
    async def _user_error(request: Request, exc: InterfaceGANError):
        # 400, or the code a subclass names (UploadTooLarge 413, InversionBusy 409)
        return JSONResponse({"detail": str(exc)}, status_code=getattr(exc, "status_code", 400))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        return JSONResponse({"detail": _one_line(exc)}, status_code=422)

    def session_for(state: StateIn) -> EditSession:
        code, trunc = sources.get(state.source)
        session = editor.session(code, truncation=trunc)
        for key, s in state.directions.items():
            session.set_value(key, s.value)
            session.set_conditions(key, s.conditions)
            session.set_layers(key, s.layers)
        return session

    @app.get("/", include_in_schema=False)
    def index():
        return FileResponse(STATIC / "index.html", headers=NO_STORE)

    @app.get("/api/config")
    def config():
        info = model.info.as_dict()
        psi = truncation.psi if truncation is not None else 1.0
        return {
            "title": title or f"interfacegan editor - {model.name}",
            "model": {"name": model.name, "spec": info.get("spec"), "resolution": model.resolution,
                      "spaces": list(model.spaces)},  # fmt: skip
            "space": editor.space,
            "num_layers": editor.num_layers,
            "layer_presets": layer_presets(editor.num_layers),
            "slider": {"min": -slider_range, "max": slider_range, "step": 0.1 if slider_range <= 20 else 0.5},
            "truncation": {"available": "w" in model.spaces, "psi": psi},
            "directions": [
                {
                    "key": d.key,
                    "label": d.title,
                    "attribute": d.boundary.attribute,
                    "note": d.note,
                    "kind": d.boundary.kind,
                    "space": d.boundary.space,
                    "layers": editor.default_layers(d.key),
                }
                for d in editor.directions.values()
            ],
            "run": None if store is None else {"path": str(store.path), "rows": sources.num_rows,
                                               "scores": store.score_names},  # fmt: skip
            "upload": {**inversion_status(), "max_bytes": max_upload_bytes, "steps": invert_steps,
                       "encoder": encoder is not None},  # fmt: skip
        }

    @app.post("/api/render", **json_limit)
    def render(state: StateIn):
        return Response(png_bytes(session_for(state).render()), media_type="image/png", headers=NO_STORE)

    @app.post("/api/strip", **json_limit)
    def strip(request: StripIn):
        values = np.linspace(request.lo, request.hi, request.steps)
        images = session_for(request.state).render_strip(request.direction, values)
        row = np.concatenate(list(images), axis=1)  # (H, S*W, 3), frames side by side, no gaps
        headers = {**NO_STORE, "X-Strip-Values": ",".join(f"{v:g}" for v in values)}
        return Response(png_bytes(row), media_type="image/png", headers=headers)

    @app.post("/api/inspect", **json_limit)
    def inspect(state: StateIn):
        code, _ = sources.get(state.source)
        session = editor.session(code)
        report = {}
        for key, s in state.directions.items():
            entry = {"cosine": None, "layers": None, "error": None}
            try:
                session.set_value(key, s.value)
                session.set_conditions(key, s.conditions)
                session.set_layers(key, s.layers)
                plan = session.plan(key)
                entry["cosine"] = plan.cosine if s.conditions else None
                entry["layers"] = plan.layer_text
            except InterfaceGANError as exc:
                entry["error"] = str(exc)
                session.sliders.pop(key, None)
            report[key] = entry
        edited = session.edited_code()
        for key in editor.directions:
            report.setdefault(key, {"cosine": None, "layers": None, "error": None})
            report[key]["position"] = session.position(key, edited)
        source = {}
        if state.source.kind == "run":
            source["scores"] = sources.row_scores(state.source.row)
        if state.source.kind == "upload":
            source["info"] = sources.upload(state.source.upload).info
        return {"directions": report, "source": source}

    @app.post("/api/code", **json_limit)
    def code(state: StateIn):
        buffer = io.BytesIO()
        np.save(buffer, session_for(state).edited_code()[None].astype(np.float32), allow_pickle=False)
        name = f"edited_{editor.space}.npy"
        headers = {**NO_STORE, "Content-Disposition": f'attachment; filename="{name}"'}
        return Response(buffer.getvalue(), media_type="application/octet-stream", headers=headers)

    @app.post("/api/upload", status_code=202, max_body_size=upload_limit, form_limits=UPLOAD_FORM_LIMITS)
    def upload(file: UploadFile = File(...), align: bool = Form(False)):
        status = inversion_status()
        if not status["available"]:
            return JSONResponse({"detail": status["message"]}, status_code=501)
        data = file.file.read(max_upload_bytes + 1)
        if len(data) > max_upload_bytes:
            raise UploadTooLarge(_too_large_text(max_upload_bytes))
        return {"job": jobs.start(data, align=align)}  # decoded only once no other inversion runs

    @app.get("/api/jobs/{job}")
    def job_status(job: str = PathParam(max_length=64)):
        try:
            return jobs.status(job)
        except KeyError:
            raise HTTPException(404, f"no inversion job {job!r}: upload the image again") from None

    @app.get("/api/uploads/{key}/target.png")
    def upload_target(key: str = PathParam(max_length=64)):
        item = sources.uploads.get(key)
        if item is None:
            raise HTTPException(404, f"upload {key!r} is not (or no longer) held by the server: upload it again")
        return Response(png_bytes(item.target), media_type="image/png", headers=NO_STORE)

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app
