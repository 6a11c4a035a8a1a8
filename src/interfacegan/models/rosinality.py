"""rosinality/stylegan2-pytorch checkpoints (`.pt` with `g_ema`, optional `latent_avg`) <-> our StyleGAN2.

The two implementations compute the same function with different names and shapes:

| rosinality `g_ema` key | ours (NVIDIA names) |
|---|---|
| `style.{i+1}.weight/bias` (EqualLinear, lr_mul 0.01, fused lrelu) | `mapping.fc{i}.weight/bias` |
| `input.input` (1, C, 4, 4) | `synthesis.b4.const` (C, 4, 4) |
| `conv1`, `convs.{2k}`, `convs.{2k+1}` (StyledConv) | `b4.conv1`, `b{8*2^k}.conv0`, `b{8*2^k}.conv1` |
| `*.conv.weight` (1, O, I, k, k) | `*.weight` (O, I, k, k) |
| `*.conv.modulation.weight/bias` | `*.affine.weight/bias` |
| `*.noise.weight` (1,) | `*.noise_strength` () |
| `*.activate.bias` | `*.bias` |
| `noises.noise_{j}` (1, 1, r, r) | `*.noise_const` (r, r), j in W+ conv order |
| `to_rgb1`, `to_rgbs.{k}` (`bias` (1, 3, 1, 1)) | `b4.torgb`, `b{8*2^k}.torgb` (`bias` (3,)) |
| `*.conv.blur.kernel`, `*.upsample.kernel` (2-D, x4) | `*.resample_filter` (2-D, sum 1) |

Numerics agree: rosinality scales conv weights by 1/sqrt(fan_in) before demodulation (which cancels it up to
the 1e-8 eps), its ToRGB folds the same factor into the weight where NVIDIA folds it into the styles, and its
upsampling blur is NVIDIA's resample filter times 4 = up^2. rosinality has no activation clamp (conv_clamp
None), always the 'skip' architecture, and does not store the mapping lr multiplier (always 0.01).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import torch

from interfacegan.errors import InterfaceGANError
from interfacegan.models.stylegan2 import StyleGAN2Config, StyleGAN2Generator
from interfacegan.models.weights import describe_keys, read_torch_checkpoint

W_AVG_SAMPLES = 4096  # as rosinality's generate.py (g_ema.mean_latent(4096))


def is_rosinality_checkpoint(obj) -> bool:
    """True for a dict holding a rosinality generator state dict under 'g_ema' (or 'g')."""
    if not isinstance(obj, dict):
        return False
    state = obj.get("g_ema", obj.get("g"))
    return isinstance(state, dict) and "input.input" in state and "conv1.conv.weight" in state


def _conv_names(cfg: StyleGAN2Config) -> list[tuple[str, str]]:
    """(rosinality prefix, our prefix) of every StyledConv in W+ order, which is also the noise order."""
    names = [("conv1", "synthesis.b4.conv1")]
    res = 8
    for k in range(0, 2 * (int(np.log2(cfg.img_resolution)) - 2), 2):
        names += [(f"convs.{k}", f"synthesis.b{res}.conv0"), (f"convs.{k + 1}", f"synthesis.b{res}.conv1")]
        res *= 2
    return names


def _rgb_names(cfg: StyleGAN2Config) -> list[tuple[str, str]]:
    names = [("to_rgb1", "synthesis.b4.torgb")]
    names += [(f"to_rgbs.{k}", f"synthesis.b{8 * 2**k}.torgb") for k in range(int(np.log2(cfg.img_resolution)) - 2)]
    return names


def rosinality_config(state: dict[str, torch.Tensor]) -> StyleGAN2Config:
    """StyleGAN2Config of a rosinality `g_ema` state dict (sizes from tensor shapes)."""
    n_mlp = len([k for k in state if re.fullmatch(r"style\.\d+\.weight", k)])
    if n_mlp == 0 or "input.input" not in state:
        raise KeyError("style.1.weight / input.input")
    w_dim = int(state["style.1.weight"].shape[1])
    num_rgbs = len([k for k in state if re.fullmatch(r"to_rgbs\.\d+\.bias", k)])
    resolution = 2 ** (num_rgbs + 2)
    channels = {4: int(state["input.input"].shape[1])}
    for k in range(num_rgbs):
        channels[8 * 2**k] = int(state[f"convs.{2 * k}.conv.weight"].shape[1])
    taps: tuple[float, ...] = (1.0, 3.0, 3.0, 1.0)
    if "convs.0.conv.blur.kernel" in state:
        blur = state["convs.0.conv.blur.kernel"].double()
        taps = tuple(float(t) for t in (blur / blur.sum()).sum(dim=0))
    return StyleGAN2Config(
        z_dim=w_dim, w_dim=w_dim, img_resolution=resolution, img_channels=int(state["to_rgb1.conv.weight"].shape[1]),
        channels=channels, mapping_layers=n_mlp, mapping_lr_multiplier=0.01, architecture="skip", conv_clamp=None,
        use_noise=True, kernel_size=int(state["conv1.conv.weight"].shape[-1]), resample_filter=taps,
    )  # fmt: skip


def rosinality_to_nvidia(state: dict[str, torch.Tensor], cfg: StyleGAN2Config, w_avg: torch.Tensor) -> dict:
    """Our (NVIDIA-named) state dict from a rosinality `g_ema` state dict; w_avg (w_dim,) is the truncation centre."""
    from interfacegan.models.ops import make_filter

    out: dict[str, torch.Tensor] = {}
    for i in range(cfg.mapping_layers):
        out[f"mapping.fc{i}.weight"] = state[f"style.{i + 1}.weight"]
        out[f"mapping.fc{i}.bias"] = state[f"style.{i + 1}.bias"]
    out["mapping.w_avg"] = w_avg.reshape(-1)
    filt = make_filter(cfg.resample_filter)
    out["synthesis.b4.const"] = state["input.input"][0]
    for j, (src, dst) in enumerate(_conv_names(cfg)):
        out[f"{dst}.weight"] = state[f"{src}.conv.weight"][0]
        out[f"{dst}.affine.weight"] = state[f"{src}.conv.modulation.weight"]
        out[f"{dst}.affine.bias"] = state[f"{src}.conv.modulation.bias"]
        out[f"{dst}.noise_strength"] = state[f"{src}.noise.weight"].reshape([])
        out[f"{dst}.bias"] = state[f"{src}.activate.bias"]
        out[f"{dst}.noise_const"] = state[f"noises.noise_{j}"][0, 0]
        out[f"{dst}.resample_filter"] = filt
    for src, dst in _rgb_names(cfg):
        out[f"{dst}.weight"] = state[f"{src}.conv.weight"][0]
        out[f"{dst}.affine.weight"] = state[f"{src}.conv.modulation.weight"]
        out[f"{dst}.affine.bias"] = state[f"{src}.conv.modulation.bias"]
        out[f"{dst}.bias"] = state[f"{src}.bias"].reshape(-1)
    for res in [2**i for i in range(2, int(np.log2(cfg.img_resolution)) + 1)]:
        out[f"synthesis.b{res}.resample_filter"] = filt
    return {k: v.detach().float().clone() for k, v in out.items()}


def nvidia_to_rosinality(state: dict[str, torch.Tensor], cfg: StyleGAN2Config) -> tuple[dict, torch.Tensor]:
    """(rosinality `g_ema` state dict, latent_avg (w_dim,)) from our state dict; 'skip' models without clamping only."""
    if cfg.architecture != "skip" or cfg.conv_clamp is not None or not cfg.use_noise or cfg.c_dim:
        raise InterfaceGANError(
            "rosinality's generator is unconditional, 'skip', with noise and no conv_clamp: this model is not"
        )
    if cfg.activation != "lrelu" or cfg.mapping_activation != "lrelu" or cfg.mapping_lr_multiplier != 0.01:
        raise InterfaceGANError("rosinality's generator uses lrelu everywhere and mapping lr 0.01: this model does not")
    if cfg.z_dim != cfg.w_dim or (cfg.mapping_layer_features or cfg.w_dim) != cfg.w_dim:
        raise InterfaceGANError("rosinality's mapping keeps z_dim = w_dim in every layer: this model does not")
    out: dict[str, torch.Tensor] = {}
    for i in range(cfg.mapping_layers):
        out[f"style.{i + 1}.weight"] = state[f"mapping.fc{i}.weight"]
        out[f"style.{i + 1}.bias"] = state[f"mapping.fc{i}.bias"]
    out["input.input"] = state["synthesis.b4.const"][None]
    blur = state["synthesis.b4.resample_filter"]
    blur = (torch.outer(blur, blur) if blur.ndim == 1 else blur) * 4
    for j, (dst, src) in enumerate(_conv_names(cfg)):
        out[f"{dst}.conv.weight"] = state[f"{src}.weight"][None]
        out[f"{dst}.conv.modulation.weight"] = state[f"{src}.affine.weight"]
        out[f"{dst}.conv.modulation.bias"] = state[f"{src}.affine.bias"]
        out[f"{dst}.noise.weight"] = state[f"{src}.noise_strength"].reshape(1)
        out[f"{dst}.activate.bias"] = state[f"{src}.bias"]
        out[f"noises.noise_{j}"] = state[f"{src}.noise_const"][None, None]
        if src.endswith("conv0"):
            out[f"{dst}.conv.blur.kernel"] = blur
    for k, (dst, src) in enumerate(_rgb_names(cfg)):
        if k:
            out[f"{dst}.upsample.kernel"] = blur
        out[f"{dst}.conv.weight"] = state[f"{src}.weight"][None]
        out[f"{dst}.conv.modulation.weight"] = state[f"{src}.affine.weight"]
        out[f"{dst}.conv.modulation.bias"] = state[f"{src}.affine.bias"]
        out[f"{dst}.bias"] = state[f"{src}.bias"].reshape(1, -1, 1, 1)
    return {k: v.detach().float().clone() for k, v in out.items()}, state["mapping.w_avg"].detach().float().clone()


def estimate_w_avg(cfg: StyleGAN2Config, state: dict[str, torch.Tensor], num: int = W_AVG_SAMPLES) -> torch.Tensor:
    """Mean of w over `num` fixed z codes (seed 0): the truncation centre when a checkpoint has no latent_avg."""
    from interfacegan.models.base import gaussian_codes
    from interfacegan.models.style_family import MappingNetwork

    mapping = MappingNetwork(cfg.z_dim, 0, cfg.w_dim, cfg.mapping_layers, lr_multiplier=cfg.mapping_lr_multiplier)
    own = {k[len("mapping.") :]: v for k, v in state.items() if k.startswith("mapping.")}
    mapping.load_state_dict(own, strict=True)
    with torch.no_grad():
        return mapping(torch.from_numpy(gaussian_codes(0, 0, num, cfg.z_dim))).mean(dim=0)


def load_rosinality(path: str | Path, device=None, spec: str = "", checkpoint: dict | None = None, **options):
    """A StyleGAN2Generator from a rosinality `.pt` (`g_ema`, else `g`); latent_avg, if absent, is estimated."""
    path = Path(path)
    ckpt = read_torch_checkpoint(path) if checkpoint is None else checkpoint
    if not is_rosinality_checkpoint(ckpt):
        raise InterfaceGANError(
            f"{path}: not a rosinality StyleGAN2 checkpoint (no 'g_ema' generator; found {describe_keys(ckpt)})"
        )
    state = ckpt.get("g_ema", ckpt.get("g"))
    try:
        cfg = rosinality_config(state)
        latent_avg = ckpt.get("latent_avg")
        placeholder = torch.zeros(cfg.w_dim)
        ours = rosinality_to_nvidia(state, cfg, placeholder if latent_avg is None else torch.as_tensor(latent_avg))
    except KeyError as exc:
        raise InterfaceGANError(f"{path}: unknown rosinality layout (missing tensor {exc})") from None
    w_avg_source = "latent_avg"
    if latent_avg is None:
        ours["mapping.w_avg"] = estimate_w_avg(cfg, ours)
        w_avg_source = f"mean of {W_AVG_SAMPLES} mapped z (seed 0)"
    model = StyleGAN2Generator(cfg, ours, spec=spec or f"rosinality:{path.resolve()}", device=device,
                               source=str(path), **options)  # fmt: skip
    model.extra.update({"format": "rosinality-pt", "w_avg": w_avg_source})
    return model


def save_rosinality(model: StyleGAN2Generator, path: str | Path) -> Path:
    """Write `model` as a rosinality checkpoint {'g_ema', 'latent_avg'} (atomically)."""
    from interfacegan.atomic import atomic_path

    state = {k: v.detach().cpu() for k, v in model.net.state_dict().items()}
    g_ema, latent_avg = nvidia_to_rosinality(state, model.cfg)
    with atomic_path(path) as tmp:
        torch.save({"g_ema": g_ema, "latent_avg": latent_avg}, tmp)
    return Path(path)
