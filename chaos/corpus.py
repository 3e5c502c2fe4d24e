"""A generated corpus of malformed and hostile inputs for both services (>= 50 files).

Public-side inputs (sent to ``uunet deid``, ``POST /v1/clips``, ``UploadClip``): empty, truncated at
many points, bit flips in the header boxes and in the payload, random bytes with video extensions,
images, audio only, huge or absurd dimensions, durations and frame rates in the header, many
streams, a 10,000-frame 16x16 clip, a stream whose frame size changes midway, and a clip that is
already de-identified. Private-side inputs (``uunet reid``, ``POST /v1/reconstructions``,
``SubmitReconstruction``): a public clip with its manifest box removed, duplicated, cut or edited,
its stream edited, one signed by another key set, and plain non-public files.

Every file is made here, at run time, from a small synthetic clip with real faces
(``shared.video.synthetic``); ``public_clip`` (a de-identified clip of the deployment under test)
is needed for the private-side and "already de-identified" inputs.
"""

from __future__ import annotations

import io
import random
import struct
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

PUBLIC, PRIVATE = "public", "private"


@dataclass(frozen=True)
class BadInput:
    """One corpus file and the side (door) it is aimed at."""

    name: str
    path: Path
    side: str = PUBLIC


def _flip(data: bytes, offset: int, mask: int = 0x10) -> bytes:
    out = bytearray(data)
    out[offset % len(out)] ^= mask
    return bytes(out)


def _patch(data: bytes, offset: int, value: bytes) -> bytes:
    return data[:offset] + value + data[offset + len(value) :]


def _tag(data: bytes, fourcc: bytes) -> int:
    """Offset of the first box type ``fourcc`` (its size field is 4 bytes before)."""
    at = data.find(fourcc)
    if at < 4:
        raise ValueError(f"no {fourcc!r} box in the base clip")
    return at


def _write_frames(
    path: Path, size: tuple[int, int], frames: int, rate: Fraction, fmt: str | None = None
) -> Path:
    """A plain H.264 clip of moving noise (``fmt`` forces the container, e.g. mpegts)."""
    rng = np.random.default_rng(1)
    with av.open(str(path), "w", format=fmt) as out:
        stream = out.add_stream("libx264", rate=rate)
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
        stream.options = {"preset": "ultrafast"}
        for _ in range(frames):
            img = rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


def _many_streams(path: Path, n: int = 12) -> Path:
    with av.open(str(path), "w", format="matroska") as out:
        streams = []
        for _ in range(n):
            s = out.add_stream("mpeg4", rate=25)
            s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
            streams.append(s)
        img = np.zeros((48, 64, 3), np.uint8)
        for s in streams:
            for _ in range(3):
                for packet in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                    out.mux(packet)
            for packet in s.encode(None):
                out.mux(packet)
    return path


def _image(path: Path, codec: str) -> Path:
    with av.open(str(path), "w", format="image2") as out:
        s = out.add_stream(codec, rate=1)
        s.width, s.height = 64, 64
        s.pix_fmt = "rgb24" if codec == "png" else "yuvj420p"
        frame = av.VideoFrame.from_ndarray(np.full((64, 64, 3), 128, np.uint8), format="rgb24")
        for packet in s.encode(frame):
            out.mux(packet)
        for packet in s.encode(None):
            out.mux(packet)
    return path


def _audio_only(path: Path) -> Path:
    with av.open(str(path), "w", format="mp4") as out:
        s = out.add_stream("aac", rate=48000)
        for _ in range(20):
            frame = av.AudioFrame.from_ndarray(
                np.zeros((1, 1024), np.float32), format="flt", layout="mono"
            )
            frame.sample_rate = 48000
            for packet in s.encode(frame):
                out.mux(packet)
        for packet in s.encode(None):
            out.mux(packet)
    return path


