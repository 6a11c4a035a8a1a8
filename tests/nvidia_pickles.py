"""NVIDIA StyleGAN2-ADA / StyleGAN3 network pickles written without NVIDIA's code, for tests and benchmarks.

Throwaway nn.Module classes whose `__reduce__` returns exactly what `torch_utils.persistence`'s decorator returns
(`_reconstruct_persistent_obj, (meta,), None` with meta = type/version/module_src/class_name/state) point at the
real global names through stand-in modules that exist only while pickling. The attribute names and values per
class follow `training/networks.py` (stylegan2-ada-pytorch@d72cc7d) and `training/networks_stylegan2.py` /
`networks_stylegan3.py` (stylegan3@c233a91), including numpy arrays for sizes and numpy scalars for rates. How
this was checked: pickles written by NVIDIA's own persistence code from those commits reference the same globals
(persistence hook, `torch._utils._rebuild_*`, `torch.storage._load_from_bytes`, `collections.OrderedDict`, numpy
scalars/arrays), carry the same meta keys and the same attribute names, load through our reader, and reproduce
NVIDIA's own images to <= 1e-6. The stored module source is `FAKE_SOURCE`, which a loader must never execute.
"""

from __future__ import annotations

import contextlib
import pickle
import sys
import types

import numpy as np
import torch
from torch import nn

FAKE_SOURCE = "# module source stored by torch_utils.persistence; a loader must never execute it\nraise SystemExit\n"
SNAPSHOT_RESOLUTION = 32  # what the snapshot's discriminator and data set entries say (loaders ignore them)


def state_of(model):
    """A generator's state dict on the CPU, detached."""
    return {k: v.detach().cpu() for k, v in model.net.state_dict().items()}


@contextlib.contextmanager
def nvidia_globals():
    """Stand-in `torch_utils.persistence` and `dnnlib.util` modules so pickle can name NVIDIA's globals."""
    names = ["torch_utils", "torch_utils.persistence", "dnnlib", "dnnlib.util"]
    if any(n in sys.modules for n in names):
        raise RuntimeError("real torch_utils/dnnlib are imported: cannot fake them")
    persistence = types.ModuleType("torch_utils.persistence")

    def _reconstruct_persistent_obj(meta):  # never called by a safe loader
        raise AssertionError("NVIDIA's reconstruct hook was executed")

    _reconstruct_persistent_obj.__module__ = "torch_utils.persistence"
    _reconstruct_persistent_obj.__qualname__ = "_reconstruct_persistent_obj"
    persistence._reconstruct_persistent_obj = _reconstruct_persistent_obj
    util = types.ModuleType("dnnlib.util")
    easy = type("EasyDict", (dict,), {"__module__": "dnnlib.util"})
    util.EasyDict = easy
    torch_utils, dnnlib = types.ModuleType("torch_utils"), types.ModuleType("dnnlib")
    torch_utils.persistence, dnnlib.util, dnnlib.EasyDict = persistence, util, easy
    sys.modules.update(dict(zip(names, [torch_utils, persistence, dnnlib, util])))
    try:
        yield types.SimpleNamespace(reconstruct=_reconstruct_persistent_obj, EasyDict=easy)
    finally:
        for n in names:
            sys.modules.pop(n, None)


class Persistent(nn.Module):
    """A module pickled the way NVIDIA's persistent_class decorator pickles it."""

    nv_class_name = "Module"
    hook = None

    def __init__(self, init_args=(), init_kwargs=None):
        super().__init__()
        self._init_args = tuple(init_args)
        self._init_kwargs = dict(init_kwargs or {})

    def __reduce__(self):
        fields = list(super().__reduce__())
        fields += [None] * max(3 - len(fields), 0)
        meta = dict(type="class", version=6, module_src=FAKE_SOURCE, class_name=self.nv_class_name, state=fields[2])
        fields[0], fields[1], fields[2] = Persistent.hook, (meta,), None
        return tuple(fields)


