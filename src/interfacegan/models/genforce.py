"""Load genforce-format `.pth` PGGAN, StyleGAN (v1) and StyleGAN2 checkpoints safely.

Accepted containers (read with `torch.load(weights_only=True)`, so no code from the file ever runs):
a bare generator state dict (InterFaceGAN's converted `pggan_celebahq.pth` / `stylegan_ffhq.pth`), SeFa /
genforce's `{'generator': ..., 'generator_smooth': ..., 'discriminator': ...}` (the smoothed generator is used
when present, as SeFa does), and genforce training snapshots `{'models': {...}, ...}`.
Accepted key layouts: genforce / SeFa (`layer0.weight`, `synthesis.layer0.style.weight`, ...) and the older
InterFaceGAN one (`layer0.conv.weight`, `layer0.wscale.bias`, `synthesis.layer0.epilogue.style_mod.dense.
linear.weight`, fused up-convs as `(k, k, in, out)`), which is renamed to the genforce layout on load.
StyleGAN2 files (SeFa's model zoo) are read by `interfacegan.models.genforce_stylegan2`; random files for tests
and benchmarks come from `interfacegan.models.genforce_random`. Whether PGGAN / StyleGAN
up-convolutions are fused is not recorded in genforce files: where the file does not tell, the value used is
logged as a warning, with the option that changes it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from pathlib import Path

import torch

from interfacegan.device import resolve_device
from interfacegan.errors import InterfaceGANError
from interfacegan.models.base import Generator
from interfacegan.models.pggan import FMAPS_BASE, FMAPS_MAX, PGGANGenerator, PGGANNet
from interfacegan.models.stylegan import (
    AUTO_FUSED_MIN_RES,
    MAPPING_LR_MUL,
    MappingNet,
    StyleGANGenerator,
    StyleGANNet,
    SynthesisNet,
)
from interfacegan.models.weights import build_checked, read_torch_checkpoint

logger = logging.getLogger(__name__)
GENERATOR_KEYS = ("generator_smooth", "generator")
FAMILIES = ("pggan", "stylegan", "stylegan2")
LOAD_OPTIONS = {"resolution", "family", "fused_scale", "final_tanh", "mapping_lr_mul", "generator_key", "name", "spec",
                "noise_mode"}  # fmt: skip
# Fixed buffers a checkpoint may omit; the architecture's own values (lod 0, the [1,2,1] blur) are used then.
OPTIONAL_BUFFERS = re.compile(r"^(synthesis\.)?lod$|\.blur\.kernel$")

# InterFaceGAN-era key -> genforce key (after the fused up-conv weights are handled separately).
_INTERFACEGAN_RENAMES = [
    (re.compile(r"^mapping\.dense(\d+)\.linear\.weight$"), r"mapping.dense\1.weight"),
    (re.compile(r"^mapping\.dense(\d+)\.wscale\.bias$"), r"mapping.dense\1.bias"),
    (re.compile(r"^synthesis\.layer0\.first_layer$"), r"synthesis.layer0.const"),
    (re.compile(r"^(synthesis\.layer\d+)\.epilogue\.apply_noise\.(noise|weight)$"), r"\1.apply_noise.\2"),
    (re.compile(r"^(synthesis\.layer\d+)\.epilogue\.bias$"), r"\1.bias"),
    (re.compile(r"^(synthesis\.layer\d+)\.epilogue\.style_mod\.dense\.linear\.weight$"), r"\1.style.weight"),
    (re.compile(r"^(synthesis\.layer\d+)\.epilogue\.style_mod\.dense\.wscale\.bias$"), r"\1.style.bias"),
    (re.compile(r"^((?:synthesis\.)?(?:layer|output)\d+)\.conv\.weight$"), r"\1.weight"),
    (re.compile(r"^((?:layer|output)\d+)\.wscale\.bias$"), r"\1.bias"),
]
_INTERFACEGAN_DROPPED = {"truncation.truncation"}  # a derived buffer the official code deletes before saving


# ---- public API ---------------------------------------------------------------------------------------------
def load_genforce_checkpoint(path, device=None, **options) -> Generator:
    """Load a genforce/InterFaceGAN `.pth` PGGAN or StyleGAN generator from `path` onto `device`.

    Options: `family` ('pggan' | 'stylegan' | 'stylegan2', checked against the file), `resolution` (checked; it is
    inferred),
    `fused_scale` (None = from the file's layout, True, False or 'auto' = fused from 128px; genforce files do not
    record it and StyleGAN defaults to 'auto' as the official model), `final_tanh` (False), `mapping_lr_mul`
    (0.01), `generator_key` ('generator_smooth' when present, else 'generator'), `name`, `spec`; StyleGAN2 takes
    `noise_mode` and no fused_scale / final_tanh.
    """
    check_load_options(options, str(path))
    obj = read_torch_checkpoint(path)
    return generator_from_checkpoint(obj, source=str(path), device=device, **options)


def check_load_options(options: dict, source: str) -> None:
    """A one-line error naming `source` unless every option is one `load_genforce_checkpoint` takes."""
    unknown = sorted(set(options) - LOAD_OPTIONS)
    if unknown:
        raise InterfaceGANError(
            f"unknown option(s) {', '.join(unknown)} for {source}: use {', '.join(sorted(LOAD_OPTIONS))}"
        )


def is_genforce_checkpoint(obj) -> bool:
    """True if `obj` (what `torch.load(weights_only=True)` returned) holds a genforce PGGAN or StyleGAN generator."""
    try:
        state, _ = generator_state_dict(obj, "checkpoint")
        return detect_family(state, "checkpoint") in FAMILIES
    except InterfaceGANError:
        return False


def generator_from_checkpoint(obj, source: str = "checkpoint", device=None, **options) -> Generator:
    """Build the PGGAN or StyleGAN generator held by a loaded checkpoint object (see the module docstring)."""
    device = resolve_device(device)
    state, where = generator_state_dict(obj, source, options.get("generator_key"))
    family = detect_family(state, source)
    wanted = options.get("family")
    if wanted not in (None, "auto", "genforce", *FAMILIES):
        raise InterfaceGANError(f"unknown model family {wanted!r}: use one of {', '.join(FAMILIES)} (or leave it out)")
    if wanted in FAMILIES and wanted != family:
        raise InterfaceGANError(f"{source} holds a {family} generator, not a {wanted} one: use {family}:{source}")
    if family == "stylegan2":
        from interfacegan.models.genforce_stylegan2 import load_genforce_stylegan2

        options = {k: v for k, v in options.items() if k not in ("family", "generator_key")}
        return load_genforce_stylegan2(state, source, where, device=device, **options)
    if options.get("noise_mode") is not None:
        raise InterfaceGANError(f"noise_mode does not apply to {source}, a genforce {family}: drop it")
    state, layout, fused = to_genforce_layout(state, family)
    assumed: list[int] = []
    if family == "pggan":
        make_net = pggan_net_from_state(state, source, fused, options.get("fused_scale"), options.get("final_tanh"),
                                        assumed)  # fmt: skip
    else:
        make_net = stylegan_net_from_state(state, source, fused, options, assumed)
    net = build_checked(make_net, state, source, f"not a complete genforce {family} generator", OPTIONAL_BUFFERS)
    body = net if family == "pggan" else net.synthesis
    if assumed:
        rule = "unfused where the weight shapes do not tell" if family == "pggan" else "'auto' (fused from 128 px)"
        logger.warning(
            "%s does not record fused_scale: using %s for the %s px up-convolutions; if images look wrong, load it "
            "with ?fused_scale=True or ?fused_scale=False", source, rule, ", ".join(map(str, assumed))
        )  # fmt: skip
    check_lod(body.lod, len(body.channels), source)
    resolution = 4 * 2 ** (len(body.channels) - 1)
    if options.get("resolution") is not None and int(options["resolution"]) != resolution:
        raise InterfaceGANError(
            f"{source} is a {resolution}x{resolution} {family}, not {options['resolution']}: "
            f"drop the resolution option or pass {resolution}"
        )
    kind = PGGANGenerator if family == "pggan" else StyleGANGenerator
    return kind(
        net,
        name=options.get("name") or f"{family}-{Path(source).stem}",
        spec=options.get("spec") or "",
        device=device,
        extra={"format": "genforce", "layout": layout, "weights": where},
    )


# ---- containers, families and layouts -----------------------------------------------------------------------
def generator_state_dict(obj, source: str, key: str | None = None) -> tuple[dict[str, torch.Tensor], str]:
    """(state dict, where it was found) from a bare state dict or a genforce `{'generator_smooth', ...}` dict."""
    if not isinstance(obj, Mapping):
        raise InterfaceGANError(f"{source} holds a {type(obj).__name__}, not a state dict: unknown checkpoint layout")
    container, prefix = obj, ""
    if isinstance(obj.get("models"), Mapping):
        container, prefix = obj["models"], "models."
    if key is not None:
        if not isinstance(container.get(key), Mapping):
            found = [k for k in container if isinstance(container[k], Mapping)]
            raise InterfaceGANError(f"{source} has no {key!r} state dict: choose one of {found or ['(none)']}")
        return _tensors(container[key], source), prefix + key
    for name in GENERATOR_KEYS:
        if isinstance(container.get(name), Mapping):
            return _tensors(container[name], source), prefix + name
    return _tensors(obj, source), "state_dict"


def _tensors(state: Mapping, source: str) -> dict[str, torch.Tensor]:
    bad = [str(k) for k, v in state.items() if not isinstance(v, torch.Tensor)]
    if bad:
        raise InterfaceGANError(
            f"{source}: unknown checkpoint layout (entries that are not tensors: {', '.join(bad[:5])}); "
            "expected a genforce PGGAN, StyleGAN or StyleGAN2 generator state dict"
        )
    return dict(state)


def detect_family(state: Mapping[str, torch.Tensor], source: str) -> str:
    """'pggan', 'stylegan' or 'stylegan2' from the key names; anything else is refused with the keys it has."""
    from interfacegan.models.genforce_stylegan2 import is_genforce_stylegan2

    keys = set(state)
    if is_genforce_stylegan2(keys):
        return "stylegan2"
    if "mapping.dense0.weight" in keys or "mapping.dense0.linear.weight" in keys:
        if "synthesis.output0.weight" in keys or "synthesis.output0.conv.weight" in keys:
            return "stylegan"
    if ("layer0.weight" in keys or "layer0.conv.weight" in keys) and (
        "output0.weight" in keys or "output0.conv.weight" in keys
    ):
        return "pggan"
    shown = ", ".join(sorted(keys)[:6]) or "(no keys)"
    raise InterfaceGANError(
        f"{source}: unknown checkpoint layout (keys {shown}...): expected a genforce/InterFaceGAN PGGAN, "
        "StyleGAN or StyleGAN2 generator"
    )


def to_genforce_layout(state: dict, family: str) -> tuple[dict[str, torch.Tensor], str, dict[int, bool]]:
    """(state in genforce key names, 'genforce' | 'interfacegan', {block: fused} known from the layout).

    InterFaceGAN stores a fused up-conv as `layer{2b}.weight` of shape (k, k, in, out) instead of
    `layer{2b}.conv.weight`; genforce's PGGAN keeps fused weights as (in, out, k, k) and its StyleGAN as
    (out, in, k, k), so they are permuted accordingly. Genforce files do not record fusing (returns {}).
    """
    legacy = any(".conv.weight" in k or ".wscale.bias" in k or ".epilogue." in k for k in state)
    if not legacy:
        return dict(state), "genforce", {}
    prefix = "synthesis." if family == "stylegan" else ""
    out: dict[str, torch.Tensor] = {}
    fused: dict[int, bool] = {}
    for key, value in state.items():
        if key in _INTERFACEGAN_DROPPED:
            continue
        up = re.fullmatch(re.escape(prefix) + r"layer(\d+)\.weight", key)
        if up and value.ndim == 4:
            index = int(up.group(1))
            fused[index // 2] = True
            out[key] = value.permute(2, 3, 0, 1) if family == "pggan" else value.permute(3, 2, 0, 1)
            continue
        plain = re.fullmatch(re.escape(prefix) + r"layer(\d+)\.conv\.weight", key)
        if plain and int(plain.group(1)) % 2 == 0:
            fused[int(plain.group(1)) // 2] = False
        for pattern, replacement in _INTERFACEGAN_RENAMES:
            if pattern.match(key):
                key = pattern.sub(replacement, key)
                break
        out[key] = value
    return out, "interfacegan", fused


def check_lod(lod: torch.Tensor, num_blocks: int, source: str) -> None:
    """The progressive-growing level of detail must lie in [0, num_blocks - 1] (0 for a finished model)."""
    value = float(lod)
    if not 0.0 <= value <= num_blocks - 1:
        raise InterfaceGANError(
            f"{source}: level of detail lod={value:g} is outside [0, {num_blocks - 1}]: the checkpoint is corrupt"
        )


# ---- architecture from shapes -------------------------------------------------------------------------------
def _get(state: Mapping[str, torch.Tensor], key: str, source: str, ndim: int) -> torch.Tensor:
    value = state.get(key)
    if value is None:
        raise InterfaceGANError(f"{source}: key {key!r} is missing: the checkpoint is incomplete or of another layout")
    if value.ndim != ndim:
        raise InterfaceGANError(
            f"{source}: {key!r} has shape {tuple(value.shape)}, expected {ndim} dimensions: unknown checkpoint layout"
        )
    return value


def _count(state: Mapping, pattern: str) -> int:
    """Number of consecutive indices i = 0, 1, ... for which pattern.format(i) is a key."""
    n = 0
    while pattern.format(n) in state:
        n += 1
    return n


def _fused_flags(num_blocks: int, known: dict[int, bool], option, source: str, guess=None,
                 assumed: list[int] | None = None) -> list[bool]:  # fmt: skip
    """Per-block fused up-conv flags: the option if given (checked against the layout), else the layout, else
    `guess(b)` (PGGAN shapes; None when they do not tell: unfused), else 'auto' (fused from 128px, the official
    StyleGAN). Resolutions whose flag was assumed (neither given, nor in the layout or shapes) go to `assumed`."""
    if isinstance(option, str) and option.lower() in ("true", "false", "1", "0", "yes", "no"):
        option = option.lower() in ("true", "1", "yes")
    flags = []
    for b in range(num_blocks):
        res = 4 * 2**b
        if option is None:
            flag = known[b] if b in known else (guess(b) if guess else None)
            if flag is None:
                flag = False if guess else res >= AUTO_FUSED_MIN_RES
                if b > 0 and assumed is not None:
                    assumed.append(res)
        elif option == "auto":
            flag = res >= AUTO_FUSED_MIN_RES
        elif isinstance(option, bool):
            flag = option
        else:
            raise InterfaceGANError(f"fused_scale must be True, False or 'auto', got {option!r}")
        if b in known and known[b] != flag:
            raise InterfaceGANError(
                f"{source} stores the {res}x{res} up-conv {'fused' if known[b] else 'unfused'}, "
                f"contradicting fused_scale={option!r}: drop the option"
            )
        flags.append(flag and b > 0)
    return flags


def pggan_net_from_state(state, source: str, known_fused: dict, fused_option, final_tanh: bool,
                         assumed: list[int] | None = None):  # fmt: skip
    """A factory of the PGGANNet whose channel counts, z_dim and resolution come from the checkpoint's shapes."""
    num_blocks = _count(state, "output{}.weight")
    first = _get(state, "layer0.weight", source, 4)
    if num_blocks == 0 or first.shape[2:] != (4, 4):
        raise InterfaceGANError(f"{source}: no 4x4 first layer and ToRGB outputs: not a PGGAN generator")
    channels = [int(_get(state, f"layer{2 * b + 1}.weight", source, 4).shape[0]) for b in range(num_blocks)]
    image_channels = int(_get(state, "output0.weight", source, 4).shape[0])
    _check_image_channels(image_channels, source)

    def guess(b: int) -> bool | None:  # genforce keeps fused PGGAN weights as (in, out, k, k): visible when in != out
        if b == 0:
            return False
        if channels[b] == channels[b - 1]:
            return None
        shape = tuple(_get(state, f"layer{2 * b}.weight", source, 4).shape[:2])
        return shape == (channels[b - 1], channels[b])

    fused = _fused_flags(num_blocks, known_fused, fused_option, source, guess, assumed)
    return lambda: PGGANNet(int(first.shape[1]), channels, image_channels, fused=fused, final_tanh=bool(final_tanh))


