"""``uunet up``: the whole stack on one machine, no Docker (real Redis, real S3, both services)."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from shared.domain.errors import ConfigError
from uunet_cli.stackready import wait_ready

if TYPE_CHECKING:
    from shared.devstack.stack import DevStack


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "up",
        help="run redis-server, S3, both APIs (REST+gRPC) and their workers on 127.0.0.1",
        description="Run the whole stack on this machine, every listener on 127.0.0.1, until "
        "Ctrl-C or SIGTERM; DIR/dev.json says where everything is once it is ready. A process "
        "that exits is restarted with backoff; the stack stops early only when one process "
        "crashes (exits within 5 s of starting) 5 times in a minute. Every process it starts "
        "dies with it, even if it is killed by SIGKILL.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--dev", action="store_true",
                   help="dev profile: make and reuse dev secrets; server data fresh each start")  # fmt: skip
    p.add_argument("--wait-ready", action="store_true",
                   help="start nothing: wait until the stack another `uunet up` runs in "
                   "--state-dir is ready, then exit (0 ready, 2 not ready within --timeout)")  # fmt: skip
    p.add_argument(
        "--state-dir", type=Path, default=Path(".uunet-dev"), help="secrets, logs, dev.json"
    )
    p.add_argument("--data-dir", type=Path, default=None,
                   help="keep Redis (AOF) and S3 data here across restarts (a small one-machine "
                   "deployment: queued jobs and results survive); also holds secrets and logs, "
                   "instead of --state-dir")  # fmt: skip
    p.add_argument("--device", default="cpu", help="torch device of the workers")
    p.add_argument("--checkpoint", type=Path, default=None, help="weights (default: shipped)")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for readiness")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.wait_ready:
        where = args.data_dir or args.state_dir
        wait_ready(where, args.timeout)
        print(f"uunet up: the stack in {where} is ready", file=sys.stderr)
        return 0
    from uunet_cli.devsecrets import prepare_secrets

    if not args.dev and args.data_dir is None:
        raise ConfigError(
            "pass --dev (throwaway data) or --data-dir DIR (data kept across restarts); "
            "multi-host production: see DEPLOY.md"
        )
    state_dir = args.data_dir or args.state_dir
    stop = _stop_on_signals()
    stack = _make_stack(args, state_dir)
    try:
        info = stack.start(prepare_secrets(state_dir, args.checkpoint))
        _print_ready(state_dir, info, persistent=args.data_dir is not None)
        while not stop.wait(0.5):
            stack.supervise()  # restarts what exited; raises when one keeps crashing
    finally:
        stack.stop()
    print("uunet up: stopped", file=sys.stderr)
    return 0


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, on_signal)
    return stop


def _make_stack(args: argparse.Namespace, state_dir: Path) -> DevStack:
    from shared.devstack.stack import DevStack

    def report(line: str) -> None:
        print(f"uunet up: {line}", file=sys.stderr, flush=True)

    return DevStack(
        state_dir,
        args.device,
        args.timeout,
        persistent=args.data_dir is not None,
        report=report,
    )


def _print_ready(state_dir: Path, info: dict[str, str], persistent: bool) -> None:
    print(f"uunet up: ready; wrote {state_dir / 'dev.json'}", file=sys.stderr)
    for name in ("public_url", "private_url", "public_grpc", "private_grpc"):
        print(f"  {name:12s} {info[name]}", file=sys.stderr)
    if persistent:
        print(f"  data kept in {state_dir} (Redis AOF, S3)", file=sys.stderr)
    print("  Ctrl-C stops everything", file=sys.stderr, flush=True)
