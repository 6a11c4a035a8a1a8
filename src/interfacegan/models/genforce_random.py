"""Random-weight genforce PGGAN and StyleGAN (v1) generators with their genforce state dicts, for tests/benchmarks."""

from __future__ import annotations

import torch

from interfacegan.models.genforce import _fused_flags
from interfacegan.models.pggan import PGGANGenerator, PGGANNet, block_resolutions, feature_maps
from interfacegan.models.stylegan import MAPPING_LR_MUL, MappingNet, StyleGANGenerator, StyleGANNet, SynthesisNet


def build_random_pggan(
    resolution: int = 16,
    z_dim: int = 32,
    fmaps_base: int = 256,
    fmaps_max: int = 16,
    fused_scale: bool = False,
    seed: int = 0,
    device=None,
) -> tuple[PGGANGenerator, dict[str, torch.Tensor]]:
    """A random-weight PGGAN and its genforce state dict (CPU). Real models use fmaps_base=16384, fmaps_max=512."""
    channels = [feature_maps(r, fmaps_base, fmaps_max) for r in block_resolutions(resolution)]
    fused = _fused_flags(len(channels), {}, fused_scale, "random PGGAN")
    net = PGGANNet(z_dim, channels, fused=fused)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in net.named_parameters():
            param.copy_(torch.randn(param.shape, generator=gen) * (0.1 if name.endswith("bias") else 1.0))
    state = {k: v.detach().clone() for k, v in net.state_dict().items()}
    return PGGANGenerator(net, name="pggan-random", spec="", device=device, extra={"format": "genforce"}), state


def build_random_stylegan(
    resolution: int = 16,
    z_dim: int = 32,
    w_dim: int = 32,
    mapping_layers: int = 8,
    fmaps_base: int = 256,
    fmaps_max: int = 16,
    fused_scale: bool | str = "auto",
    seed: int = 0,
    device=None,
) -> tuple[StyleGANGenerator, dict[str, torch.Tensor]]:
    """A random-weight StyleGAN (v1) and its genforce state dict (CPU); `w_avg` is the mean w of 1,024 random z.

    Real FFHQ models use z_dim = w_dim = 512, fmaps_base=16384, fmaps_max=512.
    """
    resolutions = block_resolutions(resolution)
    channels = [feature_maps(r, fmaps_base, fmaps_max) for r in resolutions]
    fused = _fused_flags(len(resolutions), {}, fused_scale, "random StyleGAN")
    mapping = MappingNet(z_dim, w_dim, num_layers=mapping_layers)
    net = StyleGANNet(mapping, w_dim, SynthesisNet(w_dim, channels, fused=fused))
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in net.named_parameters():
            noise = torch.randn(param.shape, generator=gen)
            if name.startswith("mapping."):  # stored values are divided by lr_mul, as the official init does
                noise = noise / MAPPING_LR_MUL * (0.1 if name.endswith("bias") else 1.0)
            elif name.endswith("bias") or name.endswith("apply_noise.weight"):
                noise = noise * 0.1
            param.copy_(noise)
        for name, buffer in net.named_buffers():
            if name.endswith("apply_noise.noise"):
                buffer.copy_(torch.randn(buffer.shape, generator=gen))
        z = torch.randn(1024, z_dim, generator=gen)
        net.truncation.w_avg.copy_(net.mapping(z).mean(dim=0))
    state = {k: v.detach().clone() for k, v in net.state_dict().items()}
    generator = StyleGANGenerator(net, name="stylegan-random", spec="", device=device, extra={"format": "genforce"})
    return generator, state