def stylegan_net_from_state(state, source: str, known_fused: dict, options: dict, assumed: list[int] | None = None):
    """A factory of the StyleGANNet whose dims, channel counts, noise type and resolution come from the shapes."""
    if "mapping.label_weight" in state:
        raise InterfaceGANError(f"{source} is a class-conditional StyleGAN: only unconditional models are supported")
    num_dense = _count(state, "mapping.dense{}.weight")
    dense0 = _get(state, "mapping.dense0.weight", source, 2)
    w_dim = int(_get(state, f"mapping.dense{num_dense - 1}.weight", source, 2).shape[0])
    num_blocks = _count(state, "synthesis.output{}.weight")
    style_in = int(_get(state, "synthesis.layer0.style.weight", source, 2).shape[1])
    if num_blocks and w_dim != style_in and w_dim == style_in * 2 * num_blocks:
        raise InterfaceGANError(f"{source}: per-layer mapping outputs (repeat_w=False) are not supported")
    channels = [int(_get(state, f"synthesis.layer{2 * b + 1}.weight", source, 4).shape[0]) for b in range(num_blocks)]
    noise_weight = state.get("synthesis.layer0.apply_noise.weight")
    if noise_weight is None:
        raise InterfaceGANError(f"{source}: key 'synthesis.layer0.apply_noise.weight' is missing: not a StyleGAN (v1)")
    image_channels = int(_get(state, "synthesis.output0.weight", source, 4).shape[0])
    _check_image_channels(image_channels, source)
    fused = _fused_flags(num_blocks, known_fused, options.get("fused_scale"), source, assumed=assumed)
    lr_mul = float(options.get("mapping_lr_mul") or MAPPING_LR_MUL)
    hidden = int(dense0.shape[0]) if num_dense > 1 else None
    noise, tanh, const = ("spatial" if noise_weight.ndim == 1 else "channel", bool(options.get("final_tanh", False)),
                          "synthesis.layer0.const" in state)  # fmt: skip
    return lambda: StyleGANNet(
        MappingNet(int(dense0.shape[1]), w_dim, num_layers=num_dense, hidden=hidden, lr_mul=lr_mul), w_dim,
        SynthesisNet(w_dim, channels, fused=fused, image_channels=image_channels, const_input=const, noise=noise,
                     final_tanh=tanh),
    )  # fmt: skip


def _check_image_channels(image_channels: int, source: str) -> None:
    if image_channels not in (1, 3):
        raise InterfaceGANError(
            f"{source}: the generator makes {image_channels}-channel images; only RGB or grey ones are supported"
        )


__all__ = [
    "FMAPS_BASE",
    "FMAPS_MAX",
    "generator_from_checkpoint",
    "is_genforce_checkpoint",
    "load_genforce_checkpoint",
]