def nv(class_name: str, init_args=(), init_kwargs=None, attrs=None, params=None, buffers=None, children=None):
    """An NVIDIA-style persistent module instance with the given attributes, tensors and submodules."""
    cls = type(class_name, (Persistent,), {"nv_class_name": class_name})
    m = cls(init_args, init_kwargs)
    for k, v in (attrs or {}).items():
        setattr(m, k, v)
    for k, v in (params or {}).items():
        setattr(m, k, None if v is None else nn.Parameter(v.detach().clone(), requires_grad=False))
    for k, v in (buffers or {}).items():
        m.register_buffer(k, None if v is None else v.detach().clone())
    for k, v in (children or {}).items():
        setattr(m, k, v)
    return m.eval()


def dump_nvidia_snapshot(path, make_generator, protocol: int = 4, extra: dict | None = None) -> None:
    """Write a training snapshot {G, D, G_ema, augment_pipe, training_set_kwargs} as NVIDIA's training loop does.

    `make_generator(EasyDict)` builds the persistent G tree (called inside the fake-module context).
    """
    with nvidia_globals() as fake:
        Persistent.hook = fake.reconstruct
        g_ema = make_generator(fake.EasyDict)
        d = nv("Discriminator", init_kwargs={"c_dim": 0, "img_resolution": SNAPSHOT_RESOLUTION, "img_channels": 3},
               attrs={"c_dim": 0, "img_resolution": SNAPSHOT_RESOLUTION}, params={"w": torch.randn(4, 3)})  # fmt: skip
        aug = nv("AugmentPipe", attrs={"xflip": 1.0}, buffers={"p": torch.zeros([])})
        snapshot = dict(G=make_generator(fake.EasyDict), D=d, G_ema=g_ema, augment_pipe=aug,
                        training_set_kwargs={"path": "ffhq.zip", "resolution": SNAPSHOT_RESOLUTION, "use_labels": False})  # fmt: skip
        snapshot.update(extra or {})
        with open(path, "wb") as f:
            pickle.dump(snapshot, f, protocol=protocol)


def _fc(sd, prefix, activation="linear", lr=1.0, bias_init=0.0):
    w = sd[f"{prefix}.weight"]
    return nv("FullyConnectedLayer", (w.shape[1], w.shape[0]),
              {"activation": activation, "lr_multiplier": lr, "bias_init": bias_init},
              attrs={"activation": activation, "weight_gain": lr / np.sqrt(w.shape[1]), "bias_gain": lr},
              params={"weight": w, "bias": sd[f"{prefix}.bias"]})  # fmt: skip


def nvidia_mapping(sd, cfg, num_ws, easy):
    fcs = {f"fc{i}": _fc(sd, f"mapping.fc{i}", "lrelu", cfg.mapping_lr_multiplier) for i in range(cfg.mapping_layers)}
    if cfg.c_dim:
        fcs["embed"] = _fc(sd, "mapping.embed")
    kwargs = easy(num_layers=cfg.mapping_layers)
    dims = {"z_dim": cfg.z_dim, "c_dim": cfg.c_dim, "w_dim": cfg.w_dim, "num_ws": num_ws}
    return nv("MappingNetwork", (), {**dims, **kwargs},
              attrs={"z_dim": cfg.z_dim, "c_dim": cfg.c_dim, "w_dim": cfg.w_dim, "num_ws": num_ws,
                     "num_layers": cfg.mapping_layers, "w_avg_beta": 0.995},
              buffers={"w_avg": sd["mapping.w_avg"]}, children=fcs)  # fmt: skip


