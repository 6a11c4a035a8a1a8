"""interfacegan: find the semantics a GAN learned in its latent space and edit images with them.

The Python API is the product; the command line (`interfacegan ...`) is a thin layer over it.
"""

__version__ = "0.1.0"
DEFAULT_MODEL = "dcgan-digiface"  # the embedded face GAN: what the API and the commands use when no model is named

from interfacegan.errors import InterfaceGANError

__all__ = ["InterfaceGANError", "__version__"]
