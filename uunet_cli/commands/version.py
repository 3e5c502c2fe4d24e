"""``uunet version``: print the package version."""

from __future__ import annotations

import argparse

import shared


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("version", help="print the version and exit")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    print(shared.__version__)
    return 0
