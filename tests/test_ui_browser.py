"""The browser editor end to end: Debian's Chromium, headless, driven by Playwright, on the editor served by a real
uvicorn at 127.0.0.1 with the toy model (known normals), so every image on the page is checked pixel for pixel.

Needs the `browser` extra (`pip install -e .[browser]`, never `playwright install`) and /usr/bin/chromium
(`apt-get install chromium`); skipped where either is missing.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from urllib.parse import unquote

import numpy as np
import pytest

from interfacegan.directions.boundary import Boundary
from interfacegan.models import ToyGenerator
from interfacegan.ui.app import create_app
from tests.helpers import serving

CHROMIUM = Path("/usr/bin/chromium")
# Headless and offline: without the background-networking flags Chromium tries to reach Google's services.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--force-color-profile=srgb"]  # fmt: skip
TIMEOUT_MS = 20_000
STRIP_VALUES = [-3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0]  # the page's strip: -3..+3 in 7 frames

if not CHROMIUM.exists():
    pytest.skip(f"{CHROMIUM} is missing: `apt-get install chromium` to run the browser tests",
                allow_module_level=True)  # fmt: skip
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is missing: `pip install -e .[browser]`")


@pytest.fixture(scope="module")
def toy_generator() -> ToyGenerator:
    """The toy model of conftest's `toy_generator`, once for the module's server."""
    return ToyGenerator(z_dim=16, num_attributes=3, seed=0)


@pytest.fixture(scope="module")
def editor_url(toy_generator):
    """The editor (sliders a0..a2 on the toy model's true z normals) on a real server; yields its address."""
    directions = [Boundary(toy_generator.true_normal(k), attribute=f"a{k}", space="z", model="toy") for k in range(3)]
    with serving(create_app(toy_generator, directions)) as port:
        yield f"http://127.0.0.1:{port}/"


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """A headless Chromium with a fresh profile: no extension, no cache, no network but the editor's."""
    with sync_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")), executable_path=str(CHROMIUM), headless=True,
            args=CHROMIUM_ARGS)  # fmt: skip
        context.set_default_timeout(TIMEOUT_MS)
        yield context
        context.close()


@pytest.fixture
def page(browser, editor_url):
    """The editor page, loaded and showing its first render; fails the test on any script error."""
    page = browser.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    page.goto(editor_url)
    wait_until(page, "() => document.querySelector('#status').textContent.startsWith('rendered in')")
    yield page
    page.close()
    assert errors == [], errors


def wait_until(page, predicate: str, seconds: float = 20.0) -> None:
    """Poll the JS function `predicate` until it returns true. (Playwright's wait_for_function evaluates strings,
    which the page's Content-Security-Policy rightly refuses: the page is tested under its real policy.)"""
    deadline = time.monotonic() + seconds
    while not page.evaluate(predicate):
        assert time.monotonic() < deadline, f"timed out waiting for {predicate}"
        page.wait_for_timeout(50)


def picture(page, selector: str) -> np.ndarray:
    """The pixels (H, W, 3) of image `selector` as the browser decoded them, at their natural size."""
    rgba = page.evaluate("""async (selector) => {
        const img = document.querySelector(selector);
        try {
          await img.decode();
        } catch (_) {
          return null;  // nothing shown yet
        }
        const canvas = document.createElement("canvas");
        [canvas.width, canvas.height] = [img.naturalWidth, img.naturalHeight];
        const context = canvas.getContext("2d");
        context.drawImage(img, 0, 0);
        const pixels = context.getImageData(0, 0, canvas.width, canvas.height).data;
        return {w: canvas.width, h: canvas.height, data: Array.from(pixels)};
    }""", selector)  # fmt: skip
    if rgba is None:
        return np.zeros((0, 0, 3), np.uint8)
    return np.asarray(rgba["data"], dtype=np.uint8).reshape(rgba["h"], rgba["w"], 4)[..., :3]


def expect_picture(page, selector: str, expected: np.ndarray, seconds: float = 20.0) -> None:
    """Wait until image `selector` shows `expected` exactly (renders arrive asynchronously), else fail."""
    deadline = time.monotonic() + seconds
    while True:
        got = picture(page, selector)
        if got.shape == expected.shape and (got == expected).all() or time.monotonic() > deadline:
            break
        page.wait_for_timeout(100)
    np.testing.assert_array_equal(got, expected)


def toy_image(toy_generator, seed: int, a0: float) -> np.ndarray:
    """The toy model's image of `seed` moved by `a0` along attribute 0's normal: what the page must show."""
    z = toy_generator.sample(1, seed=seed) + a0 * toy_generator.normals[0]
    return toy_generator.synthesize(z)[0]


def slider_value(page, key: str) -> float:
    return float(page.locator(f'.dir[data-key="{key}"] .slider').input_value())


def test_moving_a_slider_changes_the_image(page, toy_generator):
    before = toy_image(toy_generator, seed=0, a0=0.0)
    expect_picture(page, "#image", before)
    slider = page.locator('.dir[data-key="a0"] .slider')
    slider.focus()
    for _ in range(15):  # the keyboard moves a range input one step (0.1) per press, as a user does
        page.keyboard.press("ArrowRight")
    assert slider_value(page, "a0") == pytest.approx(1.5)
    assert page.locator('.dir[data-key="a0"] .num').input_value() == "1.50"
    after = toy_image(toy_generator, seed=0, a0=1.5)
    assert (after != before).any()
    expect_picture(page, "#image", after)


def test_clicking_a_strip_frame_sets_the_slider_to_its_value(page, toy_generator):
    """Issue 10 item 5: frame i of the preview strip is the slider at the strip's i-th value."""
    r = toy_generator.resolution
    strip = np.concatenate([toy_image(toy_generator, seed=0, a0=v) for v in STRIP_VALUES], axis=1)
    expect_picture(page, "#strip", strip)
    box = page.locator("#strip").bounding_box()
    assert box["width"] > 7 * 10  # shown wide enough to aim at a frame
    for i in (5, 1, 6):
        page.locator("#strip").click(position={"x": (i + 0.5) * box["width"] / 7, "y": box["height"] / 2})
        assert slider_value(page, "a0") == STRIP_VALUES[i]
        expect_picture(page, "#image", strip[:, i * r : (i + 1) * r])


def test_a_reload_comes_back_to_the_same_edit_from_the_url(page, toy_generator):
    page.locator("#seed-next").click()
    page.locator('.dir[data-key="a0"] .num').fill("-2.25")
    page.locator('.dir[data-key="a0"] .num').press("Enter")
    expected = toy_image(toy_generator, seed=1, a0=-2.25)
    expect_picture(page, "#image", expected)
    wait_until(page, "() => decodeURIComponent(location.hash).includes('-2.25')")  # the URL follows after a debounce
    saved = json.loads(unquote(page.evaluate("location.hash"))[1:])
    assert saved["source"]["seed"] == 1 and saved["directions"] == {"a0": {"value": -2.25, "conditions": [],
                                                                          "layers": None}}  # fmt: skip
    page.reload()
    wait_until(page, "() => document.querySelector('#status').textContent.startsWith('rendered in')")
    assert page.locator("#seed").input_value() == "1"  # the slider shows -2.25 on its 0.1 steps; the box exactly
    assert page.locator('.dir[data-key="a0"] .num').input_value() == "-2.25"
    expect_picture(page, "#image", expected)