def _header_variants(clip: bytes) -> dict[str, bytes]:
    """Bit flips and absurd values in the MP4 header boxes (ISO-BMFF, version-0 layouts)."""
    mvhd, mdhd, tkhd = _tag(clip, b"mvhd"), _tag(clip, b"mdhd"), _tag(clip, b"tkhd")
    avc1, moov = _tag(clip, b"avc1"), _tag(clip, b"moov")
    big = struct.pack(">HH", 0xFFFF, 0)
    return {
        "header-flip-ftyp-size": _flip(clip, 3, 0x40),
        "header-flip-ftyp-tag": _flip(clip, 4, 0x01),
        "header-flip-moov-size": _flip(clip, moov - 2, 0x08),
        "header-flip-moov-tag": _flip(clip, moov, 0x01),
        "header-flip-mvhd-timescale": _flip(clip, mvhd + 18, 0x80),
        "header-flip-avcc-sps": _flip(clip, _tag(clip, b"avcC") + 12, 0x21),
        "header-flip-stsz": _flip(clip, _tag(clip, b"stsz") + 14, 0x7F),
        "header-flip-stco": _flip(clip, _tag(clip, b"stco") + 14, 0x7F),
        "header-huge-dimensions": _patch(
            _patch(clip, tkhd + 80, big + big), avc1 + 28, struct.pack(">HH", 65535, 65535)
        ),
        "header-absurd-duration": _patch(clip, mvhd + 20, b"\xff\xff\xff\xff"),
        "header-media-timescale-1": _patch(clip, mdhd + 16, struct.pack(">I", 1)),
        "header-media-timescale-0": _patch(clip, mdhd + 16, struct.pack(">I", 0)),
        "header-absurd-frame-rate": _patch(clip, mdhd + 16, struct.pack(">I", 0x7FFFFFFF)),
        "header-box-largesize-loop": _patch(clip, 0, struct.pack(">I", 1)),
    }


