"""The plaintext inside a sealed payload: typed records, written and read as one stream.

    plaintext = b"UUSP" || version u8 || record*
    record    = tag (4 ASCII bytes) || body_len u32 || body          (integers big-endian)

- ``ORIG`` a piece of the original input file, in order (the ``original`` seal kind)
- ``OEND`` end of the original: SHA-256 (32) || size u64
- ``SBEG``/``SREG``/``SPKT``/``SEND`` the face regions as H.264 segments per track run
  (``shared.pipeline.sealed_regions``): version 3 codes each face box exactly and the margin
  around it lossily; version 2 coded whole crop squares exactly (still read)

Payloads from the first release hold one PNG record per face per frame (``b"FACE"`` first); they
are recognised by that prefix and still open (``legacy_records``). The payload is encrypted by
``shared.crypto.seal`` as it is written, so nothing here is ever held whole in memory.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO, Protocol

from shared.domain.errors import TamperedError

MAGIC = b"UUSP"
VERSION = 3
READABLE = (2, 3)  # version 2: whole squares in exact segments, the same records
LEGACY_MAGIC = b"FACE"
_HEAD = struct.Struct(">4sI")
_OEND = struct.Struct(">32sQ")
_PIECE = 1 << 20
MAX_BODY = 64 << 20  # no record is this large; a larger length means a damaged payload
Record = tuple[bytes, bytes]  # (tag, body)


class Sink(Protocol):
    """Where plaintext goes (``shared.crypto.seal.SealWriter``)."""

    def write(self, data: bytes) -> None: ...


class RecordWriter:
    """Frames records into the encrypting writer; the first write also writes the header."""

    def __init__(self, sink: Sink) -> None:
        self._sink = sink
        sink.write(MAGIC + bytes([VERSION]))

    def write(self, tag: bytes, body: bytes) -> None:
        """Append one record."""
        self._sink.write(_HEAD.pack(tag, len(body)) + body)


def read_records(chunks: Iterable[bytes]) -> tuple[bool, Iterator[Record]]:
    """``(legacy, records)`` from decrypted chunks; legacy payloads yield one ``(b"", all)``."""
    it = iter(chunks)
    buf = bytearray()
    for chunk in it:
        buf += chunk
        if len(buf) >= 5:
            break
    if not buf or bytes(buf[:4]) == LEGACY_MAGIC:  # an empty first-release payload: no faces
        return True, _legacy(bytes(buf), it)
    if bytes(buf[:4]) != MAGIC or len(buf) < 5:
        raise TamperedError("sealed payload is not in a known format")
    if buf[4] not in READABLE:
        raise TamperedError(f"sealed payload version {buf[4]} is not supported")
    return False, _records(buf[5:], it)


def _legacy(first: bytes, rest: Iterator[bytes]) -> Iterator[Record]:
    yield b"", first
    for chunk in rest:
        yield b"", chunk


def _records(buf: bytearray, rest: Iterator[bytes]) -> Iterator[Record]:
    while True:
        while len(buf) >= _HEAD.size:
            tag, n = _HEAD.unpack_from(buf)
            if n > MAX_BODY:
                raise TamperedError("sealed payload record is damaged")
            if len(buf) < _HEAD.size + n:
                break
            body = bytes(buf[_HEAD.size : _HEAD.size + n])
            del buf[: _HEAD.size + n]
            yield tag, body
        chunk = next(rest, None)
        if chunk is None:
            break
        buf += chunk
    if buf:
        raise TamperedError("sealed payload ends in the middle of a record")


def write_original(out: RecordWriter, path: Path) -> tuple[str, int]:
    """Seal the file at ``path`` byte for byte; returns its SHA-256 (hex) and size."""
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as fh:
        while piece := fh.read(_PIECE):
            digest.update(piece)
            size += len(piece)
            out.write(b"ORIG", piece)
    out.write(b"OEND", _OEND.pack(digest.digest(), size))
    return digest.hexdigest(), size


def copy_original(records: Iterable[Record], dst: BinaryIO) -> tuple[str, int]:
    """Write the sealed original to ``dst``; returns (SHA-256 hex, size) as recorded, checked."""
    digest, size = hashlib.sha256(), 0
    for tag, body in records:
        if tag == b"ORIG":
            digest.update(body)
            size += len(body)
            dst.write(body)
        elif tag == b"OEND":
            want, want_size = _OEND.unpack(body)
            if want != digest.digest() or want_size != size:
                raise TamperedError("the sealed original does not match its recorded hash")
            return digest.hexdigest(), size
    raise TamperedError("this clip's seal holds no original file")
