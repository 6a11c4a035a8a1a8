"""Feed-forward editing learned from InterFaceGAN's synthetic pairs, with gradual strength by weight interpolation.

The TPAMI paper's Sec. 6.2: `make_pairs` edits sampled codes along a boundary (keeping the pairs whose attribute
changed most), `train_identity` / `finetune` train an image-to-image `ResidualUNet` to reproduce its input and
then to apply the edit, and `Translator` interpolates the two weight sets (DNI) to edit real images at any
strength in one forward pass, without inversion.
"""

from interfacegan.translation.checkpoint import load_translator, save_translator
from interfacegan.translation.dni import Translator, check_same_architecture, interpolate_state_dicts, save_translations
from interfacegan.translation.network import NetworkConfig, ResidualUNet, build_network
from interfacegan.translation.pairs import Pairs, make_pairs, select_largest_change
from interfacegan.translation.train import (
    TrainLog,
    finetune,
    fit,
    l1_error,
    new_network,
    psnr_uint8,
    train_identity,
    train_translator,
)

__all__ = [
    "NetworkConfig",
    "Pairs",
    "ResidualUNet",
    "TrainLog",
    "Translator",
    "build_network",
    "check_same_architecture",
    "finetune",
    "fit",
    "interpolate_state_dicts",
    "l1_error",
    "load_translator",
    "make_pairs",
    "new_network",
    "psnr_uint8",
    "save_translations",
    "save_translator",
    "select_largest_change",
    "train_identity",
    "train_translator",
]
