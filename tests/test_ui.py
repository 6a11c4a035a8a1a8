"""The browser editor: session math on the toy model (known normals), the HTTP API, the `ui` command."""

from __future__ import annotations

import io
import json
import re
import shutil
import socket
import subprocess
import time

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from typer.testing import CliRunner

from interfacegan.directions.boundary import Boundary
from interfacegan.cli import app as cli_app
from interfacegan.errors import InterfaceGANError
from interfacegan.models import ToyGenerator
from interfacegan.sampling import sample_to_store
from interfacegan.ui import upload as upload_module
from interfacegan.ui.app import STATIC, create_app
from interfacegan.ui.session import Editor

runner = CliRunner()
LOCAL = "http://127.0.0.1:8000"  # the editor answers only at its own address (test_ui_security.py)


def local(app) -> TestClient:
    return TestClient(app, base_url=LOCAL)


def z_boundaries(toy_generator, model="toy"):
    return [Boundary(toy_generator.true_normal(k), attribute=f"a{k}", space="z", model=model) for k in range(3)]


def w_boundaries(toy_generator, layers=None):
    settings = {"layers": layers} if layers else {}
    return [Boundary(toy_generator.true_normal(k, "w"), attribute=f"w{k}", space="w", model="toy", settings=settings)
            for k in range(3)]  # fmt: skip


def png(response) -> np.ndarray:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    assert response.content[:8] == b"\x89PNG\r\n\x1a\n"
    return np.asarray(Image.open(io.BytesIO(response.content)).convert("RGB"))


def state(seed=0, **sliders):
    return {"source": {"kind": "seed", "seed": seed}, "directions": sliders}


@pytest.fixture
def client(toy_generator):
    return local(create_app(toy_generator, z_boundaries(toy_generator)))


@pytest.fixture
def wp_client(toy_generator):
    return local(create_app(toy_generator, w_boundaries(toy_generator)))


# ---- session math ---------------------------------------------------------------------------------------------
def test_slider_values_move_the_code_by_value_times_normal(toy_generator):
    editor = Editor(toy_generator, z_boundaries(toy_generator))
    assert editor.space == "z" and editor.num_layers is None
    z = toy_generator.sample(1, seed=4)[0]
    session = editor.session(editor.code_from_z(z))
    session.set_value("a0", 2.5)
    np.testing.assert_allclose(session.edited_code(), z + 2.5 * toy_generator.normals[0], atol=1e-6)
    session.set_value("a1", -1.5)
    normals = toy_generator.normals
    np.testing.assert_allclose(session.edited_code(), z + 2.5 * normals[0] - 1.5 * normals[1], atol=1e-6)
    strip = session.strip_codes("a0", [-1.0, 0.0, 1.0])
    np.testing.assert_allclose(strip[1], z - 1.5 * toy_generator.normals[1], atol=1e-6)
    np.testing.assert_allclose(strip[2] - strip[0], 2 * toy_generator.normals[0], atol=1e-6)
    session.reset()
    np.testing.assert_array_equal(session.edited_code(), z)


def test_conditional_slider_keeps_the_distance_to_its_conditions(toy_generator):
    editor = Editor(toy_generator, z_boundaries(toy_generator))
    session = editor.session(toy_generator.sample(1, seed=1)[0])
    b = {d.key: d.boundary for d in editor.directions.values()}
    session.set_value("a0", 3.0)
    session.set_conditions("a0", ["a1"])
    edited = session.edited_code()
    assert float(b["a1"].distance(edited)) == pytest.approx(float(b["a1"].distance(session.code)), abs=1e-5)
    c = float(toy_generator.normals[0] @ toy_generator.normals[1])
    cosine = np.sqrt(1 - c**2)  # the part of n0 orthogonal to n1, normalised
    assert session.plan("a0").cosine == pytest.approx(cosine, abs=1e-6)
    moved = float(b["a0"].distance(edited) - b["a0"].distance(session.code))
    assert moved == pytest.approx(3.0 * cosine, abs=1e-5)
    session.set_conditions("a0", ["a1", "a2"])
    edited = session.edited_code()
    for key in ("a1", "a2"):
        assert float(b[key].distance(edited)) == pytest.approx(float(b[key].distance(session.code)), abs=1e-5)


