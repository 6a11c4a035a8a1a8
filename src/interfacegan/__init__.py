"""interfacegan: find the semantics a GAN learned in its latent space and edit images with them.

The Python API is the product; the command line (`interfacegan ...`) is a thin layer over it. The library logs
through the `interfacegan` logger hierarchy (`logging`); it shows nothing until the application configures
logging (the CLI does, `-v` for INFO).
"""

import logging

__version__ = "0.1.0"
DEFAULT_MODEL = "dcgan-digiface"  # the embedded face GAN: what the API and the commands use when no model is named

from interfacegan.errors import InterfaceGANError

logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = ["DEFAULT_MODEL", "InterfaceGANError", "__version__"]
