"""docker/Dockerfile: every target the compose file and the chart use exists, runs non-root,
has a healthcheck and the contract command; the CUDA worker installs torch's CUDA build."""

from __future__ import annotations

import fnmatch
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.integration.deploy.tools import REPO, all_combinations, render, require_tool, run

DOCKERFILE = REPO / "docker" / "Dockerfile"
TARGETS = {
    "public-api": ("services.public_deid", "api"),
    "public-worker-gpu": ("services.public_deid", "worker"),
    "public-worker-cpu": ("services.public_deid", "worker"),
    "private-api": ("services.private_reid", "api"),
    "private-worker": ("services.private_reid", "worker"),
    "private-worker-gpu": ("services.private_reid", "worker"),
}


@dataclass
class Stage:
    base: str
    name: str
    lines: list[str] = field(default_factory=list)


def _logical_lines(text: str) -> list[str]:
    """Instructions with continuation lines joined and comments dropped."""
    lines, buf = [], ""
    for raw in text.splitlines():
        if raw.lstrip().startswith("#") or not raw.strip():
            continue
        buf += raw.rstrip("\\").strip() + " " if raw.endswith("\\") else raw.strip()
        if not raw.endswith("\\"):
            lines.append(buf)
            buf = ""
    return lines


def _parse() -> tuple[dict[str, str], dict[str, Stage]]:
    """(global ARG defaults, stages by name)."""
    args: dict[str, str] = {}
    stages: dict[str, Stage] = {}
    current: Stage | None = None
    for line in _logical_lines(DOCKERFILE.read_text()):
        word, _, rest = line.partition(" ")
        if word == "FROM":
            base, _, name = rest.partition(" AS ")
            current = stages.setdefault(name.strip(), Stage(base.strip(), name.strip()))
        elif current is None and word == "ARG":
            key, _, value = rest.partition("=")
            args[key] = value
        elif current is not None:
            current.lines.append(line)
    return args, stages


def _chain(stages: dict[str, Stage], name: str) -> list[Stage]:
    """The stage and its ancestors, nearest first."""
    chain = [stages[name]]
    while chain[-1].base in stages:
        chain.append(stages[chain[-1].base])
    return chain


def _last(chain: list[Stage], instruction: str) -> str | None:
    for stage in chain:
        for line in reversed(stage.lines):
            if line.startswith(instruction + " "):
                return line.removeprefix(instruction + " ")
    return None


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_target_runs_non_root_with_healthcheck_and_contract_command(target: str) -> None:
    _, stages = _parse()
    chain = _chain(stages, target)
    user = _last(chain, "USER")
    assert user and user.split(":")[0] not in ("root", "0")
    healthcheck = _last(chain, "HEALTHCHECK")
    side = "public" if target.startswith("public") else "private"
    role = TARGETS[target][1]
    assert healthcheck and f'"{side}", "{role}"]' in healthcheck
    module, role = TARGETS[target]
    assert _last(chain, "CMD") == f'["python", "-m", "{module}", "{role}"]'


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_gpu_targets_use_the_cuda_base_image_and_the_locked_cuda_torch(target: str) -> None:
    args, stages = _parse()
    runtime = _chain(stages, target)[-1]
    gpu = target.endswith("-gpu")
    assert runtime.base == ("${CUDA_IMAGE}" if gpu else "${DEBIAN_IMAGE}")
    if gpu:  # the small -base image: the torch wheels bring CUDA, cuBLAS and cuDNN
        assert re.fullmatch(rf"nvidia/cuda:[\d.]+-base-ubuntu[\d.]+{DIGEST}", args["CUDA_IMAGE"])
    copied = [line for line in runtime.lines if line.startswith("COPY --from=deps-")]
    flavour = "deps-cuda" if gpu else "deps-cpu"
    assert copied and all(f"--from={flavour} " in line for line in copied)
    install = " ".join(stages[flavour].lines)
    lock = "torch-cuda.txt" if gpu else "torch-cpu.txt"
    assert "--require-hashes --no-deps" in install and f"-r /tmp/{lock}" in install
    if not gpu:
        assert '--index-url "${TORCH_CPU_INDEX}"' in install
        assert re.fullmatch(r"https://download\.pytorch\.org/whl/cpu", args["TORCH_CPU_INDEX"])


