"""The bad-input corpus (chaos/corpus.py) against what every door runs first: the probe (API, CLI)
and then, for files it lets through, the worker's pipeline call; private-side inputs against the
signature check. Each ends with a one-line domain error or a clean result, never another
exception. The full three-door run against a live stack is ``chaos/bad_inputs.py``."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import pytest

from chaos.corpus import PRIVATE, PUBLIC, BadInput, build
from shared.crypto.keys import PrivateSideKeys, PublicSideKeys, init_keyset
from shared.domain.errors import UUNetError
from shared.model.inference import UUNetEngine
from shared.pipeline.api import DeidOptions, Limits, deidentify_clip, probe_clip, verify_clip
from shared.video.synthetic import SceneSpec, write_clip

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def world(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[list[BadInput], PublicSideKeys, PrivateSideKeys]:
    tmp = tmp_path_factory.mktemp("corpus")
    keys_dir, other_dir = tmp / "keys", tmp / "other"
    init_keyset(keys_dir)
    init_keyset(other_dir)
    engine = UUNetEngine.load(None, part="public")
    clip = tmp / "clip.mp4"
    write_clip(clip, SceneSpec(width=160, height=120, frames=10, face_px=(40, 50)))
    public, other = tmp / "public.mp4", tmp / "other.mp4"
    deidentify_clip(clip, public, PublicSideKeys.load(keys_dir), engine, DeidOptions())
    deidentify_clip(clip, other, PublicSideKeys.load(other_dir), engine, DeidOptions())
    items = build(tmp / "bad", public, other, long_clip=False)
    return items, PublicSideKeys.load(keys_dir), PrivateSideKeys.load(keys_dir)


def outcome(call) -> str:  # type: ignore[no-untyped-def]
    try:
        call()
    except UUNetError as err:
        reason = str(err)
        assert reason and "\n" not in reason, repr(reason)
        return "refused"
    return "ok"


def test_corpus_has_at_least_50_distinct_inputs_for_both_sides(world) -> None:  # type: ignore[no-untyped-def]
    items, _, _ = world
    assert len(items) >= 50 and len({i.name for i in items}) == len(items)
    assert {i.side for i in items} == {PUBLIC, PRIVATE}


def test_public_inputs_are_refused_at_the_probe_or_processed_cleanly(world, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    items, public_keys, _ = world
    engine = UUNetEngine.load(None, part="public")
    results: dict[str, str] = {}
    for item in (i for i in items if i.side == PUBLIC):
        results[item.name] = outcome(partial(probe_clip, item.path, Limits()))
        if results[item.name] == "ok":  # then the worker's call, as for a queued job
            out = tmp_path / "o.mp4"
            job = partial(deidentify_clip, item.path, out, public_keys, engine, DeidOptions())
            results[item.name] = "worker " + outcome(job)
    for name in ("zero-byte", "audio-only", "image-png", "already-de-identified"):
        assert results[name] == "refused", (name, results[name])
    assert results["absurd-frame-rate-120000"] == "refused"
    assert results["payload-zeroed-4k"] == "worker refused"  # decodes, then fails at frame 4


def test_private_inputs_are_refused_by_the_signature_check(world) -> None:  # type: ignore[no-untyped-def]
    items, _, private_keys = world
    for item in (i for i in items if i.side == PRIVATE):
        check = partial(verify_clip, item.path, private_keys.verify_key, private_keys.key_id)
        assert outcome(check) == "refused", item.name
