"""The browser editor against other sites and hostile requests: its own Host only, same-origin changes, security
headers, bounded bodies and parameters, uploads decoded one at a time within a pixel budget, and a server that
keeps answering after any failed request (checked on a real uvicorn on 127.0.0.1 with an ephemeral port)."""

from __future__ import annotations

import io
import socket
import struct
import threading
import zlib

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from interfacegan.directions.boundary import Boundary
from interfacegan.errors import InterfaceGANError
from interfacegan.layers import parse_layers
from interfacegan.models import ToyGenerator
from interfacegan.ui import upload as upload_module
from interfacegan.ui.app import create_app
from tests.helpers import serving

LOCAL = "http://127.0.0.1:8000"


class FlakyToy(ToyGenerator):
    """The toy model, except that seed 13 fails as an exhausted machine would (an unexpected exception)."""

    def sample(self, num, seed=None, **options):
        if seed == 13:
            raise MemoryError("probe: out of memory")
        return super().sample(num, seed, **options)


def w_boundaries(toy):
    return [Boundary(toy.true_normal(k, "w"), attribute=f"w{k}", space="w", model="toy") for k in range(3)]


def editor_app(**options):
    toy = FlakyToy()
    return create_app(toy, w_boundaries(toy), **options)


@pytest.fixture
def client():
    return TestClient(editor_app(), base_url=LOCAL)


def png_upload(image: np.ndarray) -> dict:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return {"file": ("t.png", buffer.getvalue(), "image/png")}


def one_line(response, status: int, *words: str) -> str:
    assert response.status_code == status, (response.status_code, response.text)
    detail = response.json()["detail"]
    assert isinstance(detail, str) and "\n" not in detail and len(detail) < 400, detail
    for word in words:
        assert word in detail, detail
    return detail


# ---- Host: DNS rebinding --------------------------------------------------------------------------------------
@pytest.mark.parametrize("host", ["127.0.0.1:8000", "localhost:8000", "LOCALHOST:8000", "[::1]:8000"])
def test_the_editor_answers_at_its_own_host(client, host):
    assert client.get("/api/config", headers={"host": host}).status_code == 200


@pytest.mark.parametrize(
    "host",
    ["attacker.example:8000", "attacker.example", "127.0.0.1:8001", "localhost", "127.0.0.1.attacker.example:8000",
     "127.0.0.1:8000@attacker.example", "localhost:8000/x", "[::2]:8000", "10.0.0.7:8000", ""],
)  # fmt: skip
def test_other_hosts_are_refused_so_a_rebound_name_reads_nothing(tmp_path, host):
    from interfacegan.sampling import sample_to_store

    toy = FlakyToy()
    store = sample_to_store(toy, tmp_path / "secret-run", num=4, progress=False)
    client = TestClient(create_app(toy, w_boundaries(toy), store=store), base_url=LOCAL)
    for method, path in (("GET", "/api/config"), ("GET", "/"), ("POST", "/api/render")):
        response = client.request(method, path, headers={"host": host}, json={} if method == "POST" else None)
        one_line(response, 400, "127.0.0.1:8000")
        assert "secret-run" not in response.text


def test_hosts_the_server_is_told_and_the_address_it_is_reached_at(client):
    app = editor_app(allowed_hosts=["editor.example", "gpu-box:9000", "0.0.0.0", "::1"])
    proxied = TestClient(app, base_url=LOCAL)
    assert proxied.get("/api/config", headers={"host": "editor.example"}).status_code == 200  # behind a proxy
    assert proxied.get("/api/config", headers={"host": "editor.example:443"}).status_code == 200
    assert proxied.get("/api/config", headers={"host": "gpu-box:9000"}).status_code == 200
    assert proxied.get("/api/config", headers={"host": "gpu-box:9001"}).status_code == 400
    assert proxied.get("/api/config", headers={"host": "0.0.0.0:8000"}).status_code == 400  # a wildcard is no name
    # an IP literal that is the address the connection arrived on cannot be a rebound name (--host 0.0.0.0)
    lan = TestClient(editor_app(), base_url="http://192.168.1.5:8000")
    assert lan.get("/api/config").status_code == 200
    assert lan.get("/api/config", headers={"host": "192.168.1.6:8000"}).status_code == 400
    # without a port the browser means 80: accepted only when that is the port the server listens on
    assert TestClient(editor_app(), base_url="http://localhost").get("/api/config").status_code == 200


