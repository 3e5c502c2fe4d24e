"""Subcommands. Every module here exposes ``register(subparsers)``; ``main`` discovers them.

Keep heavy imports (torch, av) inside the handlers so ``uunet --help`` stays fast.
"""
