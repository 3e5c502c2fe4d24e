"""``uunet up`` keeps every listener on loopback, as the README says: the TCP sockets in LISTEN state
held by ``uunet up`` and its descendants (Redis, S3, both APIs, both workers' metrics) are read from
/proc (Linux) and each must be bound to 127.0.0.1 (or ::1, or its IPv4-mapped form)."""

from __future__ import annotations

import ipaddress
import json
import os
import sys
import time
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc"),
]


def _children() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except OSError:  # the process ended meanwhile
                continue
            kids.setdefault(ppid, []).append(int(entry.name))
    return kids


def descendants(root: int) -> list[int]:
    """``root`` and every process below it."""
    kids, found, todo = _children(), [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo += kids.get(pid, [])
    return found


def socket_inodes(pid: int) -> set[int]:
    """Inodes of the sockets a process holds open."""
    inodes = set()
    try:
        fds = list(Path(f"/proc/{pid}/fd").iterdir())
    except OSError:
        return inodes
    for fd in fds:
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(int(target[8:-1]))
    return inodes


def listening() -> dict[int, tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, int]]:
    """inode -> (address, port) of every TCP socket in LISTEN state on this host."""
    found: dict[int, tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, int]] = {}
    for table in ("tcp", "tcp6"):
        for row in Path(f"/proc/net/{table}").read_text().splitlines()[1:]:
            fields = row.split()
            if fields[3] != "0A":  # TCP_LISTEN
                continue
            hex_ip, hex_port = fields[1].split(":")
            raw = bytes.fromhex(hex_ip)  # 32-bit words in host (little-endian) order
            words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
            address = ipaddress.ip_address(words)
            found[int(fields[9])] = (address, int(hex_port, 16))
    return found


def is_loopback(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    mapped = getattr(address, "ipv4_mapped", None)
    return bool((mapped or address).is_loopback)


def _up_pid(state_dir: str) -> int:
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                argv = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"up" in argv and state_dir.encode() in argv:
                return int(entry.name)
    raise AssertionError(f"no `uunet up` process for {state_dir}")


def _held(root: int) -> dict[int, list[tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, int]]]:
    """pid -> the (address, port) each process under ``root`` listens on."""
    table = listening()
    return {
        pid: [table[inode] for inode in socket_inodes(pid) if inode in table]
        for pid in descendants(root)
    }


def _is_worker(pid: int) -> bool:
    try:
        return b"worker" in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False


def test_every_listener_of_the_stack_is_on_loopback(stack: dict[str, str]) -> None:
    root = _up_pid(stack["state_dir"])
    deadline = time.monotonic() + 180
    while True:  # workers open their metrics port only once their model is loaded
        held = _held(root)
        workers = [pid for pid in held if _is_worker(pid)]
        if len(workers) == 2 and all(held[pid] for pid in workers):
            break
        assert time.monotonic() < deadline, f"workers without a metrics listener: {held}"
        time.sleep(0.5)
    outside = [
        (pid, f"{a}:{p}") for pid, bound in held.items() for a, p in bound if not is_loopback(a)
    ]
    assert outside == [], f"listening outside loopback (pid, address): {outside}"
    ports = {port for bound in held.values() for _, port in bound}
    info = json.loads((Path(stack["state_dir"]) / "dev.json").read_text())
    apis = {int(info[k].rsplit(":", 1)[1]) for k in ("public_url", "private_url")}
    assert apis <= ports and len(ports) >= 8, sorted(ports)  # REST, gRPC, metrics, Redis, S3
