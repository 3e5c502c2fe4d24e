"""``uunet up``: the whole stack on one machine, no Docker (real Redis, real S3, both services)."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from shared.domain.errors import ConfigError
from uunet_cli.stackready import wait_ready


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "up",
        help="run redis-server, S3, both APIs (REST+gRPC) and their workers on 127.0.0.1",
        description="Run the whole stack on this machine, every listener on 127.0.0.1, until "
        "Ctrl-C or SIGTERM; DIR/dev.json says where everything is once it is ready.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--dev", action="store_true", help="dev profile: make and reuse dev secrets")
    p.add_argument("--wait-ready", action="store_true",
                   help="start nothing: wait until the stack another `uunet up` runs in "
                   "--state-dir is ready, then exit (0 ready, 2 not ready within --timeout)")  # fmt: skip
    p.add_argument(
        "--state-dir", type=Path, default=Path(".uunet-dev"), help="secrets, logs, dev.json"
    )
    p.add_argument("--device", default="cpu", help="torch device of the workers")
    p.add_argument("--checkpoint", type=Path, default=None, help="weights (default: shipped)")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for readiness")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.wait_ready:
        wait_ready(args.state_dir, args.timeout)
        print(f"uunet up: the stack in {args.state_dir} is ready", file=sys.stderr)
        return 0
    from shared.devstack.stack import DevStack
    from uunet_cli.devsecrets import prepare_secrets

    if not args.dev:
        raise ConfigError("only the dev profile runs here: pass --dev (production: see DEPLOY.md)")
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, on_signal)
    stack = DevStack(args.state_dir, args.device, args.checkpoint, args.timeout)
    try:
        info = stack.start(prepare_secrets(args.state_dir, args.checkpoint))
        print(f"uunet up: ready; wrote {args.state_dir / 'dev.json'}", file=sys.stderr)
        for name in ("public_url", "private_url", "public_grpc", "private_grpc"):
            print(f"  {name:12s} {info[name]}", file=sys.stderr)
        print("  Ctrl-C stops everything", file=sys.stderr)
        while not stop.wait(1.0):
            dead = stack.first_dead()
            if dead:
                raise ConfigError(f"{dead} exited; see {stack.log_dir}")
    finally:
        stack.stop()
    print("uunet up: stopped", file=sys.stderr)
    return 0
