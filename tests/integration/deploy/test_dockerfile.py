"""docker/Dockerfile: every target the compose file and the chart use exists, runs non-root,
has a healthcheck and the contract command; the CUDA worker installs torch's CUDA build."""

from __future__ import annotations

import fnmatch
import re
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
