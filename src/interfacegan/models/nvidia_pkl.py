"""NVIDIA StyleGAN2-ADA / StyleGAN3 network pickles, read without running any code they contain.

NVIDIA's `torch_utils.persistence` pickles every network module as a call
`torch_utils.persistence._reconstruct_persistent_obj(meta)`, where `meta` holds the module's Python source,
class name and `__dict__` state; unpickling normally `exec`s that source. Our unpickler maps that one global
to a function that only records `meta` (a `PersistentRecord`: class name, source hash, state), rebuilds
tensors through torch's weights-only loader, and refuses every other global outside a short whitelist, so a
file that tries to run code stops at the first foreign global with an error naming it. The unpickler is the
bounded one of `safe_pickle` (no BUILD on classes or functions, work bounded by the file size); storages and
tensor views are checked against what the file holds, and the module tree must be a tree (no shared or deeply
nested modules) before it is walked. The generator is then rebuilt from the records: tensors become a state dict,
per-module attributes (resolution, clamp, filters, geometry) become our config.
"""

from __future__ import annotations

import hashlib
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from interfacegan.errors import InterfaceGANError
from interfacegan.models.safe_pickle import (
    PLAIN_DATA_BUILDABLE,
    PLAIN_DATA_GLOBALS,
    BoundedUnpickler,
    RefusedGlobal,
    TypeMarker,
)
from interfacegan.models.weights import OversizedCheckpoint, check_tensor_views, describe_keys, load_torch_bounded

PERSISTENCE_GLOBAL = ("torch_utils.persistence", "_reconstruct_persistent_obj")
_MISSING = object()
MAX_MODULE_DEPTH = 32  # NVIDIA's generators nest modules 5 deep (G -> synthesis -> b64 -> conv0 -> affine)
MAX_MODULES = 100_000


@dataclass(slots=True)
class PersistentRecord:
    """What a persistent NVIDIA module pickled: class name, format version, source hash and `__dict__` state."""

    class_name: str
    version: int
    source_sha256: str
    state: dict

    def attr(self, name: str, default: Any = _MISSING) -> Any:
        if name in self.state:
            return self.state[name]
        if default is _MISSING:
            raise KeyError(name)
        return default

    @property
    def children(self) -> dict[str, Any]:
        return dict(self.state.get("_modules") or {})

    def child(self, name: str) -> "PersistentRecord":
        module = self.children.get(name)
        if not isinstance(module, PersistentRecord):
            raise KeyError(name)
        return module


class EasyDict(dict):
    """Stand-in for `dnnlib.EasyDict`: a plain dict (NVIDIA's adds attribute access, which we do not need)."""


def _capture_persistent(meta: Any) -> PersistentRecord:
    """Replacement for `_reconstruct_persistent_obj`: keep the metadata, never touch `module_src`."""
    if not isinstance(meta, dict) or meta.get("type") != "class" or not isinstance(meta.get("class_name"), str):
        raise pickle.UnpicklingError("persistent object without NVIDIA's class metadata")
    state = meta.get("state")
    if not isinstance(state, dict):
        raise pickle.UnpicklingError(f"persistent {meta['class_name']} has no state dict")
    source = meta.get("module_src", "")
    digest = hashlib.sha256(source.encode("utf-8", "replace") if isinstance(source, str) else b"").hexdigest()
    return PersistentRecord(meta["class_name"], int(meta.get("version", 0)), digest, state)


def _load_storage_bytes(data: bytes):
    """`torch.storage._load_from_bytes`: the storage was written with torch.save; read it weights-only, with the
    sizes it declares bounded by its bytes."""
    if not isinstance(data, (bytes, bytearray)):
        raise pickle.UnpicklingError("tensor storage is not bytes")
    storage = load_torch_bounded(bytes(data))
    if not isinstance(storage, (torch.TypedStorage, torch.UntypedStorage)):
        raise pickle.UnpicklingError("tensor storage bytes hold something other than a storage")
    return storage


