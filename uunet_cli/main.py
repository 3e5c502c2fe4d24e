"""Entry point of the ``uunet`` console script."""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys
from collections.abc import Callable, Sequence

from shared.domain.errors import UUNetError
from uunet_cli import commands

Handler = Callable[[argparse.Namespace], int]


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """States each default once: not for flags or unset values, nor where the help gives it."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        unset = (
            default is None or default is False or (isinstance(default, str | list) and not default)
        )
        if unset or "(default" in text:
            return text
        return super()._get_help_string(action)


def _finish(parser: argparse.ArgumentParser) -> None:
    """One help style for every (sub)command; a command without a description gets its help line."""
    parser.formatter_class = HelpFormatter
    for action in parser._actions:
        if not isinstance(action, argparse._SubParsersAction):
            continue
        lines = {choice.dest: choice.help or "" for choice in action._choices_actions}
        for name, child in action.choices.items():
            if child.description is None and lines.get(name):
                child.description = lines[name][0].upper() + lines[name][1:] + "."
            _finish(child)


def build_parser() -> argparse.ArgumentParser:
    """The parser with every subcommand module in ``uunet_cli.commands`` registered."""
    parser = argparse.ArgumentParser(
        prog="uunet",
        description="Reversible face de-identification for surveillance video (UU-Net).",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug detail to stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        module.register(sub)
    _finish(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse, run one handler, and turn domain errors into a one-line message and exit code 2."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    handler: Handler = args.handler
    try:
        return handler(args)
    except UUNetError as err:
        print(f"uunet {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"uunet {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
