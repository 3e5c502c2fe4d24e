"""``python -m services.public_deid api|worker``: run one process of the public service."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from pydantic import ValidationError

from services.common.serve import serve_until_signalled
from services.common.worker import run_worker
from services.public_deid import bootstrap
from services.public_deid.settings import PublicSettings
from shared.domain.errors import ConfigError


async def _api(settings: PublicSettings) -> None:
    adapters = bootstrap.real_adapters(settings)
    await adapters.start()
    probe = bootstrap.default_probe(settings)
    await serve_until_signalled(bootstrap.build_api(settings, adapters, probe))


async def _worker(settings: PublicSettings) -> None:
    deidentify = bootstrap.load_deidentify(settings)  # load the model before taking jobs
    adapters = bootstrap.real_adapters(settings)
    await adapters.start()
    await run_worker(bootstrap.build_worker(settings, adapters, deidentify, settings.metrics_port))


def main(argv: list[str] | None = None) -> int:
    """Parse the role, read settings from the environment, run until SIGINT/SIGTERM."""
    parser = argparse.ArgumentParser(prog="python -m services.public_deid")
    parser.add_argument("role", choices=("api", "worker"))
    args = parser.parse_args(argv)
    try:
        settings = PublicSettings()
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(map(str, first["loc"]))
        reason = str(first["msg"]).removeprefix("Value error, ")
        print(f"public_deid: error: {reason}{f' ({where})' if where else ''}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        asyncio.run(_api(settings) if args.role == "api" else _worker(settings))
    except ConfigError as err:
        print(f"public_deid {args.role}: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