def _rebuild_tensor(storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None, metadata=None):
    if not isinstance(storage, (torch.TypedStorage, torch.UntypedStorage)):
        raise pickle.UnpicklingError("tensor rebuilt from something that is not a storage")
    if backward_hooks:
        raise pickle.UnpicklingError("tensor carries backward hooks")
    tensor = torch._utils._rebuild_tensor_v2(storage, storage_offset, size, stride, False, None)
    if tensor.numel() * tensor.element_size() > tensor.untyped_storage().nbytes():
        raise OversizedCheckpoint(
            f"a tensor declares shape {tuple(tensor.shape)} with strides {tensor.stride()} over a storage of "
            f"{tensor.untyped_storage().nbytes()} bytes (overlapping views are refused)"
        )
    return tensor


def _rebuild_parameter(data, requires_grad=False, backward_hooks=None, state=None):
    if not isinstance(data, torch.Tensor) or backward_hooks:
        raise pickle.UnpicklingError("malformed parameter")
    return data


TENSOR_TYPE, PARAMETER_TYPE = TypeMarker("torch.Tensor"), TypeMarker("torch.nn.Parameter")


def _rebuild_from_type(func, new_type, args, state):
    if new_type not in (TENSOR_TYPE, PARAMETER_TYPE) or func not in (_rebuild_tensor, _rebuild_parameter):
        raise pickle.UnpicklingError("tensor subclass outside torch.Tensor / Parameter")
    return func(*args)


def _allowed_globals() -> dict[tuple[str, str], Any]:
    allowed: dict[tuple[str, str], Any] = {
        PERSISTENCE_GLOBAL: _capture_persistent,
        ("dnnlib.util", "EasyDict"): EasyDict,
        ("dnnlib", "EasyDict"): EasyDict,
        **PLAIN_DATA_GLOBALS,
        ("torch.storage", "_load_from_bytes"): _load_storage_bytes,
        ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
        ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
        ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
        ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
        ("torch._tensor", "_rebuild_from_type_v2"): _rebuild_from_type,
        ("torch", "Tensor"): TENSOR_TYPE,  # markers for _rebuild_from_type: calling them would allocate
        ("torch.nn.parameter", "Parameter"): PARAMETER_TYPE,
        ("torch", "Size"): torch.Size,
        ("torch", "device"): torch.device,
    }
    for name in dir(torch):
        if isinstance(getattr(torch, name, None), torch.dtype):
            allowed[("torch", name)] = getattr(torch, name)
    return allowed


_ALLOWED = _allowed_globals()


def restricted_unpickler(file, size: int) -> BoundedUnpickler:
    """The unpickler NVIDIA pickles are read with: whitelisted globals only (tensors, numpy arrays, plain containers,
    NVIDIA's persistence hook), BUILD only on the numpy arrays and dtypes it made, work bounded by `size`."""
    return BoundedUnpickler(file, size, _ALLOWED, buildable=PLAIN_DATA_BUILDABLE)