def test_degenerate_and_bad_conditions_are_one_line_errors(toy_generator):
    twin = Boundary(toy_generator.true_normal(0), attribute="twin", space="z")
    editor = Editor(toy_generator, [*z_boundaries(toy_generator), twin])
    with pytest.raises(InterfaceGANError, match="conditioning 'a0' on twin: .*span of the conditions"):
        editor.plan("a0", ["twin"])
    with pytest.raises(InterfaceGANError, match="itself"):
        editor.plan("a0", ["a0"])
    with pytest.raises(InterfaceGANError, match="unknown direction 'nope'"):
        editor.plan("a0", ["nope"])


def test_layer_range_moves_only_those_layers(toy_generator):
    editor = Editor(toy_generator, w_boundaries(toy_generator))
    assert editor.space == "wp" and editor.num_layers == 4
    code = editor.code_from_z(toy_generator.sample(1, seed=2)[0])
    session = editor.session(code)
    session.set_value("w0", 3.0)
    session.set_layers("w0", "1-2")
    edited = session.edited_code()
    np.testing.assert_array_equal(edited[[0, 3]], code[[0, 3]])  # bit-identical
    np.testing.assert_allclose(edited[1:3], code[1:3] + 3.0 * toy_generator.true_normal(0, "w"), atol=1e-6)
    # The toy draws image rows 2-5 from layers 1-2: only those rows change.
    before, after = editor.synthesize(np.stack([code, edited]))
    np.testing.assert_array_equal(before[[0, 1, 6, 7]], after[[0, 1, 6, 7]])
    assert (before[2:6] != after[2:6]).any()


def test_layers_default_to_those_the_boundary_names(toy_generator):
    editor = Editor(toy_generator, w_boundaries(toy_generator, layers="0-1"))
    assert editor.default_layers("w1") == "0-1"
    session = editor.session(editor.code_from(toy_generator.map(toy_generator.sample(1), "w")[0], "w"))
    session.set_value("w1", -2.0)
    edited = session.edited_code()
    np.testing.assert_array_equal(edited[2:], session.code[2:])
    assert not np.allclose(edited[:2], session.code[:2])


def test_layer_and_space_errors(toy_generator):
    for layers in ("0-1", "all"):  # no silent no-op on a Z editor
        with pytest.raises(InterfaceGANError, match="layer ranges need a style model"):
            Editor(toy_generator, z_boundaries(toy_generator)).plan("a0", layers=layers)
    with pytest.raises(InterfaceGANError, match="direction 'w0': .*this model has layers 0-3"):
        Editor(toy_generator, w_boundaries(toy_generator)).plan("w0", layers="2-9")
    with pytest.raises(InterfaceGANError, match="^direction .a0. belongs to model .other."):
        Editor(toy_generator, z_boundaries(toy_generator, model="other"))
    with pytest.raises(InterfaceGANError, match="z, or all in w/wp"):
        Editor(toy_generator, [*z_boundaries(toy_generator), *w_boundaries(toy_generator)])
    w = toy_generator.map(toy_generator.sample(1), "w")[0]
    editor = Editor(toy_generator, w_boundaries(toy_generator))
    np.testing.assert_array_equal(editor.code_from(w, "w"), np.stack([w] * 4))


