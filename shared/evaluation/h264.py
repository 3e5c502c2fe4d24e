"""A real H.264 round trip (PyAV / libx264, yuv420p) of a sequence of crops, in memory."""

from __future__ import annotations

import io

import numpy as np

from shared.domain.errors import BadInputError


def h264_round_trip(frames: list[np.ndarray], crf: int = 23, fps: int = 25) -> list[np.ndarray]:
    """Encode uint8 RGB HxWx3 frames (even H, W) as one H.264 clip at ``crf``, decode, return them."""
    import av

    if not frames:
        return []
    h, w, _ = frames[0].shape
    if h % 2 or w % 2:
        raise BadInputError(f"H.264 yuv420p needs even frame sizes, got {w}x{h}")
    buf = io.BytesIO()
    with av.open(buf, mode="w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.options = {"crf": str(crf), "preset": "medium"}
        for img in frames:
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24")
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    buf.seek(0)
    decoded: list[np.ndarray] = []
    with av.open(buf, mode="r") as inp:
        for frame in inp.decode(video=0):
            decoded.append(frame.to_ndarray(format="rgb24"))
    if len(decoded) != len(frames):
        raise BadInputError(f"H.264 round trip returned {len(decoded)} of {len(frames)} frames")
    return decoded