# ---- Origin: cross-site requests ------------------------------------------------------------------------------
def test_a_cross_site_upload_is_refused_before_anything_starts(client, monkeypatch):
    started = []
    monkeypatch.setattr(upload_module.InversionJobs, "start", lambda self, *a, **k: started.append(a) or "job")
    image = np.full((8, 8, 3), 100, np.uint8)
    response = client.post("/api/upload", files=png_upload(image), headers={"origin": "http://attacker.example"})
    one_line(response, 403, "http://attacker.example")
    assert started == []


@pytest.mark.parametrize(
    "headers",
    [{"origin": "http://attacker.example"}, {"origin": "null"}, {"origin": "http://localhost:3000"},
     {"origin": "http://127.0.0.1:8000.attacker.example"}, {"origin": "file://"},
     {"sec-fetch-site": "cross-site"}, {"sec-fetch-site": "same-site"},
     {"referer": "http://attacker.example/page.html"}, {"referer": "http://127.0.0.1:9999/"}],
)  # fmt: skip
def test_state_changes_from_other_origins_are_refused(client, headers):
    one_line(client.post("/api/render", json={}, headers=headers), 403, "refused")


@pytest.mark.parametrize(
    "headers",
    [{}, {"origin": "http://127.0.0.1:8000"}, {"origin": "HTTP://LOCALHOST:8000", "host": "localhost:8000"},
     {"sec-fetch-site": "same-origin"}, {"referer": "http://127.0.0.1:8000/#s=1"},
     {"origin": "https://editor.example", "host": "editor.example"}],
)  # fmt: skip
def test_the_editors_own_page_and_scripts_are_served(headers):
    client = TestClient(editor_app(allowed_hosts=["editor.example"]), base_url=LOCAL)
    response = client.post("/api/render", json={}, headers=headers)
    assert response.status_code == 200 and response.content[:4] == b"\x89PNG"


def test_every_response_carries_frame_and_content_security_headers(client):
    responses = [client.get("/"), client.get("/static/app.js"), client.get("/api/config"),
                 client.post("/api/render", json={"source": {"kind": "seed", "seed": -1}}),
                 client.get("/nope"), client.get("/", headers={"host": "attacker.example"})]  # fmt: skip
    for response in responses:
        h = response.headers
        assert h["x-frame-options"] == "DENY" and h["x-content-type-options"] == "nosniff"
        csp = {d.split()[0]: d.split()[1:] for d in h["content-security-policy"].split("; ")}
        assert csp["frame-ancestors"] == ["'none'"] and csp["default-src"] == ["'none'"]
        assert csp["script-src"] == ["'self'"] and csp["style-src"] == ["'self'"]
        assert h["referrer-policy"] == "same-origin" and h["cross-origin-resource-policy"] == "same-origin"


def test_the_page_needs_nothing_its_content_security_policy_refuses():
    """No inline script, style or event handler, no eval: the page runs under script-src/style-src 'self'."""
    import re

    from interfacegan.ui.app import STATIC

    html = (STATIC / "index.html").read_text(encoding="utf-8")
    tags = re.findall(r"<script[^>]*>", html)
    assert tags and all(re.fullmatch(r'<script src="/static/[\w-]+\.js">', tag) for tag in tags), tags
    assert not re.search(r"<style|\sstyle=|\son[a-z]+=|javascript:", html)
    forbidden = r"eval\(|new Function|insertAdjacentHTML|innerHTML\s*=\s*[^\"\s]|setAttribute\(\"(style|on)"
    for path in STATIC.glob("*.js"):
        assert not re.search(forbidden, path.read_text(encoding="utf-8")), path.name