def _payload_variants(clip: bytes) -> dict[str, bytes]:
    """Damage inside ``mdat`` (the coded frames)."""
    start = _tag(clip, b"mdat") + 4
    span = len(clip) - start if clip.find(b"moov") < start else _mdat_len(clip, start)
    at = [start + int(span * f) for f in (0.1, 0.3, 0.5, 0.7, 0.9)]
    rng = random.Random(5)
    burst = bytes(rng.randrange(256) for _ in range(64))
    every = bytearray(clip)
    for i in range(start, start + span, 997):
        every[i] ^= 0x55
    out = {
        f"payload-flip-{int(f * 100)}pct": _flip(clip, a)
        for f, a in zip((0.1, 0.3, 0.5, 0.7, 0.9), at, strict=True)
    }
    out["payload-random-burst"] = _patch(clip, at[2], burst)
    out["payload-zeroed-4k"] = _patch(clip, at[1], bytes(min(4096, span // 4)))
    out["payload-flip-every-997th"] = bytes(every)
    return out


def _mdat_len(clip: bytes, start: int) -> int:
    return int(struct.unpack(">I", clip[start - 8 : start - 4])[0]) - 8


def _truncations(clip: bytes) -> dict[str, bytes]:
    cuts = [1, 8, 32, 100, 512]
    out = {f"truncated-at-{n}-bytes": clip[:n] for n in cuts}
    for pct in (10, 25, 50, 75, 90, 99):
        out[f"truncated-at-{pct}pct"] = clip[: len(clip) * pct // 100]
    return out


def _box_end(data: bytes, tag_offset: int) -> int:
    return tag_offset - 4 + int(struct.unpack(">I", data[tag_offset - 4 : tag_offset])[0])


def _private_variants(public: bytes, other_key_clip: bytes | None) -> dict[str, bytes]:
    """A de-identified clip with its manifest box (the last top-level uuid box) damaged."""
    box = public.rfind(b"uuid")
    end = _box_end(public, box)
    body, manifest_box = public[: box - 4], public[box - 4 : end]
    mdat = _tag(public, b"mdat")
    out = {
        "manifest-box-removed": body,
        "manifest-box-duplicated": public + manifest_box,
        "manifest-box-cut-short": public[: end - 100],
        "manifest-json-edited": _flip(public, box + 4 + 16 + 8 + 4 + 10, 0x01),
        "manifest-signature-flipped": _flip(public, public.find(b"}", box) + 5, 0x01),
        "public-stream-edited": _flip(public, mdat + 200, 0x01),
        "public-random-bytes": bytes(random.Random(11).randrange(256) for _ in range(20_000)),
        "public-empty": b"",
    }
    if other_key_clip is not None:
        out["signed-by-another-key-set"] = other_key_clip
    return out


def build(
    out: Path,
    public_clip: Path | None = None,
    other_key_clip: Path | None = None,
    long_clip: bool = True,
) -> list[BadInput]:
    """Write the corpus under ``out``; private-side inputs only when ``public_clip`` is given."""
    from shared.video.synthetic import SceneSpec, write_clip

    out.mkdir(parents=True, exist_ok=True)
    base_path = out / "base.mp4"
    write_clip(base_path, SceneSpec(width=160, height=120, frames=24, face_px=(40, 50), seed=9))
    clip = base_path.read_bytes()
    items: list[BadInput] = []

    def add(name: str, data: bytes, ext: str = "mp4", side: str = PUBLIC) -> None:
        path = out / f"{name}.{ext}"
        path.write_bytes(data)
        items.append(BadInput(name, path, side))

    def make(name: str, writer: Callable[[Path], Path], ext: str = "mp4") -> None:
        items.append(BadInput(name, writer(out / f"{name}.{ext}")))

    add("zero-byte", b"")
    for name, data in {
        **_truncations(clip),
        **_header_variants(clip),
        **_payload_variants(clip),
    }.items():
        add(name, data)
    rng = random.Random(3)
    for ext in ("mp4", "mkv", "avi", "mov"):
        add(f"random-bytes-{ext}", bytes(rng.randrange(256) for _ in range(50_000)), ext)
    add("text-as-mp4", b"this is not a video, it is a note\n" * 100)
    add("gzip-as-mp4", _gzip(clip))
    add("only-ftyp-box", clip[: _box_end(clip, 4)])
    make("image-png", lambda p: _image(p, "png"), "png")
    make("image-jpeg", lambda p: _image(p, "mjpeg"), "jpg")
    make("audio-only", lambda p: _audio_only(p), "m4a")
    make("over-limit-width-4104", lambda p: _write_frames(p, (4104, 16), 3, Fraction(25)))
    make("absurd-duration-5000s", lambda p: _write_frames(p, (64, 48), 5, Fraction(1, 1000)))
    make("absurd-frame-rate-120000", lambda p: _write_frames(p, (64, 48), 30, Fraction(120000)))
    make("many-streams-12", _many_streams, "mkv")
    if long_clip:
        make("10000-frames-16x16", lambda p: _write_frames(p, (16, 16), 10_000, Fraction(25)))
    make("size-changes-midstream", _size_change, "ts")
    if public_clip is not None:
        public = public_clip.read_bytes()
        add("already-de-identified", public)
        other = other_key_clip.read_bytes() if other_key_clip else None
        for name, data in _private_variants(public, other).items():
            add(name, data, side=PRIVATE)
        add("original-not-public", clip, side=PRIVATE)
    base_path.unlink()
    return items


def _gzip(data: bytes) -> bytes:
    import gzip

    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb") as gz:
        gz.write(data)
    return buf.getvalue()


def _size_change(path: Path) -> Path:
    """Two MPEG-TS clips of different frame sizes, back to back (TS concatenates byte-wise)."""
    a = _write_frames(path.with_name("part-a.ts"), (160, 120), 12, Fraction(25), "mpegts")
    b = _write_frames(path.with_name("part-b.ts"), (320, 240), 12, Fraction(25), "mpegts")
    path.write_bytes(a.read_bytes() + b.read_bytes())
    a.unlink()
    b.unlink()
    return path
