"""The interactive editor in the browser: `interfacegan ui`, or `create_app(model, directions)` served by uvicorn.

`session` holds the editing math with no web code (`Editor`, `EditSession`); `app` serves it over HTTP with the
page in `static/` (plain HTML/JS/CSS, nothing fetched from elsewhere); `sources`, `upload` and `directions` turn
seeds, run rows, uploaded images and direction files into what the editor edits.
"""

from interfacegan.ui.session import Direction, Editor, EditSession, Slider


def __getattr__(name: str):
    if name == "create_app":  # FastAPI is imported only when the web app is wanted
        from interfacegan.ui.app import create_app

        return create_app
    raise AttributeError(f"module 'interfacegan.ui' has no attribute {name!r}")


__all__ = ["Direction", "EditSession", "Editor", "Slider", "create_app"]