def test_an_unexpected_failure_is_a_one_line_500_and_the_app_goes_on(client):
    one_line(client.post("/api/render", json={"source": {"seed": 13}}), 500, "MemoryError", "out of memory")
    assert client.post("/api/render", json={"source": {"seed": 12}}).status_code == 200


def test_allowed_hosts_must_be_host_names():
    with pytest.raises(InterfaceGANError, match="not a host name"):
        editor_app(allowed_hosts=["http://editor.example/"])


# ---- bounded bodies and parameters ----------------------------------------------------------------------------
def test_request_bodies_are_bounded_while_they_are_read(client):
    big = b'{"source": {}, "directions": {}, "pad": "' + b"x" * (2 * 2**20) + b'"}'
    one_line(client.post("/api/render", content=big, headers={"content-type": "application/json"}), 413, "MB")

    def chunks():  # no Content-Length: the body is counted as it arrives
        yield b'{"directions": {"w0": {"layers": "'
        for _ in range(40):
            yield b"0" * 65536
        yield b'"}}}'

    one_line(client.post("/api/render", content=chunks(), headers={"content-type": "application/json"}), 413)
    small = TestClient(editor_app(max_upload_bytes=1000), base_url=LOCAL)
    noise = np.random.default_rng(0).integers(0, 255, (300, 300, 3), dtype=np.uint8)
    one_line(small.post("/api/upload", files=png_upload(noise)), 413, "larger than")


def test_layer_selections_are_bounded_before_they_are_expanded():
    for selection in ("0-100000000", "0-" + "9" * 200, "3-1000000000000000000000000"):
        with pytest.raises(InterfaceGANError, match="out of range .*layers 0-17"):
            parse_layers(selection, 18)
    with pytest.raises(InterfaceGANError, match="bad layer selection"):
        parse_layers("0-" + "9" * 5000, 18)  # more digits than int() converts
    with pytest.raises(InterfaceGANError) as error:
        parse_layers(list(range(10**5)), 18)
    assert len(str(error.value)) < 300
    assert parse_layers("2-3,0,3", 18) == (0, 2, 3) and parse_layers(None, 3) == (0, 1, 2)
    assert parse_layers(np.int64(2), 4) == (2,) and parse_layers([3, 1], 4) == (1, 3)


@pytest.mark.parametrize(
    "body, status, words",
    [
        ('{"directions": {"w0": {"value": 1, "layers": "0-100000000"}}}', 400, "layers 0-3"),
        ('{"directions": {"w0": {"value": 1, "layers": "0-1%s"}}}' % ("0" * 150), 400, "layers 0-3"),
        ('{"directions": {"w0": {"value": NaN}}}', 422, "directions.w0.value"),
        ('{"directions": {"w0": {"value": Infinity}}}', 422, "directions.w0.value"),
        ('{"directions": {"w0": {"value": -Infinity}}}', 422, "directions.w0.value"),
        ('{"source": {"truncation": NaN}}', 422, "source.truncation"),
        ('{"source": {"seed": NaN}}', 422, "source.seed"),
        ('{"source": {"seed": 1e400}}', 422, "source.seed"),
        ('{"source": {"seed": 1%s}}' % ("0" * 5000), 400, "parsing the body"),  # more digits than int() reads
        ("[" * 100_000, 400, "parsing the body"),  # nested deeper than the JSON parser recurses
        ('{"source": {"kind": "run", "row": 100000000000000000000000000000}}', 422, "source.row"),
        ('{"source": {"kind": "upload", "upload": "%s"}}' % ("a" * 100), 422, "source.upload"),
        ('{"directions": {"%s": {"value": 1}}}' % ("k" * 5000), 422, "directions"),
        ('{"directions": {"w0": {"conditions": ["%s"]}}}' % ("k" * 5000), 422, "conditions"),
        ('{"source": {"kind": "seed"', 422, "JSON"),
        ("[1, 2]", 422, "request"),
    ],
)
def test_bad_numbers_and_ranges_are_refused_with_one_line(client, body, status, words):
    response = client.post("/api/render", content=body, headers={"content-type": "application/json"})
    one_line(response, status, words)