# ---- HTTP API -------------------------------------------------------------------------------------------------
def test_page_and_static_files_load_from_the_server_only(client):
    page = client.get("/")
    assert page.status_code == 200
    scripts = re.findall(r'<script src="/static/([\w-]+\.js)"></script>', page.text)
    assert scripts == ["helpers.js", "render.js", "directions.js", "sources.js", "app.js"]  # in this order
    assert {p.name for p in STATIC.glob("*.js")} == set(scripts)  # each loaded once
    for name, kind in [*((s, "javascript") for s in scripts), ("style.css", "text/css")]:
        response = client.get(f"/static/{name}")
        assert response.status_code == 200 and kind in response.headers["content-type"]
    for path in STATIC.iterdir():  # works offline: nothing is fetched from elsewhere
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"(src|href)=[\"']?(https?:)?//|url\((https?:)?//|@import|fetch\([\"']http", text), path


def test_config_lists_directions_and_capabilities(client, wp_client):
    config = client.get("/api/config").json()
    assert [d["key"] for d in config["directions"]] == ["a0", "a1", "a2"]
    assert config["space"] == "z" and config["num_layers"] is None and config["layer_presets"] == {}
    assert config["model"]["resolution"] == 8 and config["run"] is None
    wp = wp_client.get("/api/config").json()
    assert wp["space"] == "wp" and wp["num_layers"] == 4 and wp["directions"][0]["layers"] == "all"


def test_render_is_the_edited_image_and_follows_the_slider(client, toy_generator):
    plain = png(client.post("/api/render", json=state(seed=5)))
    assert plain.shape == (toy_generator.resolution, toy_generator.resolution, 3)
    z = toy_generator.sample(1, seed=5)
    np.testing.assert_array_equal(plain, toy_generator.synthesize(z)[0])
    edited = png(client.post("/api/render", json=state(seed=5, a0={"value": 3.0})))
    np.testing.assert_array_equal(edited, toy_generator.synthesize(z + 3.0 * toy_generator.normals[0])[0])
    assert edited[0, 0, 0] > plain[0, 0, 0]  # pixel (0, 0) shows attribute 0


def test_seed_truncation_on_a_style_model(client, wp_client, toy_generator):
    from interfacegan.models import Truncation

    half = {"source": {"kind": "seed", "seed": 2, "truncation": 0.5}}
    z = toy_generator.sample(1, seed=2)
    expected = toy_generator.synthesize(toy_generator.map(z, "wp", Truncation(psi=0.5)), "wp")[0]
    np.testing.assert_array_equal(png(wp_client.post("/api/render", json=half)), expected)
    np.testing.assert_array_equal(png(client.post("/api/render", json=half)), expected)  # z edits: truncated at synthesis
    assert (png(client.post("/api/render", json=state(seed=2))) != expected).any()


def test_strip_is_the_slider_at_each_step(client, toy_generator):
    response = client.post("/api/strip", json={"state": state(seed=1, a1={"value": 1.0}), "direction": "a0",
                                               "lo": -2, "hi": 2, "steps": 5})  # fmt: skip
    strip = png(response)
    r = toy_generator.resolution
    assert strip.shape == (r, 5 * r, 3) and response.headers["x-strip-values"] == "-2,-1,0,1,2"
    z = toy_generator.sample(1, seed=1)[0] + toy_generator.normals[1]
    edited = toy_generator.synthesize((z + 2 * toy_generator.normals[0])[None])[0]
    np.testing.assert_array_equal(strip[:, 4 * r :], edited)


def test_clicking_a_strip_frame_sets_the_slider_to_that_frames_value(client, toy_generator):
    """The page maps a click on frame i to the i-th of the server's X-Strip-Values; that value, set on the slider,
    renders exactly frame i."""
    request = {"state": state(seed=1, a1={"value": 1.0}), "direction": "a0", "lo": -3, "hi": 3, "steps": 7}
    response = client.post("/api/strip", json=request)
    strip, r = png(response), toy_generator.resolution
    values = [float(v) for v in response.headers["x-strip-values"].split(",")]
    for i, value in enumerate(values):
        clicked = png(client.post("/api/render", json=state(seed=1, a1={"value": 1.0}, a0={"value": value})))
        np.testing.assert_array_equal(clicked, strip[:, i * r : (i + 1) * r])
    clicks = [(i + 0.5) * 98 for i in range(7)] + [0, 7 * 98 - 0.01]  # frame centres and both edges of a 686 px img
    got = run_page_js(f"return [{', '.join(f'app.frameValue({x}, 686, {values})' for x in clicks)}];")
    assert got == [*values, values[0], values[-1]]


