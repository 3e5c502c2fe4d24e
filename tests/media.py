"""Clips in the containers users bring (AVI with AC3 audio), optionally with damaged audio packets."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np

from shared.video.synthetic import SceneSpec, render

RATE = 48_000
AC3_FRAME = 1536  # samples per AC3 frame


def _ac3_packets(stream: av.AudioStream, seconds: float) -> list[av.Packet]:
    t = np.arange(int(RATE * seconds), dtype=np.float32) / RATE
    tone = (0.2 * np.sin(2 * np.pi * 440.0 * t)).astype(np.float32)
    packets: list[av.Packet] = []
    for start in range(0, len(tone), AC3_FRAME):
        chunk = np.ascontiguousarray(np.tile(tone[start : start + AC3_FRAME], (2, 1)))  # [2, n]
        frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="stereo")
        frame.sample_rate, frame.pts = RATE, start
        packets += stream.encode(frame)
    return packets + list(stream.encode(None))


def _garbage(packet: av.Packet, stream: av.AudioStream, rng: np.random.Generator) -> av.Packet:
    bad = av.Packet(rng.integers(0, 256, packet.size, dtype=np.uint8).tobytes())
    bad.pts, bad.dts, bad.time_base, bad.stream = packet.pts, packet.dts, packet.time_base, stream
    return bad


def write_avi_ac3(path: Path, spec: SceneSpec, damage_every: int = 0) -> None:
    """MPEG-4 video + stereo AC3 audio in AVI; every ``damage_every``-th audio packet is random
    bytes (1: all of them, 0: none)."""
    out = av.open(str(path), mode="w", format="avi")
    video = out.add_stream("mpeg4", rate=spec.fps)
    video.width, video.height, video.pix_fmt = spec.width, spec.height, "yuv420p"
    audio = out.add_stream("ac3", rate=RATE)
    audio.layout = "stereo"
    packets = _ac3_packets(audio, spec.frames / float(spec.fps))
    rng = np.random.default_rng(0)
    if damage_every:
        packets = [
            _garbage(p, audio, rng) if i % damage_every == damage_every - 1 else p
            for i, p in enumerate(packets)
        ]
    for i, (rgb, _) in enumerate(render(spec)):
        frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
        frame.pts = i
        for packet in video.encode(frame):
            out.mux(packet)
    for packet in video.encode(None):
        out.mux(packet)
    for packet in packets:
        out.mux(packet)
    out.close()