@pytest.mark.parametrize("field, value", [("lo", "NaN"), ("hi", "Infinity"), ("steps", "100000"), ("steps", "NaN")])
def test_strip_numbers_are_refused_with_one_line(client, field, value):
    fields = {"direction": '"w0"', "lo": "-1", "hi": "1", "steps": "3", field: value}
    body = "{" + ", ".join(f'"{k}": {v}' for k, v in fields.items()) + "}"
    one_line(client.post("/api/strip", content=body, headers={"content-type": "application/json"}), 422, field)


# ---- uploads: busy check first, pixel budget from the header --------------------------------------------------
def png_header_only(width: int, height: int, bit_depth: int = 8, colour: int = 2) -> bytes:
    """A PNG whose header declares width x height pixels, with almost no pixel data (a decompression bomb)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, bit_depth, colour, 0, 0, 0)
    data = chunk(b"IDAT", zlib.compress(b"\0" * 64))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + data + chunk(b"IEND", b"")


def test_images_are_refused_from_their_header_before_decoding(monkeypatch):
    decoded = []
    monkeypatch.setattr(Image.Image, "load", lambda self: decoded.append(self.size))
    for width, height in ((100_000, 100_000), (20_000, 20_000), (9000, 6000)):
        with pytest.raises(InterfaceGANError, match="megapixels"):
            upload_module.decode_image(png_header_only(width, height))
    # 16-bit greys are converted through wider arrays: a smaller budget of pixels
    with pytest.raises(InterfaceGANError, match="megapixels"):
        upload_module.decode_image(png_header_only(4000, 4000, bit_depth=16, colour=0))
    assert decoded == []


def test_only_common_image_formats_are_decoded():
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, format="TIFF")
    with pytest.raises(InterfaceGANError, match="PNG, JPEG"):
        upload_module.decode_image(buffer.getvalue())
    eps = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 8 8\nshowpage\n"
    with pytest.raises(InterfaceGANError, match="PNG, JPEG"):
        upload_module.decode_image(eps)


def test_uploads_are_decoded_only_after_the_busy_check(client, monkeypatch):
    """Six uploads at once while one inversion runs: one image is decoded, five are refused undecoded."""
    release, decoded = threading.Event(), []
    decode = upload_module.decode_image
    monkeypatch.setattr(upload_module, "decode_image", lambda data, **k: decoded.append(1) or decode(data, **k))
    monkeypatch.setattr(upload_module.InversionJobs, "invert", lambda self, target, job=None: release.wait(10))
    monkeypatch.setattr(upload_module, "inversion_module", lambda: upload_module)  # available, never called
    grey16 = io.BytesIO()
    Image.fromarray(np.full((40, 60), 40000, np.uint16)).save(grey16, format="PNG")
    files = {"file": ("g16.png", grey16.getvalue(), "image/png")}
    try:
        assert client.post("/api/upload", files=files).status_code == 202
        for _ in range(5):
            one_line(client.post("/api/upload", files=files), 409, "being inverted")
        assert decoded == [1]
    finally:
        release.set()


# ---- a real server keeps answering ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def server():
    """The editor on a real uvicorn at 127.0.0.1 and a port the system chooses; yields (host, port)."""
    with serving(editor_app(max_upload_bytes=50_000)) as port:
        yield "127.0.0.1", port


def raw_request(address, head: str, body: bytes = b"", timeout: float = 10.0) -> tuple[int | None, bytes]:
    """Send one HTTP/1.1 request as raw bytes; (status or None when the server closed without answering, body)."""
    with socket.create_connection(address, timeout=timeout) as sock:
        try:
            sock.sendall(head.replace("\n", "\r\n").encode() + b"\r\n" + body)
        except OSError:
            pass  # the server may answer 413 and close before the whole body is sent
        data = b""
        try:
            while chunk := sock.recv(65536):
                data += chunk
        except OSError:
            pass
    if not data.startswith(b"HTTP/1.1 "):
        return None, data
    return int(data[9:12]), data.split(b"\r\n\r\n", 1)[-1]


def post(address, path: str, body: bytes, host: str | None = None, extra: str = "") -> tuple[int | None, bytes]:
    host = host or f"{address[0]}:{address[1]}"
    head = f"POST {path} HTTP/1.1\nHost: {host}\nContent-Type: application/json\nContent-Length: {len(body)}\n" \
           f"Connection: close\n{extra}"  # fmt: skip
    return raw_request(address, head, body)


def test_a_real_server_answers_only_its_own_host_and_port(server):
    host, port = server
    status, body = raw_request(server, f"GET /api/config HTTP/1.1\nHost: {host}:{port}\nConnection: close\n")
    assert status == 200 and b'"directions"' in body
    for other in (f"attacker.example:{port}", f"127.0.0.1:{port + 1 if port < 65535 else port - 1}"):
        status, body = raw_request(server, f"GET /api/config HTTP/1.1\nHost: {other}\nConnection: close\n")
        assert status == 400 and b'"directions"' not in body


def test_a_real_server_survives_concurrent_failing_requests(server):
    """Errors of every kind at once (bodies too large or cut short, NaN, giant layer ranges, an out-of-memory
    failure inside the model, other hosts and origins); afterwards the server still renders."""
    host, port = server
    head = f"POST /api/render HTTP/1.1\nHost: {host}:{port}\nContent-Type: application/json\nConnection: close\n"
    declared, chunked = head + f"Content-Length: {3 * 2**20}\n", head + "Transfer-Encoding: chunked\n"
    chunk = b"%x\r\n%s\r\n" % (65536, b" " * 65536)
    probes = [
        (lambda: post(server, "/api/render", b'{"directions": {"w0": {"value": 1, "layers": "0-100000000"}}}'), 400),
        (lambda: post(server, "/api/render", b'{"directions": {"w0": {"value": NaN}}}'), 422),
        (lambda: post(server, "/api/render", b'{"source": {"seed": 13}}'), 500),
        (lambda: post(server, "/api/render", b"[" * 100_000), 400),  # nested too deep for the JSON parser
        (lambda: raw_request(server, declared), 413),  # refused from its Content-Length, body never sent
        (lambda: raw_request(server, chunked, chunk * 40 + b"0\r\n\r\n"), (413, None)),  # or reset mid-body
        (lambda: post(server, "/api/render", b"{}", extra="Origin: http://attacker.example\n"), 403),
        (lambda: post(server, "/api/render", b"{}", host="attacker.example"), 400),
        (lambda: raw_request(server, f"POST /api/render HTTP/1.1\nHost: {host}:{port}\nContent-Length: 100000\n"
                                     "Content-Type: application/json\n", b"{}", timeout=2), None),  # fmt: skip
    ]
    results: dict[int, list] = {i: [] for i in range(len(probes))}

    def run(i, probe):
        results[i].append(probe())

    threads = [threading.Thread(target=run, args=(i, probe)) for i, (probe, _) in enumerate(probes) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for i, (_, expected) in enumerate(probes):
        allowed = expected if isinstance(expected, tuple) else (expected,)
        if expected is not None:
            assert all(status in allowed for status, _ in results[i]), (i, results[i])
    for _, body in results[2]:  # the guard's one line, not a traceback or Starlette's plain text
        assert body.startswith(b'{"detail":"the editor failed on this request (MemoryError'), body
    status, body = post(server, "/api/render", b'{"directions": {"w0": {"value": 1.5}}}')
    assert status == 200 and body[:4] == b"\x89PNG"
    status, body = raw_request(server, f"GET /api/config HTTP/1.1\nHost: {host}:{port}\nConnection: close\n")
    assert status == 200
