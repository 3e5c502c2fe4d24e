"""The UU-Net model: config, generator, critic, recogniser, keyed noise, checkpoints and inference.

Import the submodules directly (``from shared.model.inference import UUNetEngine``); this package
file stays torch-free so light importers (the CLI's --help) remain fast.
"""

from shared.model.config import ATTRIBUTES, TRAITS, ModelConfig

__all__ = ["ATTRIBUTES", "TRAITS", "ModelConfig"]
