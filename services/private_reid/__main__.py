"""``python -m services.private_reid api|worker``: run one process of the private service."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from pydantic import ValidationError

from services.common.serve import serve_until_signalled
from services.common.worker import run_worker
from services.private_reid import bootstrap
from services.private_reid.settings import PrivateSettings
from shared.domain.errors import UUNetError


async def _api(settings: PrivateSettings) -> None:
    verify = bootstrap.clip_verifier(settings)  # key set first: fail fast before binding ports
    adapters = bootstrap.real_adapters(settings, anchor=True)
    await adapters.start()
    await serve_until_signalled(bootstrap.build_api(settings, adapters, verify))


async def _worker(settings: PrivateSettings) -> None:
    reidentify = bootstrap.load_reidentify(settings)  # decrypt the private module before any job
    adapters = bootstrap.real_adapters(settings)
    await adapters.start()
    await run_worker(bootstrap.build_worker(settings, adapters, reidentify, settings.metrics_port))


def main(argv: list[str] | None = None) -> int:
    """Parse the role, read settings from the environment, run until SIGINT/SIGTERM."""
    parser = argparse.ArgumentParser(prog="python -m services.private_reid")
    parser.add_argument("role", choices=("api", "worker"))
    args = parser.parse_args(argv)
    try:
        settings = PrivateSettings()
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(map(str, first["loc"]))
        print(f"private_reid: error: {first['msg']} ({where})", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        asyncio.run(_api(settings) if args.role == "api" else _worker(settings))
    except UUNetError as err:  # ConfigError, WrongKeyError (weights key), TamperedError (weights)
        print(f"private_reid {args.role}: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
