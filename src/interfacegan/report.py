"""A self-contained HTML report: sections of text, tables and images, opened from disk with no server.

Images are embedded as base64 data URIs, tables are plain HTML with numbers written out, styling is inline.
An image given as a file opens full size on click: it is wrapped in a link to that file, written relative to the
folder the report is saved in (so the report and its files move together).
Build with `Report(title)`, add sections with `heading/text/table/image/figure`, then `save(path)` (atomic).
`plural` writes counts with the right noun form ("1 direction", "2 directions") for reports and the CLI.
"""

from __future__ import annotations

import base64
import html
import io
import math
import os
from pathlib import Path
from typing import Any, Sequence
from urllib.parse import quote

import numpy as np
from PIL import Image

from interfacegan.atomic import write_text_atomic

_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em auto;max-width:1200px;
     color:#1d1d1f;padding:0 1em;line-height:1.45}
h1{font-size:1.7em} h2{margin-top:2em;border-bottom:1px solid #ddd;padding-bottom:.2em}
table{border-collapse:collapse;margin:.8em 0;font-size:.92em}
th,td{border:1px solid #ccc;padding:.3em .6em;text-align:right}
th{background:#f4f4f6} td.label,th.label{text-align:left}
figure{margin:1em 1.2em 1em 0;display:inline-block;vertical-align:top}
figcaption{font-size:.85em;color:#555;max-width:900px}
img{max-width:100%;image-rendering:pixelated} a>img{cursor:zoom-in}
.note{color:#555;font-size:.9em}
"""


def plural(count: int, noun: str, plural_form: str | None = None) -> str:
    """'1 direction', '0 directions', '3 boundaries', '20,000 samples' (give `plural_form` where adding 's' is
    wrong)."""
    return f"{count:,} {noun if count == 1 else plural_form or noun + 's'}"


def _format(value: Any, digits: int, spec: str | None = None) -> str:
    if isinstance(value, (float, np.floating)):
        if math.isnan(value):
            return "–"
        return f"{value:{spec}}" if spec else f"{value:.{digits}f}"
    return html.escape(str(value))


def png_data_uri(image: np.ndarray | Image.Image | bytes | str | Path) -> str:
    """A data URI for a uint8 array (H, W, 3), a PIL image, PNG bytes or a PNG/GIF file."""
    mime = "image/png"
    if isinstance(image, (str, Path)):
        path = Path(image)
        mime = "image/gif" if path.suffix.lower() == ".gif" else "image/png"
        data = path.read_bytes()
    elif isinstance(image, bytes):
        data = image
    else:
        pil = Image.fromarray(image) if isinstance(image, np.ndarray) else image
        buffer = io.BytesIO()
        pil.save(buffer, format="PNG")
        data = buffer.getvalue()
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


class Report:
    """An HTML document built section by section (see module docstring)."""

    def __init__(self, title: str, subtitle: str = ""):
        self.title = title
        # HTML pieces; a (path, before, after) piece is an image link, written relative to the saved report.
        self.parts: list[str | tuple[Path, str, str]] = [f"<h1>{html.escape(title)}</h1>"]
        if subtitle:
            self.parts.append(f"<p class='note'>{html.escape(subtitle)}</p>")

    def heading(self, text: str, anchor: str | None = None) -> "Report":
        ident = f" id='{html.escape(anchor)}'" if anchor else ""
        self.parts.append(f"<h2{ident}>{html.escape(text)}</h2>")
        return self

    def text(self, text: str, note: bool = False) -> "Report":
        cls = " class='note'" if note else ""
        self.parts.append(f"<p{cls}>{html.escape(text)}</p>")
        return self

    def table(
        self,
        header: Sequence[str],
        rows: Sequence[Sequence[Any]],
        digits: int = 3,
        caption: str = "",
        label_columns: int = 1,
        formats: Sequence[str | None] | None = None,
    ) -> "Report":
        """A table; floats are written with `digits` decimals (NaN as a dash), or with the format spec of their
        column in `formats` (e.g. '.2e'; None keeps `digits`); the first columns are labels."""
        specs = list(formats or []) + [None] * (len(header) - len(formats or []))
        cells = ["<table>"]
        if caption:
            cells.append(f"<caption>{html.escape(caption)}</caption>")
        cells.append(
            "<tr>"
            + "".join(
                f"<th class='label'>{html.escape(str(h))}</th>" if i < label_columns else f"<th>{html.escape(str(h))}</th>"
                for i, h in enumerate(header)
            )
            + "</tr>"
        )
        for row in rows:
            cells.append(
                "<tr>"
                + "".join(
                    f"<td class='label'>{_format(v, digits, specs[i])}</td>"
                    if i < label_columns
                    else f"<td>{_format(v, digits, specs[i])}</td>"
                    for i, v in enumerate(row)
                )
                + "</tr>"
            )
        cells.append("</table>")
        self.parts.append("".join(cells))
        return self

    def image(self, image, caption: str = "", width: int | None = None) -> "Report":
        """Embed an image (array, PIL image, PNG bytes or a PNG/GIF file path) with an optional caption, shown
        `width` pixels wide (default: its own size, at most the page's); a file opens full size on click."""
        style = f" style='width:{width}px'" if width else ""
        cap = f"<figcaption>{html.escape(caption)}</figcaption>" if caption else ""
        img = f"<img src='{png_data_uri(image)}'{style} alt='{html.escape(caption)}'>"
        if isinstance(image, (str, Path)):
            self.parts.append((Path(image), "<figure><a href='", f"' title='open full size'>{img}</a>{cap}</figure>"))
        else:
            self.parts.append(f"<figure>{img}{cap}</figure>")
        return self

    def figure(self, fig, caption: str = "", dpi: int = 110) -> "Report":
        """Embed a matplotlib figure as PNG (and close it)."""
        import matplotlib.pyplot as plt

        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
        plt.close(fig)
        return self.image(buffer.getvalue(), caption)

    def html(self, folder: str | Path | None = None) -> str:
        """The document; image links are relative to `folder` (where it is saved), else absolute file URIs."""
        body = "\n".join(part if isinstance(part, str) else _link(*part, folder) for part in self.parts)
        return (
            "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            f"<title>{html.escape(self.title)}</title><style>{_STYLE}</style></head><body>\n{body}\n</body></html>\n"
        )

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        return write_text_atomic(path, self.html(path.parent))


def _link(target: Path, before: str, after: str, folder: str | Path | None) -> str:
    if folder is None:
        href = target.resolve().as_uri()
    else:
        href = quote(Path(os.path.relpath(target.resolve(), Path(folder).resolve())).as_posix())
    return f"{before}{html.escape(href, quote=True)}{after}"
