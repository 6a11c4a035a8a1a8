"""Checkpoint specs -> generators: `FAMILY:PATH`, `FORMAT:PATH` or a bare path whose format is read from the file.

Specs: `stylegan2:PATH` (NVIDIA .pkl, rosinality .pt or genforce/SeFa .pth), `stylegan3:PATH` (NVIDIA .pkl),
`nvidia:PATH`, `rosinality:PATH`, `pggan:PATH`, `stylegan:PATH`, `genforce:PATH` (genforce / InterFaceGAN / SeFa
.pth), `biggan:PATH` (pytorch-pretrained-biggan folder or files), or PATH (a file, or a BigGAN folder).
Options may follow the path as a query, `PATH?class_idx=3&noise_mode=none`, or be passed as keyword options:
`format` ('nvidia' | 'rosinality' | 'genforce' | 'biggan', forces the reader), `noise_mode`, `class_idx` (style
families); genforce files take their own options (see `genforce.load_genforce_checkpoint`), BigGAN ones
`class_idx` and `truncation` (see `biggan_files.load_biggan`); options are kept in the model's spec, so a run
reloads the model the same way. Nothing from a file is executed:
pickles go through a restricted unpickler, torch files through `torch.load(weights_only=True)`.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from urllib.parse import parse_qsl

import torch

from interfacegan.errors import InterfaceGANError
from interfacegan.models.base import Generator
from interfacegan.models.weights import LEGACY_TORCH_MAGIC, describe_keys, read_torch_checkpoint

FAMILIES = ("stylegan2", "stylegan3", "pggan", "stylegan")
FORMATS = ("nvidia", "rosinality", "genforce", "biggan")
STYLE_OPTIONS = {"noise_mode", "class_idx"}


def looks_like_checkpoint_spec(spec: str) -> bool:
    """True for `FAMILY:...` / `FORMAT:...` specs, paths of existing files and BigGAN checkpoint folders."""
    from interfacegan.models.biggan_files import biggan_files

    prefix, sep, _ = str(spec).partition(":")
    if sep and prefix.lower() in FAMILIES + FORMATS:
        return True
    path = Path(_split_query(str(spec))[0])
    return path.is_file() or biggan_files(path) is not None


def _split_query(text: str) -> tuple[str, dict]:
    """'path?a=1&b=x' -> ('path', {'a': '1', 'b': 'x'}) unless the whole text is an existing file."""
    if "?" in text and not Path(text).exists():
        path, _, query = text.rpartition("?")
        return path, dict(parse_qsl(query, keep_blank_values=True))
    return text, {}


def parse_spec(spec: str) -> tuple[str | None, Path, dict]:
    """(kind or None, path, query options) of a checkpoint spec."""
    prefix, sep, rest = str(spec).partition(":")
    kind = prefix.lower() if sep and prefix.lower() in FAMILIES + FORMATS else None
    path, query = _split_query(rest if kind else str(spec))
    if not path:
        raise InterfaceGANError(f"checkpoint spec {spec!r} has no path: use FORMAT:PATH, e.g. stylegan2:ffhq.pkl")
    return kind, Path(path).expanduser(), query


def _detect(path: Path) -> tuple[str, object]:
    """(format, the loaded torch checkpoint or None), so a torch file is read only once."""
    with open(path, "rb") as f:
        head = f.read(16)
    if not head:
        raise InterfaceGANError(f"{path}: the file is empty: download or save it again")
    if zipfile.is_zipfile(path) or LEGACY_TORCH_MAGIC in head:
        return _torch_layout(path)
    return "nvidia", None  # any other file is read as a pickle, by the restricted unpickler


def _torch_layout(path: Path) -> tuple[str, object]:
    from interfacegan.models.biggan_files import is_biggan_state
    from interfacegan.models.genforce import is_genforce_checkpoint
    from interfacegan.models.rosinality import is_rosinality_checkpoint

    obj = read_torch_checkpoint(path)
    if is_rosinality_checkpoint(obj):
        return "rosinality", obj
    if is_genforce_checkpoint(obj):
        return "genforce", obj
    if is_biggan_state(obj):
        return "biggan", obj
    raise InterfaceGANError(
        f"{path}: unknown checkpoint layout (found {describe_keys(obj)}): expected a rosinality 'g_ema', a genforce "
        "generator, a pytorch-pretrained-biggan state dict, or an NVIDIA .pkl"
    )


def _check_style_options(options: dict, path: Path) -> dict:
    unknown = sorted(set(options) - STYLE_OPTIONS)
    if unknown:
        raise InterfaceGANError(
            f"unknown option(s) {', '.join(unknown)} for {path}: use {', '.join(sorted(STYLE_OPTIONS))} or format"
        )
    if "class_idx" in options and options["class_idx"] is not None:
        options["class_idx"] = int(options["class_idx"])
    return options


def load_checkpoint_spec(spec: str, device=None, **options) -> Generator:
    """Load the generator a checkpoint spec names (see the module docstring)."""
    kind, path, query = parse_spec(spec)
    options = {**query, **options}
    option_format = options.pop("format", None)  # given as an option (--format or ?format=), not a prefix
    fmt = option_format or (kind if kind in FORMATS else None)
    family = kind if kind in FAMILIES else None
    if fmt is not None and fmt not in FORMATS:
        raise InterfaceGANError(f"unknown checkpoint format {fmt!r}: use one of {', '.join(FORMATS)}")
    if fmt == "biggan" or (fmt is None and family is None and path.is_dir()):
        from interfacegan.models.biggan_files import load_biggan

        return load_biggan(path, device=device, **options)
    if not path.is_file():
        raise InterfaceGANError(f"checkpoint {path} not found: check the path")
    forced_format, loaded = fmt is not None, None
    if fmt is None:
        fmt, loaded = _detect(path)
    allowed = {"stylegan2": ("nvidia", "rosinality", "genforce"), "stylegan3": ("nvidia",), "pggan": ("genforce",),
               "stylegan": ("genforce",)}  # fmt: skip
    if family is not None and fmt not in allowed[family]:
        raise InterfaceGANError(f"{path} is a {fmt} checkpoint, which cannot hold a {family} generator")
    if fmt == "biggan":
        from interfacegan.models.biggan_files import load_biggan

        return load_biggan(path, device=device, checkpoint=loaded, **options)
    if fmt == "genforce":
        from interfacegan.models import genforce

        if family is not None:
            options.setdefault("family", family)
        kept = "&".join(f"{k}={v}" for k, v in sorted(options.items())
                        if v is not None and k not in ("family", "name", "spec"))  # fmt: skip
        options.setdefault("spec", f"{family or 'genforce'}:{path.resolve()}" + (f"?{kept}" if kept else ""))
        genforce.check_load_options(options, str(path))
        obj = loaded if loaded is not None else read_torch_checkpoint(path)
        return genforce.generator_from_checkpoint(obj, source=str(path), device=device, **options)
    options = _check_style_options(options, path)
    suffix = "&".join(f"{k}={v}" for k, v in sorted(options.items()) if v is not None)
    try:
        if fmt == "nvidia":
            from interfacegan.models.nvidia_pkl import load_nvidia_pickle

            model = load_nvidia_pickle(path, device=device, family=family, **options)
        else:
            from interfacegan.models.rosinality import load_rosinality

            model = load_rosinality(path, device=device, checkpoint=loaded, **options)
    except InterfaceGANError as exc:
        if not forced_format:
            raise
        hint = f"read as {fmt} because format={fmt} was given: leave it out to auto-detect"
        raise InterfaceGANError(f"{exc} [{hint}]") from None
    if option_format:  # keep the forced reader in the spec, so the run reloads the model the same way
        suffix = "&".join(p for p in (f"format={fmt}", suffix) if p)
    model.spec = f"{model.family}:{path.resolve()}" + (f"?{suffix}" if suffix else "")
    return model


# ---- random-weight models for tests and benchmarks ----------------------------------------------------------
def build_random(family: str, resolution: int = 32, seed: int = 0, device=None, **kwargs) -> Generator:
    """A random-weight generator of `family` ('stylegan2', 'stylegan3', 'pggan', 'stylegan') at `resolution`.

    StyleGAN2/3 keyword options: z_dim=w_dim (32), channel_base (512), channel_max (32), mapping_layers (2),
    architecture ('skip'), conv_clamp (256), num_layers (StyleGAN3, 14), variant ('t' or 'r'). Every weight,
    bias, noise strength and EMA is randomised (not just initialised) so all parts of the forward pass matter;
    w_avg is the mean w of 1,024 random z. PGGAN / StyleGAN v1 come from the genforce builders.
    """
    if family in ("pggan", "stylegan"):
        from interfacegan.models import genforce_random

        builder = getattr(genforce_random, f"build_random_{family}")
        return builder(resolution=resolution, seed=seed, device=device, **kwargs)[0]
    if family not in ("stylegan2", "stylegan3"):
        raise InterfaceGANError(f"unknown model family {family!r}: use one of {', '.join(FAMILIES)}")
    dim = int(kwargs.pop("w_dim", kwargs.pop("z_dim", 32)))
    base, cmax = int(kwargs.pop("channel_base", 512)), int(kwargs.pop("channel_max", 32))
    mapping_layers, clamp = int(kwargs.pop("mapping_layers", 2)), kwargs.pop("conv_clamp", 256)
    options = {k: kwargs.pop(k) for k in list(kwargs) if k in STYLE_OPTIONS}
    gen = torch.Generator().manual_seed(seed)
    if family == "stylegan2":
        from interfacegan.models.stylegan2 import StyleGAN2Config, StyleGAN2Generator, StyleGAN2Net, nvidia_channels

        cfg = StyleGAN2Config(z_dim=dim, w_dim=dim, img_resolution=resolution, mapping_layers=mapping_layers,
                              channels=nvidia_channels(resolution, base, cmax), conv_clamp=clamp,
                              architecture=kwargs.pop("architecture", "skip"))  # fmt: skip
        cls, net_cls = StyleGAN2Generator, StyleGAN2Net
    else:
        from interfacegan.models.stylegan3 import StyleGAN3Config, StyleGAN3Generator, StyleGAN3Net, design_synthesis

        radial = kwargs.pop("variant", "t") == "r"
        spec_in, layers = design_synthesis(resolution, 3, channel_base=base, channel_max=cmax,
                                           num_layers=int(kwargs.pop("num_layers", 14)), conv_clamp=clamp,
                                           conv_kernel=1 if radial else 3, use_radial_filters=radial)  # fmt: skip
        cfg = StyleGAN3Config(z_dim=dim, w_dim=dim, img_resolution=resolution, img_channels=3, input=spec_in,
                              layers=layers, mapping_layers=mapping_layers)  # fmt: skip
        cls, net_cls = StyleGAN3Generator, StyleGAN3Net
    if kwargs:
        raise InterfaceGANError(f"unknown build_random option(s) for {family}: {', '.join(sorted(kwargs))}")
    net = net_cls(cfg)
    randomize_(net, gen)
    return cls(cfg, net.state_dict(), name=f"{family}-random-{resolution}", spec="", device=device, **options)


@torch.no_grad()
def randomize_(net: torch.nn.Module, gen: torch.Generator) -> None:
    """Give every parameter and buffer of a style net (StyleGAN2Net / StyleGAN3Net) a random realistic value.

    Runtime weights come out ~N(0, 1/fan_in) (stored values are divided by the layer's lr multiplier, as NVIDIA
    stores them), style biases ~1, other biases and noise strengths ~0.2, magnitude EMAs in [0.5, 1.5].
    """
    from interfacegan.models.style_family import FullyConnected

    done = set()
    for name, module in net.named_modules():
        if isinstance(module, FullyConnected):
            lr = module.bias_gain
            scale = 0.3 if name.endswith("input.affine") else 1.0
            module.weight.copy_(scale * torch.randn(module.weight.shape, generator=gen) / lr)
            if module.bias is not None:
                centre = 1.0 if name.endswith("affine") and not name.endswith("input.affine") else 0.0
                noise = torch.randn(module.bias.shape, generator=gen)
                if name.endswith("input.affine"):
                    noise[0] += 1.0 / 0.2  # keep the input's rotation well defined: t[:2] ~ (1, 0)
                module.bias.copy_((centre + 0.2 * noise) / lr)
            done.update({module.weight, module.bias})
    for name, p in net.named_parameters():
        if p in done:
            continue
        noise = torch.randn(p.shape, generator=gen)
        p.copy_(0.2 * noise if name.endswith("bias") or name.endswith("noise_strength") else noise)
    for name, b in net.named_buffers():
        if name.endswith("noise_const"):
            b.copy_(torch.randn(b.shape, generator=gen))
        elif name.endswith("magnitude_ema"):
            b.fill_(0.5 + float(torch.rand((), generator=gen)))
    mapping = net.mapping
    z = torch.randn(1024, mapping.z_dim, generator=gen)
    c = None
    if mapping.c_dim:
        c = torch.eye(mapping.c_dim)[torch.randint(mapping.c_dim, (1024,), generator=gen)]
    mapping.w_avg.copy_(mapping(z, c).mean(dim=0))