NODE = shutil.which("node")


def run_page_js(body: str):
    """Run `body` (a JS function body that returns JSON-able data) with static/helpers.js (pure functions) as `app`."""
    if NODE is None:
        pytest.skip("node is not installed: the page's pure functions are checked where it is")
    script = f"const app = require({json.dumps(str(STATIC / 'helpers.js'))}); " \
             f"console.log(JSON.stringify((() => {{ {body} }})()));"  # fmt: skip
    done = subprocess.run([NODE, "-e", script], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_the_url_keeps_an_upload_and_its_edits_across_a_reload():
    out = run_page_js("""
        const fresh = () => ({source: {kind: "seed", seed: 0, row: 0, upload: null, truncation: 1},
                              directions: {a0: {value: 0, conditions: [], layers: null}, a1: {value: 0, conditions: [], layers: null}}});
        const state = fresh();
        const payload = {source: {kind: "upload", upload: "0123abcd"}, directions: {a0: {value: 1.5, conditions: ["a1"], layers: null}}};
        app.applyUrlState(app.urlHash(payload), state, {run: null});
        const bad = fresh();
        app.applyUrlState(app.urlHash({source: {kind: "upload", upload: "../x"}}), bad, {run: null});
        return {state, bad: bad.source.kind,
                aligned: app.uploadNote({aligned: true, space: "z", seconds: 1, steps: 3}),
                cropped: app.uploadNote({aligned: false, space: "z", seconds: 1, steps: 3})};
    """)
    assert out["state"]["source"]["kind"] == "upload" and out["state"]["source"]["upload"] == "0123abcd"
    assert out["state"]["directions"]["a0"] == {"value": 1.5, "conditions": ["a1"], "layers": None}
    assert out["bad"] == "seed"  # an id the server could never have made is ignored
    assert out["aligned"].startswith("face aligned") and out["cropped"].startswith("centre crop, not aligned")


def test_inspect_reports_cosine_position_and_degenerate_conditions(toy_generator):
    twin = Boundary(toy_generator.true_normal(1), attribute="twin", space="z", intercept=0.5)
    client = local(create_app(toy_generator, [*z_boundaries(toy_generator), twin]))
    report = client.post("/api/inspect", json=state(a0={"value": 1.0, "conditions": ["a1"]},
                                                     a1={"conditions": ["twin"]})).json()  # fmt: skip
    c = float(toy_generator.normals[0] @ toy_generator.normals[1])
    a0 = report["directions"]["a0"]
    assert a0["cosine"] == pytest.approx(np.sqrt(1 - c**2), abs=1e-6) and a0["error"] is None
    assert "conditioning 'a1' on twin: the primal direction lies in the span" in report["directions"]["a1"]["error"]
    plan = Editor(toy_generator, z_boundaries(toy_generator)).plan("a0", ["a1"])
    edited = toy_generator.sample(1, seed=0)[0] + plan.vector
    position = float(edited @ toy_generator.normals[1]) + 0.5
    assert report["directions"]["twin"]["position"] == pytest.approx(position, abs=1e-5)
    response = client.post("/api/render", json=state(a1={"conditions": ["twin"]}))
    assert response.status_code == 400 and "span of the conditions" in response.json()["detail"]


def test_code_download_is_the_edited_code(client, toy_generator):
    response = client.post("/api/code", json=state(seed=3, a2={"value": -2.0}))
    assert response.status_code == 200 and "edited_z.npy" in response.headers["content-disposition"]
    code = np.load(io.BytesIO(response.content), allow_pickle=False)
    assert code.shape == (1, toy_generator.z_dim) and code.dtype == np.float32
    np.testing.assert_allclose(code[0], toy_generator.sample(1, seed=3)[0] - 2.0 * toy_generator.normals[2], atol=1e-6)


def test_layer_ranges_through_the_api(wp_client, toy_generator):
    whole = png(wp_client.post("/api/render", json=state(w0={"value": 4.0})))
    some = png(wp_client.post("/api/render", json=state(w0={"value": 4.0, "layers": "3"})))
    plain = png(wp_client.post("/api/render", json=state()))
    np.testing.assert_array_equal(some[:6], plain[:6])  # rows 0-5 come from layers 0-2
    np.testing.assert_array_equal(some[6:], whole[6:])
    assert (some[6:] != plain[6:]).any()


@pytest.mark.parametrize(
    "body, status, words",
    [
        (state(nope={"value": 1.0}), 400, "unknown direction 'nope'"),
        (state(a0={"layers": "0-1"}), 400, "layer ranges need a style model"),
        (state(a0={"conditions": ["a9"]}), 400, "unknown direction 'a9'"),
        ({"source": {"kind": "seed", "seed": -1}}, 422, "source.seed"),
        ({"source": {"kind": "seed", "path": "/etc/passwd"}}, 422, "source.path"),
        ({"source": {"kind": "file"}}, 422, "source.kind"),
        (state(a0={"value": 1e9}), 422, "directions.a0.value"),
        ({"source": {"kind": "run", "row": 0}}, 400, "no run is open"),
        ({"source": {"kind": "upload", "upload": "abc"}}, 400, "upload the image again"),
    ],
)
def test_bad_states_answer_4xx_with_one_line(client, body, status, words):
    response = client.post("/api/render", json=body)
    assert response.status_code == status
    detail = response.json()["detail"]
    assert isinstance(detail, str) and "\n" not in detail and words in detail


def test_bad_layer_range_on_a_style_model(wp_client):
    response = wp_client.post("/api/render", json=state(w0={"value": 1.0, "layers": "2-9"}))
    assert response.status_code == 400 and "layers 0-3" in response.json()["detail"]


def test_run_rows_are_editable(tmp_path, toy_generator):
    from interfacegan.scoring.toy import ToyScorer

    store = sample_to_store(toy_generator, tmp_path / "run", num=20, seed=9, chunk_rows=8, progress=False)
    scores = ToyScorer(3)(toy_generator.synthesize(store.codes("z")))
    store.ensure_array("scores/attr0", (), "float32")
    store.write_rows("scores/attr0", 0, scores["attr0"])
    client = local(create_app(toy_generator, z_boundaries(toy_generator), store=store))
    assert client.get("/api/config").json()["run"]["rows"] == 20
    body = {"source": {"kind": "run", "row": 13}, "directions": {"a0": {"value": 1.0}}}
    image = png(client.post("/api/render", json=body))
    code = store.codes("z", rows=np.array([13])) + toy_generator.normals[0]
    np.testing.assert_array_equal(image, toy_generator.synthesize(code)[0])
    report = client.post("/api/inspect", json=body).json()
    assert report["source"]["scores"]["attr0"] == pytest.approx(float(scores["attr0"][13]))
    response = client.post("/api/render", json={"source": {"kind": "run", "row": 20}})
    assert response.status_code == 400 and "0..19" in response.json()["detail"]
    # as an unfinished run leaves it
    store.write_rows("codes/z", 16, np.full((1, toy_generator.z_dim), np.nan, np.float32))
    response = client.post("/api/render", json={"source": {"kind": "run", "row": 16}})
    assert response.status_code == 400 and "sampling did not finish" in response.json()["detail"]


def test_run_rows_of_a_truncated_w_run_show_the_runs_own_images(tmp_path, toy_generator):
    """A run sampled with a layer cutoff stores w truncated on all layers; its W+ codes (truncated on the first
    `cutoff` layers only) must come from z, or the editor shows another image than the run's."""
    from interfacegan.models import Truncation

    truncation = Truncation(psi=0.5, cutoff=1)
    store = sample_to_store(toy_generator, tmp_path / "run", num=4, seed=5, truncation=truncation, progress=False)
    # as older versions stored it (sampling now refuses w)
    store.ensure_array("codes/w", (toy_generator.w_dim,), "float32")
    store.write_rows("codes/w", 0, toy_generator.map(store.codes("z"), "w", truncation))
    client = local(create_app(toy_generator, w_boundaries(toy_generator), store=store))
    image = png(client.post("/api/render", json={"source": {"kind": "run", "row": 2}}))
    own = toy_generator.synthesize(store.codes("z", rows=np.array([2])), "z", truncation=truncation)[0]
    np.testing.assert_array_equal(image, own)


def test_a_run_of_another_model_is_refused(tmp_path, toy_generator):
    store = sample_to_store(toy_generator, tmp_path / "run", num=4, progress=False)
    other = ToyGenerator(seed=1)
    other.spec = "toy-other"
    with pytest.raises(InterfaceGANError, match="sampled with model 'toy'"):
        create_app(other, z_boundaries(other, model=None), store=store)


# ---- uploads --------------------------------------------------------------------------------------------------
def image_bytes(image: np.ndarray, fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format=fmt)
    return buffer.getvalue()


def test_upload_of_a_non_image_is_400(client):
    response = client.post("/api/upload", files={"file": ("x.png", b"this is not an image", "image/png")})
    assert response.status_code == 400 and "not an image" in response.json()["detail"]


def test_uploads_decode_like_image_files(tmp_path):
    """Uploads go through the same conversion as image files: 16-bit greys scaled to 8 bits, alpha on white."""
    from interfacegan.inversion.images import read_image

    grey16 = Image.fromarray(np.full((6, 8), 65535 // 2, np.uint16))
    rgba = Image.fromarray(np.dstack([np.full((6, 8, 3), 10, np.uint8), np.zeros((6, 8), np.uint8)]), "RGBA")
    for name, image in (("grey16.png", grey16), ("clear.png", rgba)):
        image.save(tmp_path / name)
        uploaded = upload_module.decode_image((tmp_path / name).read_bytes())
        assert uploaded.mode == "RGB"
        np.testing.assert_array_equal(np.asarray(uploaded), np.asarray(read_image(tmp_path / name)))
    assert np.asarray(upload_module.decode_image((tmp_path / "grey16.png").read_bytes())).max() == 127  # 32767 of 65535
    assert np.asarray(upload_module.decode_image((tmp_path / "clear.png").read_bytes())).min() == 255


def test_upload_size_limits(toy_generator):
    client = local(create_app(toy_generator, z_boundaries(toy_generator), max_upload_bytes=1000))
    big = np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    response = client.post("/api/upload", files={"file": ("big.png", image_bytes(big), "image/png")})
    assert response.status_code == 413 and "larger than" in response.json()["detail"]
    huge = b"0" * (200 * 1024)  # refused from its Content-Length, before the form is parsed
    response = client.post("/api/upload", files={"file": ("huge.png", huge, "image/png")})
    assert response.status_code == 413 and "larger than" in response.json()["detail"]
    with pytest.raises(InterfaceGANError, match="megapixels"):
        upload_module.decode_image(image_bytes(big), max_pixels=1000)


def test_upload_without_the_inversion_module_is_501(client, monkeypatch):
    monkeypatch.setattr(upload_module, "inversion_module", lambda: None)
    grey = np.full((20, 30, 3), 128, np.uint8)
    response = client.post("/api/upload", files={"file": ("g.png", image_bytes(grey), "image/png")})
    assert response.status_code == 501 and "interfacegan.inversion" in response.json()["detail"]
    assert client.get("/api/config").json()["upload"]["available"] is False


def test_upload_while_another_inversion_runs_is_409(client, monkeypatch):
    def busy(self, image, align=False):
        raise upload_module.InversionBusy("another image is being inverted: wait until it is done, then upload again")

    monkeypatch.setattr(upload_module.InversionJobs, "start", busy)
    grey = np.full((20, 30, 3), 128, np.uint8)
    response = client.post("/api/upload", files={"file": ("g.png", image_bytes(grey), "image/png")})
    assert response.status_code == 409 and "being inverted" in response.json()["detail"]


def test_uploaded_image_is_inverted_then_edited(toy_generator):
    if upload_module.inversion_module() is None:
        pytest.skip("interfacegan.inversion is not installed")
    client = local(create_app(toy_generator, z_boundaries(toy_generator), invert_steps=30))
    target = toy_generator.synthesize(toy_generator.sample(1, seed=11))[0]
    photo = np.pad(target, ((0, 0), (2, 2), (0, 0)))  # 8x12: the centre square is the target
    response = client.post("/api/upload", files={"file": ("t.png", image_bytes(photo), "image/png")},
                           data={"align": "false"})  # fmt: skip
    assert response.status_code == 202, response.text
    job = response.json()["job"]
    for _ in range(600):  # bounded wait; the toy inverts in well under a second
        status = client.get(f"/api/jobs/{job}").json()
        if status["status"] != "running":
            break
        time.sleep(0.05)
    assert status["status"] == "done", status
    source = status["source"]
    assert source["kind"] == "upload" and status["info"]["space"] == "z"
    np.testing.assert_array_equal(png(client.get(f"/api/uploads/{source['upload']}/target.png")), target)
    plain = png(client.post("/api/render", json={"source": source}))
    assert np.abs(plain.astype(int) - target).mean() < 20  # a rough reconstruction of the 8x8 toy image
    edited = png(client.post("/api/render", json={"source": source, "directions": {"a0": {"value": 3.0}}}))
    assert edited[0, 0, 0] > plain[0, 0, 0]
    assert client.get("/api/jobs/unknown").status_code == 404
    # what a reload reads back (the page keeps the upload in its URL): the note's facts, then the same edit
    assert status["info"]["aligned"] is False
    info = client.post("/api/inspect", json={"source": source}).json()["source"]["info"]
    assert info["aligned"] is False and info["space"] == "z"
    again = png(client.post("/api/render", json={"source": source, "directions": {"a0": {"value": 3.0}}}))
    np.testing.assert_array_equal(again, edited)


def test_an_aligned_upload_says_so(toy_generator, monkeypatch):
    if upload_module.inversion_module() is None:
        pytest.skip("interfacegan.inversion is not installed")
    seen = []

    def prepare(image, model, align):  # no face in a toy image: record the flag, centre-crop
        seen.append(align)
        return np.array(image.resize((model.resolution, model.resolution)))

    monkeypatch.setattr(upload_module, "prepare_target", prepare)
    client = local(create_app(toy_generator, z_boundaries(toy_generator), invert_steps=2))
    image = toy_generator.synthesize(toy_generator.sample(1, seed=3))[0]
    job = client.post("/api/upload", files={"file": ("t.png", image_bytes(image), "image/png")},
                      data={"align": "true"}).json()["job"]  # fmt: skip
    for _ in range(600):
        status = client.get(f"/api/jobs/{job}").json()
        if status["status"] != "running":
            break
        time.sleep(0.05)
    assert status["status"] == "done" and seen == [True] and status["info"]["aligned"] is True
    info = client.post("/api/inspect", json={"source": status["source"]}).json()["source"]["info"]
    assert info["aligned"] is True


# ---- command line -------------------------------------------------------------------------------------------------
def test_ui_help():
    result = runner.invoke(cli_app, ["ui", "--help"])
    assert result.exit_code == 0
    for option in ("--model", "--boundaries", "--run", "--sefa", "--host", "--port"):
        assert option in result.output


def test_build_editor_app_loads_folders_stacks_names_and_sefa(tmp_path, toy_generator):
    from interfacegan.ui.build import build_editor_app

    folder = tmp_path / "dirs"
    for b in z_boundaries(toy_generator):
        b.save(folder / f"{b.attribute}.npz")
    np.save(folder / "stack.npy", np.stack([toy_generator.normals[0], -toy_generator.normals[1]]).astype(np.float32))
    names = {"directions": [{"direction": "a1", "label": "+attr1", "attribute": "attr1"}]}
    (folder / "names.json").write_text(json.dumps(names))
    single = tmp_path / "one.npy"
    np.save(single, toy_generator.normals[2][None].astype(np.float32))
    app = build_editor_app(boundaries=[str(folder), f"{tmp_path / 'dirs' / 'stack.npy'}:1", str(single)],
                           sefa=2, device="cpu")  # fmt: skip
    config = local(app).get("/api/config").json()
    keys = [d["key"] for d in config["directions"]]
    assert keys == ["a0", "a1", "a2", "stack_0", "stack_1", "stack_1#2", "one", "sefa_0", "sefa_1"]
    labels = {d["key"]: d["label"] for d in config["directions"]}
    assert labels["a1"] == "a1 (+attr1)" and config["model"]["spec"] == "toy"
    assert config["directions"][-1]["note"].startswith("SeFa eigenvalue")
    stack1 = app.state.editor.directions["stack_1"].boundary
    np.testing.assert_allclose(stack1.normal, -toy_generator.normals[1], atol=1e-6)
    # SeFa settings without SeFa sliders changed nothing (name_with was ignored): refused
    for settings, what in (({"sefa_layers": "0"}, "sefa_layers chooses"), ({"name_with": ["toy"]}, "name_with names")):
        with pytest.raises(InterfaceGANError, match=f"{what} .* of SeFa directions, but none are added"):
            build_editor_app(model="toy", boundaries=[str(single)], device="cpu", **settings)


def test_ui_command_refuses_a_busy_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        port = sock.getsockname()[1]
        result = runner.invoke(cli_app, ["ui", "--model", "toy", "--port", str(port)])
    assert isinstance(result.exception, InterfaceGANError) and "choose another --port" in str(result.exception)


def test_ui_command_serves_on_localhost_by_default(monkeypatch, tmp_path, toy_generator):
    import uvicorn

    sample_to_store(toy_generator, tmp_path / "run", num=6, progress=False)
    served = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: served.update(app=app, **options))
    with socket.socket() as sock:  # a port that is free right now
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = runner.invoke(cli_app, ["ui", "--run", str(tmp_path / "run"), "--sefa", "2", "--port", str(port),
                                     "--device", "cpu", "--allow-host", "editor.example"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert served["host"] == "127.0.0.1" and served["port"] == port
    assert f"http://127.0.0.1:{port}/" in " ".join(result.output.split())
    client = TestClient(served["app"], base_url=f"http://127.0.0.1:{port}")
    assert client.get("/api/config", headers={"host": "attacker.example"}).status_code == 400
    assert client.get("/api/config", headers={"host": f"127.0.0.1:{port + 1}"}).status_code == 400  # its port only
    assert client.get("/api/config", headers={"host": "editor.example"}).status_code == 200  # --allow-host
    config = client.get("/api/config").json()
    assert config["model"]["spec"] == "toy" and config["run"]["rows"] == 6  # the model comes from the run
    assert [d["key"] for d in config["directions"]] == ["sefa_0", "sefa_1"]