def nvidia_stylegan2(model, easy):
    """The persistent G tree of a StyleGAN2Generator, attribute for attribute as networks.py builds it."""
    cfg, sd = model.cfg, {k: v.cpu() for k, v in model.net.state_dict().items()}
    blocks, num_ws = {}, 0
    for res in [2**i for i in range(2, int(np.log2(cfg.img_resolution)) + 1)]:
        p = f"synthesis.b{res}"
        cin = cfg.channels[res // 2] if res > 4 else 0
        is_last = res == cfg.img_resolution
        children = {}
        for name, up in ([("conv0", 2)] if cin else []) + [("conv1", 1)]:
            q = f"{p}.{name}"
            children[name] = nv(
                "SynthesisLayer", (sd[f"{q}.weight"].shape[1], sd[f"{q}.weight"].shape[0]),
                {"w_dim": cfg.w_dim, "resolution": res, "up": up, "conv_clamp": cfg.conv_clamp},
                attrs={"resolution": res, "up": up, "use_noise": True, "activation": "lrelu",
                       "conv_clamp": cfg.conv_clamp, "padding": 1, "act_gain": np.sqrt(2)},
                params={k: sd[f"{q}.{k}"] for k in ("weight", "noise_strength", "bias")},
                buffers={"resample_filter": sd[f"{q}.resample_filter"], "noise_const": sd[f"{q}.noise_const"]},
                children={"affine": _fc(sd, f"{q}.affine", bias_init=1)},
            )  # fmt: skip
        if is_last or cfg.architecture == "skip":
            w = sd[f"{p}.torgb.weight"]
            rgb_kwargs = {"w_dim": cfg.w_dim, "conv_clamp": cfg.conv_clamp}
            children["torgb"] = nv("ToRGBLayer", (w.shape[1], w.shape[0]), rgb_kwargs,
                                   attrs={"conv_clamp": cfg.conv_clamp, "weight_gain": 1 / np.sqrt(w.shape[1])},
                                   params={"weight": w, "bias": sd[f"{p}.torgb.bias"]},
                                   children={"affine": _fc(sd, f"{p}.torgb.affine", bias_init=1)})  # fmt: skip
        if cin and cfg.architecture == "resnet":
            w = sd[f"{p}.skip.weight"]
            children["skip"] = nv("Conv2dLayer", (w.shape[1], w.shape[0], 1), {"bias": False, "up": 2},
                                  attrs={"activation": "linear", "up": 2, "down": 1, "conv_clamp": None, "padding": 0,
                                         "weight_gain": 1 / np.sqrt(w.shape[1]), "act_gain": 1, "bias": None},
                                  params={"weight": w},
                                  buffers={"resample_filter": sd[f"{p}.skip.resample_filter"]})  # fmt: skip
        params = {"const": sd[f"{p}.const"]} if not cin else {}
        num_conv = 2 if cin else 1
        blocks[f"b{res}"] = nv(
            "SynthesisBlock", (cin, cfg.channels[res]), {"w_dim": cfg.w_dim, "resolution": res, "is_last": is_last,
                                                         "architecture": cfg.architecture},
            attrs={"in_channels": cin, "w_dim": cfg.w_dim, "resolution": res, "img_channels": cfg.img_channels,
                   "is_last": is_last, "architecture": cfg.architecture, "use_fp16": False, "channels_last": False,
                   "num_conv": num_conv, "num_torgb": int("torgb" in children)},
            params=params, buffers={"resample_filter": sd[f"{p}.resample_filter"]}, children=children,
        )  # fmt: skip
        num_ws += num_conv + (1 if is_last else 0)
    synthesis_kwargs = easy(channel_base=512, channel_max=32, num_fp16_res=4, conv_clamp=cfg.conv_clamp,
                            architecture=cfg.architecture)  # fmt: skip
    synthesis = nv("SynthesisNetwork", (), {"w_dim": cfg.w_dim, "img_resolution": cfg.img_resolution,
                                            "img_channels": cfg.img_channels, **synthesis_kwargs},
                   attrs={"w_dim": cfg.w_dim, "img_resolution": cfg.img_resolution, "img_channels": cfg.img_channels,
                          "img_resolution_log2": int(np.log2(cfg.img_resolution)), "num_ws": num_ws,
                          "block_resolutions": [2**i for i in range(2, int(np.log2(cfg.img_resolution)) + 1)]},
                   children=blocks)  # fmt: skip
    g_kwargs = easy(z_dim=cfg.z_dim, c_dim=cfg.c_dim, w_dim=cfg.w_dim, img_resolution=cfg.img_resolution,
                    img_channels=3,
                    mapping_kwargs=easy(num_layers=cfg.mapping_layers), synthesis_kwargs=synthesis_kwargs)  # fmt: skip
    return nv("Generator", (), g_kwargs,
              attrs={"z_dim": cfg.z_dim, "c_dim": cfg.c_dim, "w_dim": cfg.w_dim, "img_resolution": cfg.img_resolution,
                     "img_channels": cfg.img_channels, "num_ws": num_ws},
              children={"synthesis": synthesis, "mapping": nvidia_mapping(sd, cfg, num_ws, easy)})  # fmt: skip


def write_stylegan2_pkl(model, path, protocol: int = 4):
    dump_nvidia_snapshot(path, lambda easy: nvidia_stylegan2(model, easy), protocol=protocol)
    return path


# ---- StyleGAN3 -----------------------------------------------------------------------------------------------
def nvidia_stylegan3(model, easy, radial=False):
    """The persistent G tree of a StyleGAN3Generator, attribute for attribute as networks_stylegan3.py builds it."""
    cfg, sd = model.cfg, state_of(model)
    num_ws = len(cfg.layers) + 1
    spec = cfg.input
    rates = {"sampling_rate": np.float64(spec.sampling_rate), "bandwidth": np.float64(spec.bandwidth)}
    inp = nv("SynthesisInput", (), {"w_dim": cfg.w_dim, "channels": spec.channels, "size": spec.size[0], **rates},
             attrs={"w_dim": cfg.w_dim, "channels": spec.channels,
                    "size": np.broadcast_to(np.asarray(spec.size[0]), [2]), **rates},
             params={"weight": sd["synthesis.input.weight"]},
             buffers={k: sd[f"synthesis.input.{k}"] for k in ("transform", "freqs", "phases")},
             children={"affine": _fc(sd, "synthesis.input.affine", bias_init=[1, 0, 0, 0])})  # fmt: skip
    layers = {}
    for i, s in enumerate(cfg.layers):
        p = f"synthesis.{s.name}"
        layers[s.name] = nv(
            "SynthesisLayer", (), {"w_dim": cfg.w_dim, "is_torgb": s.is_torgb, "in_channels": s.in_channels,
                                   "out_channels": s.out_channels, "in_size": s.in_size[0], "out_size": s.out_size[0],
                                   "in_cutoff": np.float64(2.0), "conv_kernel": 3, "use_radial_filters": radial},
            attrs={"w_dim": cfg.w_dim, "is_torgb": s.is_torgb, "is_critically_sampled": i >= len(cfg.layers) - 3,
                   "use_fp16": False, "in_channels": s.in_channels, "out_channels": s.out_channels,
                   "in_size": np.broadcast_to(np.asarray(s.in_size[0]), [2]),
                   "out_size": np.broadcast_to(np.asarray(s.out_size[0]), [2]),
                   "in_sampling_rate": 16, "out_sampling_rate": 16, "tmp_sampling_rate": 32,
                   "in_cutoff": np.float64(2.0), "out_cutoff": np.float64(2.5), "in_half_width": np.float64(4.0),
                   "out_half_width": np.float64(3.0), "conv_kernel": s.conv_kernel, "conv_clamp": s.conv_clamp,
                   "magnitude_ema_beta": 0.999, "up_factor": s.up_factor, "down_factor": s.down_factor,
                   "up_taps": 1 if s.up_filter is None else len(s.up_filter),
                   "down_taps": 1 if s.down_filter is None else len(s.down_filter),
                   "down_radial": s.down_filter is not None and s.down_filter.ndim == 2, "padding": list(s.padding)},
            params={"weight": sd[f"{p}.weight"], "bias": sd[f"{p}.bias"]},
            buffers={"magnitude_ema": sd[f"{p}.magnitude_ema"], "up_filter": sd.get(f"{p}.up_filter"),
                     "down_filter": sd.get(f"{p}.down_filter")},
            children={"affine": _fc(sd, f"{p}.affine", bias_init=1)},
        )  # fmt: skip
    synthesis = nv("SynthesisNetwork", (),
                   {"w_dim": cfg.w_dim, "img_resolution": cfg.img_resolution, "img_channels": 3},
                   attrs={"w_dim": cfg.w_dim, "num_ws": num_ws, "img_resolution": cfg.img_resolution, "img_channels": 3,
                          "num_layers": len(cfg.layers) - 1, "num_critical": 2, "margin_size": 10,
                          "output_scale": cfg.output_scale, "num_fp16_res": 4,
                          "layer_names": [s.name for s in cfg.layers]},
                   children={"input": inp, **layers})  # fmt: skip
    mapping = nvidia_mapping(sd, cfg_with_defaults(cfg), num_ws, easy)
    mapping.embed = None  # networks_stylegan3 keeps `embed = None` for unconditional models
    g_kwargs = easy(z_dim=cfg.z_dim, w_dim=cfg.w_dim, c_dim=0, img_resolution=cfg.img_resolution, img_channels=3,
                    mapping_kwargs=easy(num_layers=cfg.mapping_layers), channel_base=512, channel_max=32,
                    magnitude_ema_beta=0.5 ** (32 / 20000), conv_kernel=1 if radial else 3,
                    use_radial_filters=radial)  # fmt: skip
    return nv("Generator", (), g_kwargs,
              attrs={"z_dim": cfg.z_dim, "c_dim": 0, "w_dim": cfg.w_dim, "img_resolution": cfg.img_resolution,
                     "img_channels": 3, "num_ws": num_ws},
              children={"synthesis": synthesis, "mapping": mapping})  # fmt: skip


def cfg_with_defaults(cfg):
    """The StyleGAN3 config seen through the mapping writer's eyes (same fields as StyleGAN2Config's mapping)."""
    return types.SimpleNamespace(mapping_layers=cfg.mapping_layers, mapping_lr_multiplier=cfg.mapping_lr_multiplier,
                                 c_dim=0, z_dim=cfg.z_dim, w_dim=cfg.w_dim)  # fmt: skip


def write_stylegan3_pkl(model, path, radial=False):
    dump_nvidia_snapshot(path, lambda easy: nvidia_stylegan3(model, easy, radial=radial))
    return path


# ---- crafted pickles for the bounds tests, written opcode by opcode -------------------------------------------
PERSISTENT_CALL = "ctorch_utils.persistence\n_reconstruct_persistent_obj\n"


def _persistent_open(class_name: str) -> str:
    """Protocol-0 text opening `_reconstruct_persistent_obj({type, version, class_name, module_src, state: {
    '_modules': {'mapping': None, 'synthesis': ` ... (the child follows, then PERSISTENT_CLOSE)."""
    meta = f"}}Vtype\nVclass\nsVversion\nI6\nsVclass_name\nV{class_name}\nsVmodule_src\nV\ns"
    return PERSISTENT_CALL + "(" + meta + "Vstate\n}V_modules\n}Vmapping\nNsVsynthesis\n"


PERSISTENT_CLOSE = "sss" + "tR"  # modules['synthesis'] = child, state['_modules'], meta['state']; call with (meta,)


def nested_modules_pickle(depth: int) -> bytes:
    """{'G_ema': G(synthesis=G(synthesis=...G(synthesis=None)))} with `depth` nested persistent modules: a few bytes
    per level, written iteratively (Python's own pickler would hit its recursion limit)."""
    return ("}VG_ema\n" + _persistent_open("Generator") * depth + "N" + PERSISTENT_CLOSE * depth + "s.").encode()


def shared_modules_pickle(depth: int) -> bytes:
    """{'G_ema': ...} where the mapping and synthesis of each level are the SAME module one level down (memoised):
    a file of a few hundred bytes whose module tree, walked naively, has 2 ** depth paths."""
    parts = []
    for level in range(depth):  # memo slot `level` holds this level's module; `0` pops it off the stack
        child = "N" if level == 0 else f"g{level - 1}\n"
        meta = f"}}Vtype\nVclass\nsVversion\nI6\nsVclass_name\nVM{level}\nsVmodule_src\nV\ns"
        modules = f"}}V_modules\n}}Vmapping\n{child}sVsynthesis\n{child}s"
        parts.append(f"{PERSISTENT_CALL}(" + meta + f"Vstate\n{modules}ss" + f"tRp{level}\n0")
    return ("".join(parts) + f"}}VG_ema\ng{depth - 1}\ns.").encode()