DIGEST = r"@sha256:[0-9a-f]{64}"


def test_every_base_image_and_the_frontend_are_pinned_by_digest() -> None:
    """No FROM resolves to a tag alone: the ARG defaults carry digests, as does the syntax line."""
    args, stages = _parse()
    first = DOCKERFILE.read_text().splitlines()[0]
    assert re.fullmatch(rf"# syntax=docker/dockerfile:[\d.]+{DIGEST}", first)
    for stage in stages.values():
        base = stage.base
        if base in stages:
            continue  # another stage of this file
        ref = args[base[2:-1]] if base.startswith("${") else base
        assert re.search(rf"{DIGEST}$", ref), f"stage {stage.name}: {ref} is not pinned by digest"


def test_every_package_install_uses_the_hashed_locks() -> None:
    """pip/uv installs only from docker/requirements (hashes required), which match the pins."""
    _, stages = _parse()
    installs = [ln for st in stages.values() for ln in st.lines if "pip install" in ln]
    assert len(installs) == 3
    for line in installs:
        assert "--require-hashes --no-deps " in line and " -r /tmp/" in line, line
    lock = REPO / "scripts" / "lock_images.py"
    result = run([sys.executable, str(lock), "--check"])
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_and_chart_use_only_existing_targets() -> None:
    _, stages = _parse()
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    used = {s["build"]["target"] for s in compose["services"].values() if "build" in s}
    images: set[str] = set()
    for part, profile in all_combinations():
        for doc in render(part, profile):
            if doc["kind"] == "Deployment":
                image: Any = doc["spec"]["template"]["spec"]["containers"][0]["image"]
                images.add(image.rsplit("/", 1)[1].split(":")[0])
    assert used and images
    assert (used | images) <= set(TARGETS) <= set(stages)


def test_deploy_doc_builds_every_target_of_the_dockerfile() -> None:
    final = DOCKERFILE.read_text().split("# ---- targets ----", 1)[1]
    built = set(re.findall(r"^FROM \S+ AS ([\w-]+)", final, re.MULTILINE))
    doc = (REPO / "docs" / "DEPLOY.md").read_text()
    documented = set(re.findall(r"^docker build .*--target ([\w-]+)", doc, re.MULTILINE))
    assert built == set(TARGETS) == documented
    # scripts/build_images.sh builds, pushes and records the digest of every target by default.
    script = (REPO / "scripts" / "build_images.sh").read_text()
    defaults = script.split("targets=${*:-", 1)[1].split("}", 1)[0].split()
    assert set(defaults) == built


def _docker_included(path: str) -> bool:
    """.dockerignore semantics as used there: last matching pattern wins, `!` re-includes."""
    included = True
    for raw in (REPO / ".dockerignore").read_text().splitlines():
        pattern = raw.strip()
        if not pattern or pattern.startswith("#"):
            continue
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").rstrip("/")
        if fnmatch.fnmatch(path, pattern) or fnmatch.fnmatch(path, pattern + "/*"):
            included = negate
    return included


def test_build_context_holds_what_copy_needs_and_no_secrets() -> None:
    _, stages = _parse()
    sources = {
        line.split()[1]
        for stage in stages.values()
        for line in stage.lines
        if line.startswith("COPY ") and "--from=" not in line
    }
    assert "shared" in sources and "docker/requirements/runtime.txt" in sources
    for src in sources:
        assert (REPO / src).exists(), src
        assert _docker_included(src), f"{src} is excluded by .dockerignore"
    for private in (
        "secrets/keys/deid_secret.key",
        ".venv/bin/python",
        ".git/config",
        ".tools/bin/helm",
    ):
        assert not _docker_included(private), private


