"""``uunet audit verify|export|head``: check the private service's audit log, or export it.

``verify`` checks the hash chain, every entry's MAC under the audit key, and (with ``--env``) that
the log still holds every head anchored in the object-locked bucket, so neither a re-chained nor a
truncated log passes. ``--env`` reads Redis, the key and the anchor bucket from the private
service's own ``UUNET_PRIVATE_*`` settings (run it where the service runs, or pass ``--env-file``).
"""

from __future__ import annotations

import argparse
import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shared.domain.errors import BadInputError, ConfigError
from shared.ports import AuditAnchor

DEFAULT_PREFIX = "uunet:audit"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "audit",
        help="verify or export the private service's audit log",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    actions = p.add_subparsers(dest="audit_action", metavar="ACTION", required=True)
    verify = actions.add_parser(
        "verify",
        help="check chain, MACs and anchors; prints OK with the count or the first bad entry (exit 1)",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    _source_args(verify)
    verify.set_defaults(handler=run)
    export = actions.add_parser(
        "export",
        help="write the log from Redis as JSON lines (one entry per line)",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    export.add_argument("--redis-url", required=True, help="Redis holding the log")
    export.add_argument("--prefix", default=DEFAULT_PREFIX, help="key prefix of the log")
    export.add_argument("-o", "--output", type=Path, required=True, help="JSONL file to write")
    export.set_defaults(handler=run)
    head = actions.add_parser(
        "head",
        help="print COUNT:HASH of the log's last entry, to record somewhere Redis cannot reach",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    head.add_argument("--redis-url", required=True, help="Redis holding the log")
    head.add_argument("--prefix", default=DEFAULT_PREFIX, help="key prefix of the log")
    head.set_defaults(handler=run)


def _source_args(p: argparse.ArgumentParser) -> None:
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--redis-url", help="Redis holding the log (redis://host:port/db)")
    src.add_argument("--file", type=Path, help="a JSONL export written by `uunet audit export`")
    src.add_argument(
        "--env",
        action="store_true",
        help="Redis, audit key and anchor bucket from the UUNET_PRIVATE_* settings",
    )
    src.add_argument(
        "--env-file", type=Path, help="like --env, with the settings read from this dotenv file"
    )
    p.add_argument("--prefix", default=DEFAULT_PREFIX, help="key prefix of the log in Redis")
    p.add_argument(
        "--key-file",
        type=Path,
        help="the audit key (UUNET_PRIVATE_AUDIT_KEY); required without --env",
    )
    p.add_argument(
        "--expect-head",
        default=None,
        metavar="COUNT:HASH",
        help="head recorded outside Redis earlier (`uunet audit head`): catches a rewritten log",
    )
    p.add_argument(
        "--custody-key",
        type=Path,
        default=None,
        help="custody_ed25519.pub.pem: also check every custody record's signature "
        "(without it their contents are still checked against their entries)",
    )


def run(args: argparse.Namespace) -> int:
    if args.audit_action == "export":
        count = asyncio.run(_export(args.redis_url, args.prefix, args.output))
        print(f"exported {count} entries to {args.output}")
        return 0
    if args.audit_action == "head":
        _lines, stored = asyncio.run(_read_redis(args.redis_url, args.prefix))
        count, last = stored or (0, "0" * 64)
        print(f"{count}:{last}")
        return 0
    if args.env or args.env_file:
        evidence = asyncio.run(_from_settings(args.env_file))
    else:
        if args.key_file is None:
            raise BadInputError(
                "--key-file is required (or --env): without the key MACs go unchecked"
            )
        if args.file is not None:
            lines, head = _read_file(args.file), None
        else:
            lines, head = asyncio.run(_read_redis(args.redis_url, args.prefix))
        evidence = Evidence(lines, head, _read_key(args.key_file))
    if args.expect_head:
        evidence.head = _parse_head(args.expect_head)
    evidence.custody_key = _custody_key(args.custody_key)
    return _verify(evidence)


@dataclass
class Evidence:
    """What ``verify`` checks: stored lines, the recorded head, the key, the anchors."""

    lines: list[str]
    head: tuple[int, str] | None
    key: bytes
    anchors: list[AuditAnchor] = field(default_factory=list)
    custody_key: Any = None  # checks custody records' signatures when given


def _read_key(path: Path) -> bytes:
    from shared.audit.chain import check_key

    try:
        return check_key(path.read_text().strip().encode())
    except OSError as err:
        raise BadInputError(f"cannot read {path}: {err.strerror}") from None


async def _from_settings(env_file: Path | None) -> Evidence:
    """The log, its key and its anchors as the private service itself reaches them."""
    from pydantic import ValidationError

    from services.private_reid import bootstrap
    from services.private_reid.settings import PrivateSettings

    if env_file is not None and not env_file.is_file():
        raise BadInputError(f"cannot read {env_file}")
    try:
        settings = PrivateSettings(_env_file=env_file)  # type: ignore[call-arg]
    except ValidationError as err:
        raise ConfigError(f"private service settings: {err.errors()[0]['msg']}") from None
    lines, head = await _read_redis(settings.secret("redis_url"), settings.audit_prefix)
    anchors: list[AuditAnchor] = []
    if settings.audit_anchor_bucket:
        anchors = await bootstrap.anchor_store(settings).anchors()
    return Evidence(lines, head, bootstrap.audit_key(settings), anchors)


def _custody_key(path: Path | None) -> Any:
    from shared.crypto.signing import load_public_key

    return None if path is None else load_public_key(path)


def _parse_head(text: str) -> tuple[int, str]:
    count, _, last = text.strip().partition(":")
    if not count.isdigit() or len(last) != 64:
        raise BadInputError("--expect-head must be COUNT:HASH as printed by `uunet audit head`")
    return int(count), last


def _verify(evidence: Evidence) -> int:
    from shared.audit.chain import from_json, verify
    from shared.audit.custody import check_entries

    entries = []
    for index, line in enumerate(evidence.lines):
        try:
            entries.append(from_json(line))
        except BadInputError as err:
            print(f"FAILED: first bad entry at index {index}: unreadable ({err})")
            return 1
    report = verify(entries, evidence.head, evidence.key, evidence.anchors)
    if not report.ok:
        print(f"FAILED: {report.describe()}")
        return 1
    custody, problem = check_entries(entries, evidence.custody_key)
    if problem:
        print(f"FAILED: {problem}")
        return 1
    print(
        f"OK: {report.count} entries, chain and MACs intact, {len(evidence.anchors)} anchors match"
    )
    if custody:
        how = (
            "signatures verified"
            if evidence.custody_key is not None
            else "give --custody-key to check"
        )
        print(f"custody: {custody} records agree with their entries ({how})")
    return 0


def _read_file(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise BadInputError(f"cannot read {path}: {err.strerror}") from None
    return [line for line in text.splitlines() if line.strip()]


def _client(url: str) -> Any:
    from redis.asyncio import Redis

    try:
        return Redis.from_url(url)
    except ValueError as err:
        raise BadInputError(f"bad --redis-url: {err}") from None


async def _read_redis(url: str, prefix: str) -> tuple[list[str], tuple[int, str] | None]:
    from redis.exceptions import RedisError

    from shared.adapters.redis_audit import RedisAuditLog

    client = _client(url)
    try:
        log = RedisAuditLog(client, prefix)
        return await log.raw_entries(), await log.head()
    except RedisError as err:
        raise ConfigError(f"cannot read the audit log from Redis: {err}") from None
    finally:
        await client.aclose()


async def _export(url: str, prefix: str, output: Path) -> int:
    lines, _head = await _read_redis(url, prefix)
    try:
        with output.open("w", encoding="utf-8") as fh:
            fh.writelines(line + "\n" for line in lines)
    except OSError as err:
        raise BadInputError(f"cannot write {output}: {err.strerror}") from None
    return len(lines)
