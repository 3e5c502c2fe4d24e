"""Audio kept beside the video: the source's first audio track re-encoded to AAC, and a record of
what happened to it, so a requested track is never dropped without saying so."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av

log = logging.getLogger(__name__)


@dataclass
class AudioResult:
    """What became of the audio a caller asked to keep."""

    requested: bool = False
    present: bool = False  # the input has an audio track
    frames: int = 0  # audio frames written to the output
    skipped: int = 0  # packets that could not be decoded and were left out
    error: str | None = None  # why the audio stopped (None: it went to the end)

    @property
    def kept(self) -> bool:
        """The output carries an audio track."""
        return self.frames > 0

    def summary(self) -> str:
        """One phrase for the user ("" when no audio was asked for)."""
        if not self.requested:
            return ""
        if not self.present:
            return "no audio: the input has no audio track"
        if not self.kept:
            return f"audio dropped: {self.error or 'no decodable audio'}"
        notes = [f"{self.skipped} damaged packet(s) left out"] if self.skipped else []
        if self.error:
            notes.append(f"stopped early: {self.error}")
        return "audio kept (AAC)" + (f", {'; '.join(notes)}" if notes else "")


class AudioCopier:
    """Re-encodes the source's first audio track to AAC, interleaved as the video advances.

    Decoding goes packet by packet so one damaged packet costs that packet, not the whole track;
    anything else that stops the audio is recorded in ``result`` and the video carries on.
    """

    def __init__(self, source: Path, out: Any, bitrate: int, result: AudioResult) -> None:
        self.result, self._out = result, out
        self._src = av.open(str(source), metadata_errors="ignore")
        try:
            self._in = self._src.streams.audio[0]
            # The first decodable frame, not the container header, says what the AAC stream needs
            # (a header can lack the rate or layout); no decodable frame means no audio stream.
            decoded = self._decoded()
            first = next(decoded, None)
            if first is None:
                raise ValueError("no packet of the audio track could be decoded")
            self._stream = out.add_stream("aac", rate=first.sample_rate)
            self._stream.bit_rate = bitrate
            if first.layout.nb_channels <= 2:
                self._stream.layout = first.layout.name
        except BaseException:
            self._src.close()
            raise
        self._frames: Iterator[Any] | None = itertools.chain([first], decoded)

    def _decoded(self) -> Iterator[Any]:
        for packet in self._src.demux(self._in):
            try:
                frames = packet.decode()
            except (av.FFmpegError, ValueError) as err:
                self.result.skipped += 1
                log.debug("audio packet skipped: %s", err)
                continue
            yield from frames

    def advance(self, until_s: float) -> None:
        """Mux source audio up to ``until_s`` seconds (``inf`` drains it)."""
        while self._frames is not None:
            try:
                frame = next(self._frames)
                t = float(frame.time) if frame.time is not None else 0.0
                frame.pts = None  # the encoder lays out a contiguous timeline from 0
                for packet in self._stream.encode(frame):
                    self._out.mux(packet)
            except StopIteration:
                self._frames = None
                break
            except (av.FFmpegError, ValueError) as err:  # keep the video, say why audio stopped
                log.info("audio stopped: %s", err)  # the caller reports it (summary, manifest)
                self.result.error = str(err)
                self._frames = None
                break
            self.result.frames += 1
            if t >= until_s:
                break

    def close(self) -> None:
        """Drain the audio, flush the encoder, close the source."""
        self.advance(float("inf"))
        try:
            for packet in self._stream.encode(None):
                self._out.mux(packet)
        except (av.FFmpegError, ValueError) as err:
            self.result.error = self.result.error or str(err)
        self._src.close()


def open_copier(source: Path, out: Any, bitrate: int, result: AudioResult) -> AudioCopier | None:
    """An AudioCopier, or None (with ``result.error`` set) when the source's audio cannot be read."""
    try:
        return AudioCopier(source, out, bitrate, result)
    except (av.FFmpegError, ValueError, IndexError) as err:
        log.info("audio not kept: %s", err)
        result.error = str(err)
        return None