def test_dockerfile_passes_hadolint(tmp_path: Path) -> None:
    hadolint = require_tool("hadolint")
    result = run([hadolint, "--no-color", str(DOCKERFILE)])
    assert result.returncode == 0, result.stdout + result.stderr
    # Guard: the same linter does fail a Dockerfile with the usual mistakes.
    sloppy = tmp_path / "Dockerfile"
    sloppy.write_text("FROM debian:latest\nRUN apt-get install curl\nCMD python app.py\n")
    assert run([hadolint, "--no-color", str(sloppy)]).returncode != 0


PUBLIC_WEIGHTS_STAGE = "weights-public"
PUBLIC_WORKERS = {"public-worker-cpu", "public-worker-gpu"}


def _copies(stages: dict[str, Stage], target: str) -> list[tuple[str | None, list[str], str]]:
    """Every COPY that ends up in a target's filesystem: (--from stage or None, sources, dest)."""
    out = []
    for stage in _chain(stages, target):
        for line in stage.lines:
            if not line.startswith("COPY "):
                continue
            words = line.split()[1:]
            origin = next(
                (w.removeprefix("--from=") for w in words if w.startswith("--from=")), None
            )
            paths = [w for w in words if not w.startswith("--")]
            out.append((origin, paths[:-1], paths[-1]))
    return out


def _carries_private_module(src: str) -> list[str]:
    """Files under a COPY source that hold a UU-Net checkpoint with a private half (any name)."""
    from shared.domain.errors import ConfigError
    from shared.model.checkpoint import load_checkpoint, split_state

    root = REPO / src
    found = []
    for path in [root] if root.is_file() else sorted(root.rglob("*")):
        if not path.is_file() or path.stat().st_size < 64 or path.read_bytes()[:2] != b"PK":
            continue  # torch.save writes a zip archive
        try:
            _public, private = split_state(load_checkpoint(path))
        except ConfigError:
            continue  # another torch file (a donor bank, say): no model half in it
        if private:
            found.append(str(path.relative_to(REPO)))
    return found


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_no_image_target_copies_the_private_module(target: str) -> None:
    """No file an image holds carries the private module; the public worker gets the public-only
    export, named by UUNET_PUBLIC_CHECKPOINT, and nothing else gets a checkpoint."""
    _, stages = _parse()
    assert PUBLIC_WEIGHTS_STAGE not in {s.name for s in _chain(stages, target)}
    copies = _copies(stages, target)
    for origin, sources, _dest in copies:
        if origin is None:
            for src in sources:
                assert _carries_private_module(src) == [], (target, src)
    weights = [dest for origin, _src, dest in copies if origin == PUBLIC_WEIGHTS_STAGE]
    if target in PUBLIC_WORKERS:
        from shared.surrogate.donors import DEFAULT_BANK

        bank = str(DEFAULT_BANK.relative_to(REPO))  # what the default (donor) model also reads
        assert (None, [bank], f"/app/{bank}") in copies
        assert len(weights) == 1
        env = " ".join(line for s in _chain(stages, target) for line in s.lines if "ENV " in line)
        assert f"UUNET_PUBLIC_CHECKPOINT={weights[0]}" in env
    else:
        assert weights == []


def test_public_weights_stage_writes_a_checkpoint_without_the_private_module(
    tmp_path: Path,
) -> None:
    """Run the stage's own export command here; the public worker's loader takes what it writes."""
    from services.public_deid.bootstrap import public_checkpoint
    from services.public_deid.settings import PublicSettings
    from shared.model.checkpoint import load_checkpoint, split_state
    from shared.model.inference import UUNetEngine

    _, stages = _parse()
    (run_line,) = [line for line in stages[PUBLIC_WEIGHTS_STAGE].lines if line.startswith("RUN ")]
    argv = run_line.removeprefix("RUN ").split()
    assert argv[:6] == ["python", "-m", "uunet_cli.main", "weights", "export", "--part"]
    out = argv[argv.index("-o") + 1]
    local = [str(tmp_path / Path(out).name) if a == out else a for a in argv]
    result = subprocess.run(
        [sys.executable, *local[1:]], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    written = tmp_path / Path(out).name
    public, private = split_state(load_checkpoint(written))
    assert public and private == {}
    assert public_checkpoint(PublicSettings(dev=True, checkpoint=written)) == written
    assert UUNetEngine.load(written, part="public").has_part("public")
