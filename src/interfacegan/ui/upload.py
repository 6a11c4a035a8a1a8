"""Uploaded images for the editor: safe decoding (Pillow, size limits) and inversion into the model in the background.

Decoding never trusts the upload and happens only once no other inversion runs (so concurrent uploads never
decode at once): at most `MAX_UPLOAD_BYTES` bytes, only PNG, JPEG, WebP, BMP and GIF, and a pixel budget read from
the header before any pixel is decoded: `MAX_UPLOAD_PIXELS`, and fewer for modes whose conversion to RGB needs
more bytes per pixel (16-bit greys, alpha), so one decode stays within `MAX_DECODE_BYTES`. EXIF rotation is
applied. The face is then aligned to the model's framing (dlib, `interfacegan.inversion.align_face`) or the centre
square is taken, at the model's resolution. Inversion (`interfacegan.inversion.invert`) runs in one background
thread at a time with a bounded number of steps (`--invert-steps`); the page polls the job.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import io
import threading
import time
import uuid

import numpy as np

from interfacegan.errors import InterfaceGANError
from interfacegan.ui.sources import LRU, Sources, Upload
from interfacegan.ui.session import Editor

MAX_UPLOAD_BYTES = 16 * 2**20
MAX_UPLOAD_PIXELS = 40_000_000
MAX_DECODE_BYTES = 256 * 2**20
UPLOAD_FORMATS = ("PNG", "JPEG", "WEBP", "BMP", "GIF")  # what the page offers; nothing that runs a helper (EPS)
# Peak bytes per pixel of opening, EXIF-rotating and converting an image of each mode to RGB (`to_rgb`), measured
# with Pillow 13 on 16-megapixel images (ru_maxrss); modes not listed are counted as the widest.
DECODE_BYTES_PER_PIXEL = {"1": 6, "L": 6, "RGB": 12, "CMYK": 12, "P": 18, "RGBA": 23, "LA": 23,
                          "I;16": 28, "I;16B": 28, "I;16L": 28}  # fmt: skip
WIDEST_BYTES_PER_PIXEL = 32
INVERSION_MODULE = "interfacegan.inversion"


class UploadTooLarge(InterfaceGANError):
    """The upload exceeds the byte limit."""

    status_code = 413


class InversionBusy(InterfaceGANError):
    """Another inversion is running."""

    status_code = 409


def pixel_budget(mode: str, max_pixels: int = MAX_UPLOAD_PIXELS, max_bytes: int = MAX_DECODE_BYTES) -> int:
    """The most pixels an upload of PIL `mode` may have: `max_pixels`, or fewer where decoding needs more memory."""
    return min(max_pixels, max_bytes // DECODE_BYTES_PER_PIXEL.get(mode, WIDEST_BYTES_PER_PIXEL))


def decode_image(data: bytes, max_pixels: int = MAX_UPLOAD_PIXELS, max_bytes: int = MAX_DECODE_BYTES):
    """An uploaded file's bytes -> upright RGB PIL image; a one-line error for non-images, other formats and images
    over the pixel budget (checked from the header, before any pixel is decoded)."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    from interfacegan.inversion.images import to_rgb

    try:
        image = Image.open(io.BytesIO(data), formats=UPLOAD_FORMATS)  # reads the header only
        width, height = image.size
        budget = pixel_budget(image.mode, max_pixels, max_bytes)
        if width * height > budget:
            raise InterfaceGANError(
                f"the image has {width}x{height} pixels, more than the {budget / 10**6:.3g} megapixels accepted for "
                f"{image.mode} images: upload a smaller one"
            )
        image.load()
        return to_rgb(ImageOps.exif_transpose(image))
    except InterfaceGANError:
        raise
    except Image.DecompressionBombError:  # so many pixels that Pillow refuses to open it
        raise InterfaceGANError(
            f"the image declares far more pixels than the {max_pixels / 10**6:.3g} megapixels accepted: "
            "upload a smaller one"
        ) from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError) as exc:
        raise InterfaceGANError(
            f"the upload is not an image Pillow can read ({', '.join(UPLOAD_FORMATS)}; {type(exc).__name__}): "
            "upload a PNG, JPEG or WebP file"
        ) from None


def prepare_target(image, model, align: bool) -> np.ndarray:
    """The image the inversion aims at, (R, R, 3) uint8: the face aligned to the model's framing, or the centre
    square resized (R = model resolution)."""
    r = model.resolution
    if align:
        from interfacegan.inversion import align_face, face_template

        return align_face(image, face_template(model), r, source="the uploaded image")
    from interfacegan.inversion.images import center_crop_resize

    return center_crop_resize(image, r)