def read_nvidia_pickle(path: str | Path) -> Any:
    """Unpickle `path` safely; persistent modules come back as `PersistentRecord`s. No code from the file runs."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            return restricted_unpickler(f, path.stat().st_size).load()
    except RefusedGlobal as exc:
        if exc.module.startswith("dnnlib.tflib"):
            raise InterfaceGANError(
                f"{path}: a TensorFlow StyleGAN pickle ({exc}): convert it first with NVIDIA's legacy.py "
                "(stylegan2-ada-pytorch) or load a rosinality .pt conversion"
            ) from None
        raise InterfaceGANError(
            f"{path}: refused to load: the pickle asks for {exc}, which could run code; only NVIDIA StyleGAN2-ADA/"
            "StyleGAN3 network pickles are read (never trust a pickle from an unknown source)"
        ) from None
    except OSError as exc:
        raise InterfaceGANError(f"cannot read {path}: {exc.strerror or exc}") from None
    except OversizedCheckpoint as exc:
        raise InterfaceGANError(f"{path}: {exc}: the file is corrupt or crafted; refused before allocating") from None
    except Exception as exc:  # truncated, corrupt or not a pickle at all
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InterfaceGANError(
            f"{path}: not a readable NVIDIA network pickle ({type(exc).__name__}: {reason}); the file may be "
            "truncated or corrupt: download it again"
        ) from None


def find_generator(root: Any, path: str | Path) -> PersistentRecord:
    """The `G_ema` record of a training snapshot (or the pickle itself if it is a bare generator)."""
    if isinstance(root, PersistentRecord):
        candidate = root
    elif isinstance(root, dict) and isinstance(root.get("G_ema"), PersistentRecord):
        candidate = root["G_ema"]
    else:
        raise InterfaceGANError(
            f"{path}: no 'G_ema' generator in this pickle (found {describe_keys(root)}): not an NVIDIA snapshot"
        )
    check_module_tree(candidate, path)
    if "synthesis" not in candidate.children or "mapping" not in candidate.children:
        raise InterfaceGANError(
            f"{path}: unknown network layout ({candidate.class_name} without mapping/synthesis): "
            "only StyleGAN2(-ADA) and StyleGAN3 generators are supported"
        )
    return candidate


def check_module_tree(root: PersistentRecord, path: str | Path) -> None:
    """One line unless the modules under `root` form a tree of plain records: every submodule a record (or None)
    held by exactly one parent, at most MAX_MODULE_DEPTH deep and MAX_MODULES in all. Walked iteratively, so a
    crafted pickle can neither exhaust the stack nor make a walk over shared submodules take exponential time."""
    seen: set[int] = set()
    stack = [(root, 0)]
    while stack:
        record, depth = stack.pop()
        if id(record) in seen:
            raise InterfaceGANError(f"{path}: a submodule appears more than once in the network: not an NVIDIA pickle")
        seen.add(id(record))
        if depth > MAX_MODULE_DEPTH or len(seen) > MAX_MODULES:
            what = f"nested more than {MAX_MODULE_DEPTH} deep" if depth > MAX_MODULE_DEPTH else "too many modules"
            raise InterfaceGANError(f"{path}: the network's modules are {what}: not an NVIDIA generator pickle")
        modules = record.state.get("_modules") or {}
        if not isinstance(modules, dict):
            raise InterfaceGANError(f"{path}: {record.class_name} has malformed submodules: not an NVIDIA pickle")
        for child in modules.values():
            if child is not None and not isinstance(child, PersistentRecord):
                raise InterfaceGANError(f"{path}: a submodule of {record.class_name} is not an NVIDIA module")
            if child is not None:
                stack.append((child, depth + 1))


def record_state_dict(record: PersistentRecord, prefix: str = "") -> dict[str, torch.Tensor]:
    """Flatten a record tree into a state dict (parameters, persistent buffers, recursively), float tensors."""
    out: dict[str, torch.Tensor] = {}
    skip = set(record.state.get("_non_persistent_buffers_set") or ())
    for group in ("_parameters", "_buffers"):
        for name, value in (record.state.get(group) or {}).items():
            if value is None or (group == "_buffers" and name in skip):
                continue
            if not isinstance(value, torch.Tensor):
                raise InterfaceGANError(f"{prefix}{name} is not a tensor")
            out[prefix + name] = value.detach()
    for name, child in record.children.items():
        if child is None:
            continue
        if not isinstance(child, PersistentRecord):
            raise InterfaceGANError(f"module {prefix}{name} is not an NVIDIA persistent module")
        out.update(record_state_dict(child, f"{prefix}{name}."))
    return out


def detect_family(generator: PersistentRecord) -> str:
    """'stylegan3' when synthesis has the Fourier-feature input, 'stylegan2' when it has a b4 block."""
    synthesis = generator.child("synthesis")
    if "input" in synthesis.children and synthesis.attr("layer_names", None):
        return "stylegan3"
    if "b4" in synthesis.children:
        return "stylegan2"
    return "unknown"


# ---- records -> our configs ----------------------------------------------------------------------------------
def _tensor(record: PersistentRecord, name: str) -> torch.Tensor | None:
    for group in ("_parameters", "_buffers"):
        value = (record.state.get(group) or {}).get(name)
        if value is not None:
            return value
    return None


def _mapping_settings(g: PersistentRecord) -> dict:
    """MappingNetwork settings from its fc records: layer count, widths, activation, learning-rate multiplier."""
    m = g.child("mapping")
    num_layers = int(m.attr("num_layers"))
    fcs = [m.child(f"fc{i}") for i in range(num_layers)]
    activations = {str(fc.attr("activation")) for fc in fcs}
    lrs = {round(float(fc.attr("bias_gain")), 9) for fc in fcs}
    if len(activations) != 1 or len(lrs) != 1:
        raise ValueError(f"mixed mapping settings (activations {activations}, lr multipliers {lrs})")
    lr = lrs.pop()
    for fc in fcs:
        fan_in = _tensor(fc, "weight").shape[1]
        if abs(float(fc.attr("weight_gain")) - lr / np.sqrt(fan_in)) > 1e-6 * max(1.0, lr):
            raise ValueError("mapping weight gain is not lr_multiplier / sqrt(fan_in)")
    if _tensor(m, "w_avg") is None:
        raise ValueError("mapping has no w_avg buffer (trained with w_avg_beta=None): truncation is undefined")
    settings = {"mapping_layers": num_layers, "mapping_lr_multiplier": lr, "activation": activations.pop()}
    if num_layers > 1:
        settings["layer_features"] = int(_tensor(fcs[0], "weight").shape[0])
    if int(g.attr("c_dim")) > 0:
        settings["embed_features"] = int(_tensor(m.child("embed"), "weight").shape[0])
    return settings


def stylegan2_config(g: PersistentRecord):
    """StyleGAN2Config from a StyleGAN2(-ADA) generator record (NVIDIA's attributes and tensor shapes)."""
    from interfacegan.models.stylegan2 import StyleGAN2Config

    syn = g.child("synthesis")
    resolution = int(g.attr("img_resolution"))
    resolutions = [2**i for i in range(2, int(np.log2(resolution)) + 1)]
    blocks = {r: syn.child(f"b{r}") for r in resolutions}
    layers = [b.child(name) for b in blocks.values() for name in ("conv0", "conv1") if name in b.children]
    archs = {str(b.attr("architecture")) for b in blocks.values()}
    clamps = {layer.attr("conv_clamp") for layer in layers}
    noise = {bool(layer.attr("use_noise")) for layer in layers}
    acts = {str(layer.attr("activation")) for layer in layers}
    kernels = {int(_tensor(layer, "weight").shape[-1]) for layer in layers}
    if max(len(archs), len(clamps), len(noise), len(acts), len(kernels)) != 1:
        raise ValueError("synthesis layers disagree on architecture, clamp, noise, activation or kernel size")
    filt = _tensor(blocks[4], "resample_filter")
    taps = filt.sum(dim=0) if filt.ndim == 2 else filt
    mapping = _mapping_settings(g)
    clamp = clamps.pop()
    return StyleGAN2Config(
        z_dim=int(g.attr("z_dim")), w_dim=int(g.attr("w_dim")), img_resolution=resolution,
        img_channels=int(g.attr("img_channels")), c_dim=int(g.attr("c_dim")),
        channels={r: int(_tensor(b.child("conv1"), "weight").shape[0]) for r, b in blocks.items()},
        mapping_layers=mapping["mapping_layers"], mapping_layer_features=mapping.get("layer_features"),
        mapping_embed_features=mapping.get("embed_features"), mapping_activation=mapping["activation"],
        mapping_lr_multiplier=mapping["mapping_lr_multiplier"], architecture=archs.pop(),
        conv_clamp=None if clamp is None else float(clamp), use_noise=noise.pop(), activation=acts.pop(),
        kernel_size=kernels.pop(), resample_filter=tuple(float(t) for t in taps),
    )  # fmt: skip


def _pair(value) -> tuple[int, int]:
    return tuple(int(v) for v in np.broadcast_to(np.asarray(value), [2]))


def stylegan3_config(g: PersistentRecord):
    """StyleGAN3Config from a generator record: the stored per-layer geometry and filters, not a re-design."""
    from interfacegan.models.stylegan3 import InputSpec, LayerSpec, StyleGAN3Config

    syn = g.child("synthesis")
    inp = syn.child("input")
    spec_in = InputSpec(int(inp.attr("channels")), _pair(inp.attr("size")), float(inp.attr("sampling_rate")),
                        float(inp.attr("bandwidth")))  # fmt: skip
    layers = []
    for name in syn.attr("layer_names"):
        rec = syn.child(str(name))
        clamp = rec.attr("conv_clamp")
        layers.append(LayerSpec(
            name=str(name), is_torgb=bool(rec.attr("is_torgb")), in_channels=int(rec.attr("in_channels")),
            out_channels=int(rec.attr("out_channels")), in_size=_pair(rec.attr("in_size")),
            out_size=_pair(rec.attr("out_size")), up_factor=int(rec.attr("up_factor")),
            down_factor=int(rec.attr("down_factor")), padding=tuple(int(p) for p in rec.attr("padding")),
            conv_kernel=int(rec.attr("conv_kernel")), conv_clamp=None if clamp is None else float(clamp),
            up_filter=_tensor(rec, "up_filter"), down_filter=_tensor(rec, "down_filter"),
        ))  # fmt: skip
    mapping = _mapping_settings(g)
    if mapping["activation"] != "lrelu" or mapping.get("layer_features", int(g.attr("w_dim"))) != int(g.attr("w_dim")):
        raise ValueError("StyleGAN3 mapping with non-standard activation or widths")
    return StyleGAN3Config(
        z_dim=int(g.attr("z_dim")), w_dim=int(g.attr("w_dim")), img_resolution=int(g.attr("img_resolution")),
        img_channels=int(g.attr("img_channels")), input=spec_in, layers=layers, c_dim=int(g.attr("c_dim")),
        mapping_layers=mapping["mapping_layers"], mapping_lr_multiplier=mapping["mapping_lr_multiplier"],
        output_scale=float(syn.attr("output_scale")),
    )  # fmt: skip


def load_nvidia_pickle(path: str | Path, device=None, family: str | None = None, spec: str = "", **options):
    """A StyleGenerator from an NVIDIA `.pkl` (`G_ema`); `family` 'stylegan2'/'stylegan3' forces the reading."""
    from interfacegan.models.stylegan2 import StyleGAN2Generator
    from interfacegan.models.stylegan3 import StyleGAN3Generator

    path = Path(path)
    g = find_generator(read_nvidia_pickle(path), path)
    detected = detect_family(g)
    family = family or detected
    if family not in ("stylegan2", "stylegan3") or (detected != "unknown" and family != detected):
        raise InterfaceGANError(
            f"{path}: the pickle holds a {detected} generator, not {family}: use {detected}:{path} or nvidia:{path}"
            if detected != "unknown" else f"{path}: unknown generator layout (neither StyleGAN2 nor StyleGAN3)"
        )  # fmt: skip
    try:
        cfg = stylegan2_config(g) if family == "stylegan2" else stylegan3_config(g)
        state = record_state_dict(g)
        check_tensor_views(state, path.stat().st_size)  # shared storages must not make the network outgrow the file
    except OversizedCheckpoint as exc:
        raise InterfaceGANError(f"{path}: {exc}: the file is corrupt or crafted; refused before allocating") from None
    except InterfaceGANError as exc:
        raise InterfaceGANError(f"{path}: {exc}") from None
    except (KeyError, ValueError, TypeError, AttributeError) as exc:
        what = f"missing attribute or module {exc}" if isinstance(exc, KeyError) else str(exc)
        raise InterfaceGANError(f"{path}: unknown {family} layout ({what}): not an official NVIDIA generator") from None
    cls = StyleGAN2Generator if family == "stylegan2" else StyleGAN3Generator
    model = cls(cfg, state, spec=spec or f"{family}:{path.resolve()}", device=device, source=str(path), **options)
    model.extra["format"] = "nvidia-pkl"
    return model
