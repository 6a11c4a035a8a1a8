"""Real-image editing through GAN inversion: photos -> latent codes that the library's boundaries can edit.

`load_images` reads and crops photos (`align_face` / `face_template` align faces with dlib), `invert` finds codes
by optimisation, `train_encoder` / `Encoder` learn a fast image -> code map to start from.
"""

from interfacegan.inversion.align import align_face, face_template
from interfacegan.inversion.encoder import Encoder, EncoderConfig, encode, train_encoder
from interfacegan.inversion.images import center_crop_resize, load_images, read_image, to_model_tensor
from interfacegan.inversion.losses import ReconstructionLoss, psnr, pyramid_l1, ssim
from interfacegan.inversion.optimize import InversionResult, default_space, invert, mean_code

__all__ = [
    "Encoder",
    "EncoderConfig",
    "InversionResult",
    "ReconstructionLoss",
    "align_face",
    "center_crop_resize",
    "default_space",
    "encode",
    "face_template",
    "invert",
    "load_images",
    "mean_code",
    "psnr",
    "pyramid_l1",
    "read_image",
    "ssim",
    "to_model_tensor",
    "train_encoder",
]