def inversion_module():
    """The inversion module when it is installed and offers `invert`, else None."""
    if importlib.util.find_spec(INVERSION_MODULE) is None:
        return None
    try:
        module = importlib.import_module(INVERSION_MODULE)
    except Exception:  # a broken or half-installed module: uploads stay off, editing works
        return None
    return module if callable(getattr(module, "invert", None)) else None


def inversion_status() -> dict:
    """{"available": bool, "message": str}: whether uploads can be inverted in this installation."""
    if inversion_module() is None:
        return {
            "available": False,
            "message": "inverting uploaded images needs interfacegan.inversion (with invert()), which this "
            "installation does not have: edit random samples or run rows instead",
        }
    return {"available": True, "message": ""}


class InversionJobs:
    """Background inversions of uploaded images, one at a time; each job ends with an `Upload` in `sources`."""

    def __init__(self, editor: Editor, sources: Sources, steps: int = 200, encoder=None):
        if steps < 0:
            raise InterfaceGANError(f"inversion steps must be >= 0, got {steps}")
        self.editor, self.sources, self.steps, self.encoder = editor, sources, int(steps), encoder
        self._jobs = LRU(32)
        self._busy = threading.Lock()

    def start(self, data: bytes, align: bool = False) -> str:
        """Decode the uploaded file `data` (`decode_image`) and start aligning/cropping and inverting it; a one-line
        error when another inversion runs, checked before anything is decoded."""
        if not self._busy.acquire(blocking=False):
            raise InversionBusy("another image is being inverted: wait until it is done, then upload again")
        try:
            image = decode_image(data)
            key = uuid.uuid4().hex[:16]
            job = {"status": "running", "stage": "preparing", "step": 0, "steps": self.steps, "detail": None,
                   "source": None, "info": None, "started": time.time()}  # fmt: skip
            self._jobs.put(key, job)
            thread = threading.Thread(target=self._run, args=(job, image, align), name=f"invert-{key}", daemon=True)
            thread.start()
        except BaseException:
            self._busy.release()
            raise
        return key

    def status(self, key: str) -> dict:
        """The job's state for the page: status (running/done/error), stage, step/steps, seconds, source, detail."""
        job = self._jobs.get(key)
        if job is None:
            raise KeyError(key)
        out = {k: v for k, v in job.items() if k != "started"}
        out["seconds"] = round(time.time() - job["started"], 1)
        return out

    def _run(self, job: dict, image, align: bool) -> None:
        try:
            target = prepare_target(image, self.editor.model, align)
            job["stage"] = "inverting"
            upload = self.invert(target, job)
            upload.info["aligned"] = bool(align)  # the page says whether the face was aligned or centre-cropped
            job.update(source={"kind": "upload", "upload": self.sources.add_upload(upload)}, info=upload.info,
                       stage="done", status="done")  # fmt: skip
        except InterfaceGANError as exc:
            job.update(status="error", detail=str(exc))
        except Exception as exc:  # report it on the page, never kill the server
            job.update(status="error", detail=f"inversion failed: {type(exc).__name__}: {exc}")
        finally:
            self._busy.release()

    def invert(self, target: np.ndarray, job: dict | None = None) -> Upload:
        """Invert `target` (R, R, 3) uint8 in this thread into a code of the editor's space."""
        module = inversion_module()
        if module is None:
            raise InterfaceGANError(inversion_status()["message"])
        job = job if job is not None else {}
        space = self.editor.space
        if self.encoder is not None:
            space = self.encoder.config.space
        options = {"space": space, "steps": self.steps}
        if self.encoder is not None:
            options["encoder"] = self.encoder
        params = inspect.signature(module.invert).parameters
        callback = next((name for name in ("callback", "on_step") if name in params), None)
        if callback is not None:  # a determinate progress bar when invert reports its steps

            def on_step(step: int, *_args, **_kwargs) -> None:
                job["step"] = int(step)

            options[callback] = on_step
        started = time.time()
        result = module.invert(self.editor.model, target[None], **options)
        job["step"] = job.get("steps", self.steps)
        info = {"steps": self.steps, "seconds": round(time.time() - started, 2), "space": result.space,
                "init": getattr(result, "init", None)}  # fmt: skip
        if getattr(result, "psnr", None) is not None:
            info["psnr"] = round(float(np.asarray(result.psnr).reshape(-1)[0]), 2)
        if getattr(result, "losses", None) is not None and len(result.losses):
            info["loss"] = float(np.min(np.asarray(result.losses)[:, 0]))
        code = self.editor.code_from(np.asarray(result.codes, dtype=np.float32)[0], result.space)
        return Upload(code=code, target=target, info=info)
