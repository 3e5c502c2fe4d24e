"""Video pipeline stages: decode -> detect -> track -> crop -> (model) -> paste -> encode.

Each stage is a small typed module; ``shared.pipeline`` composes them with the model and the crypto.
Heavy imports (av, cv2, torch) live in the stage modules, so importing this package stays cheap.
"""

from shared.video.types import EncodeOptions, FaceBox, FrameBatch, Limits, Track, VideoInfo

__all__ = ["EncodeOptions", "FaceBox", "FrameBatch", "Limits", "Track", "VideoInfo"]
