"""compose.yaml run for real with the handbook's commands: `docker-compose up -d`, logs through
`jq`, and a rollback to the previous release.

Debian's `docker-compose` (v1.29, the handbook's command) drives podman through its
Docker-compatible socket (`podman system service`). compose.yaml is used as users run it; only
the images are local: no registry is reachable here, so PostgreSQL, Redis and Meilisearch are
stand-ins tagged with the names compose.yaml uses (`.ci/standin-images.sh`; Meilisearch is the
tests' fake, held to Meilisearch's OpenAPI document), and SIE's images are those
`scripts/build-images.sh` built, tagged as two releases: this checkout's, and a previous one that
reports its own version in `/health`.

Podman runs healthchecks from systemd timers. Without systemd (a CI container) nothing runs them
and `depends_on: condition: service_healthy` would wait forever, so the test runs the healthcheck
of each starting container itself, as the timer would.

The OCR worker runs only when its image was built (`SIE_CI_BUILD_OCR=1`): torch is several GB.
Skipped only without podman; a missing image is built first.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

import sie
from tests.delivery.chart_render import REPO_ROOT
from tests.delivery.test_deploy_smoke import free_port, wait_for
from tests.delivery.test_skaffold_and_compose import memory_bytes

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

PODMAN = shutil.which("podman")
DOCKER_COMPOSE = shutil.which("docker-compose")
COMPOSE_FILE = REPO_ROOT / "compose.yaml"
SERVICES = yaml.safe_load(COMPOSE_FILE.read_text())["services"]
PREFIX = os.environ.get("SIE_IMAGE_PREFIX", "localhost")
BUILT_TAG = os.environ.get("SIE_IMAGE_TAG", "dev")
RUN = uuid.uuid4().hex[:8]
# Tags of this run only, so no image of the machine is overwritten; the image's version is its tag.
CURRENT = f"{sie.__version__}-compose.{RUN}"
PREVIOUS = f"0.0.0-compose.{RUN}"
PODMAN_ENV = {**os.environ, "CONTAINERS_CONF": str(REPO_ROOT / "scripts" / "containers.conf")}
# The previous release: the built image, reporting another version (a real one differs in more).
PREVIOUS_CONTAINERFILE = """\
ARG IMAGE
FROM ${IMAGE}
ARG VERSION
USER 0
RUN module="$(python -c 'import sie; print(sie.__file__)')" \\
    && sed -i "s/^__version__ = .*/__version__ = \\"${VERSION}\\"/" "$module"
LABEL org.opencontainers.image.version="${VERSION}"
USER 10001:10001
"""


def podman(*args: str, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    assert PODMAN is not None
    result = subprocess.run(
        [PODMAN, *args], capture_output=True, text=True, env=PODMAN_ENV, timeout=timeout, check=False
    )
    if check and result.returncode != 0:
        raise AssertionError(f"podman {' '.join(args)} failed: {result.stdout}{result.stderr}")
    return result


def run_script(*command: str, **env: str) -> None:
    result = subprocess.run(
        command, cwd=REPO_ROOT, capture_output=True, text=True, env={**PODMAN_ENV, **env}, check=False
    )
    assert result.returncode == 0, f"{' '.join(command)} failed:\n{result.stderr[-4000:]}"


def image_exists(image: str) -> bool:
    return podman("image", "exists", image, check=False).returncode == 0


def sie_components() -> list[str]:
    """The SIE images compose.yaml runs here: the OCR worker only where its image was built."""
    components = ["api", "worker"]
    return [*components, "ocr-worker"] if image_exists(f"{PREFIX}/sie-ocr-worker:{BUILT_TAG}") else components


def tag_releases(components: list[str], workdir: Path) -> None:
    """Each built SIE image as release CURRENT, and a PREVIOUS release made from it."""
    missing = [c for c in components if not image_exists(f"{PREFIX}/sie-{c}:{BUILT_TAG}")]
    if missing:
        run_script("scripts/build-images.sh", *missing, SIE_SKIP_SMOKE="1", SIE_IMAGE_TAG=BUILT_TAG)
    third_party = [s["image"] for s in SERVICES.values() if "build" not in s]
    if not all(image_exists(image) for image in third_party):
        run_script(".ci/standin-images.sh")
    (workdir / "Containerfile").write_text(PREVIOUS_CONTAINERFILE)
    for component in components:
        built = f"{PREFIX}/sie-{component}:{BUILT_TAG}"
        podman("tag", built, f"{PREFIX}/sie-{component}:{CURRENT}")
        podman(
            "build", "--pull=never", "--build-arg", f"IMAGE={built}", "--build-arg", f"VERSION={PREVIOUS}",
            "-t", f"{PREFIX}/sie-{component}:{PREVIOUS}", str(workdir),
        )  # fmt: skip


class HealthChecks:
    """Runs the healthcheck of each starting container of the project every 2 s (podman's timer)."""

    def __init__(self, project: str) -> None:
        self._project = project
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="compose-healthchecks", daemon=True)

    def __enter__(self) -> HealthChecks:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stopped.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stopped.wait(2):
            starting = podman(
                "ps", "--filter", f"label=com.docker.compose.project={self._project}",
                "--filter", "health=starting", "--format", "{{.ID}}", check=False,
            ).stdout.split()  # fmt: skip
            for container in starting:
                podman("healthcheck", "run", container, check=False, timeout=60)


@dataclass
class Stack:
    """One compose project on podman's socket; `compose()` runs docker-compose as a user would."""

    socket: Path
    project: str
    api_port: int
    services: list[str]
    api_key: str = ""

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def environment(self, version: str) -> dict[str, str]:
        return {
            **os.environ,
            "DOCKER_HOST": f"unix://{self.socket}",
            "COMPOSE_PROJECT_NAME": self.project,
            "SIE_IMAGE_PREFIX": PREFIX,
            "SIE_VERSION": version,
            "SIE_API_PORT": str(self.api_port),
        }

    def compose(
        self, *args: str, version: str = CURRENT, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        assert DOCKER_COMPOSE is not None
        result = subprocess.run(
            [DOCKER_COMPOSE, *args],
            cwd=REPO_ROOT,
            env=self.environment(version),
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"docker-compose {' '.join(args)} failed:\n{result.stderr[-4000:]}\n{self.logs()}"
            )
        return result

    def shell(self, pipeline: str) -> subprocess.CompletedProcess[str]:
        """A handbook pipeline, run by bash as typed (pipefail: a failing docker-compose counts)."""
        return subprocess.run(
            ["bash", "-o", "pipefail", "-c", pipeline],
            cwd=REPO_ROOT,
            env=self.environment(CURRENT),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def container(self, service: str) -> str:
        (container_id,) = podman(
            "ps", "--all", "--format", "{{.ID}}",
            "--filter", f"label=com.docker.compose.project={self.project}",
            "--filter", f"label=com.docker.compose.service={service}",
        ).stdout.split()  # fmt: skip
        return container_id

    def logs(self) -> str:
        result = self.compose("logs", "--tail", "30", check=False)
        return result.stdout[-8000:]


@pytest.fixture(scope="module")
def podman_socket(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    if PODMAN is None:
        pytest.skip("podman is not installed (apt-get install podman; see docs/deploy.md)")
    assert DOCKER_COMPOSE, "docker-compose is not installed: apt-get install docker-compose (.ci/run does)"
    socket = tmp_path_factory.mktemp("podman") / "podman.sock"
    service = subprocess.Popen(
        [PODMAN, "system", "service", "--time=0", f"unix://{socket}"],
        env=PODMAN_ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(socket.exists, timeout=30, what="podman's API socket", logs=lambda: "")
        yield socket
    finally:
        service.terminate()
        service.wait(timeout=30)


@pytest.fixture(scope="module")
def stack(podman_socket: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    components = sie_components()
    tag_releases(components, tmp_path_factory.mktemp("previous-release"))
    services = [name for name in SERVICES if name != "ocr-worker" or "ocr-worker" in components]
    stack = Stack(podman_socket, f"sie-compose-{RUN}", free_port(), services)
    try:
        with HealthChecks(stack.project):
            stack.compose("up", "-d", "--no-build", *services)
            wait_until_serving(stack, sie.__version__)
            stack.api_key = stack.compose(
                "exec", "-T", "api", "sie", "api-key", "create", "--tenant", "compose"
            ).stdout.strip()
            yield stack
    finally:
        stack.compose("down", "--volumes", "--timeout", "10", check=False)
        for component in components:
            for tag in (CURRENT, PREVIOUS):
                podman("rmi", f"{PREFIX}/sie-{component}:{tag}", check=False)


def wait_until_serving(stack: Stack, version: str) -> dict[str, Any]:
    def serving() -> dict[str, Any] | None:
        try:
            response = httpx.get(f"{stack.api_url}/health", timeout=5)
        except httpx.TransportError:
            return None
        health = response.json() if response.status_code == 200 else {}
        return health if health.get("version") == version else None

    return wait_for(
        serving, timeout=180, what=f"/health answering ok with version {version}", logs=stack.logs
    )


def ingest_and_find(stack: Stack, word: str) -> str:
    """POST a document through the API and wait until search finds it; its id."""
    headers = {"X-API-Key": stack.api_key}
    accepted = httpx.post(
        f"{stack.api_url}/v1/documents",
        json={"text": f"Grace Hopper described the {word} compiler in Arlington.", "source": "compose"},
        headers=headers,
        timeout=10,
    )
    assert accepted.status_code == 202, accepted.text
    document_id: str = accepted.json()["document_id"]
    assert find(stack, word, timeout=180) == document_id
    return document_id


def find(stack: Stack, word: str, *, timeout: float) -> str:
    def found() -> str | None:
        response = httpx.get(
            f"{stack.api_url}/v1/search", params={"q": word}, headers={"X-API-Key": stack.api_key}, timeout=10
        )
        hits = response.json().get("hits", []) if response.status_code == 200 else []
        return hits[0]["id"] if len(hits) == 1 else None

    return wait_for(found, timeout=timeout, what=f"search to find {word!r}", logs=stack.logs)


def test_a_document_goes_in_and_search_finds_it(stack: Stack) -> None:
    health = httpx.get(f"{stack.api_url}/health", timeout=10).json()
    # Search is Meilisearch, as compose.yaml configures it (here its stand-in).
    assert health["checks"] == {"database": "ok", "redis": "ok", "search": "ok"}
    ingest_and_find(stack, f"quillwort{RUN}")
    violations = stack.shell("docker-compose logs --no-log-prefix meilisearch | grep contract_violation")
    assert violations.stdout == "", f"SIE strayed from Meilisearch's API:\n{violations.stdout}"


def test_the_memory_limits_of_compose_yaml_reach_the_containers(stack: Stack) -> None:
    for service in stack.services:
        memory = podman("inspect", "--format", "{{.HostConfig.Memory}}", stack.container(service)).stdout
        assert int(memory) == memory_bytes(SERVICES[service]["mem_limit"]), service


# The runbook's recipe for compose: docker-compose v1 writes its own "Attaching to …" line first on
# stdout, so the handbook's bare `jq 'select(…)'` stops there; `-R 'fromjson?'` reads on past it.
LOG_RECIPE = (
    "docker-compose logs {option} api worker scheduler | jq -cR 'fromjson? | select(.level == \"{level}\")'"
)
SIE_SERVICES_LOGGED = ("api", "worker", "scheduler")


def test_the_runbook_jq_recipe_reads_the_logs_only_with_the_prefix_option(stack: Stack) -> None:
    errors = stack.shell(LOG_RECIPE.format(option="--no-log-prefix", level="error"))
    assert errors.returncode == 0 and errors.stderr == "", errors.stderr
    infos = stack.shell(LOG_RECIPE.format(option="--no-log-prefix", level="info")).stdout
    assert '"event":"api_started"' in infos and '"event":"http_request"' in infos
    # Without the option each line starts with `api_1  | `: the recipe silently finds nothing.
    prefixed = stack.shell(LOG_RECIPE.format(option="", level="info"))
    assert prefixed.returncode == 0 and prefixed.stdout == ""


def test_every_line_sie_services_log_is_json(stack: Stack) -> None:
    """What the handbook's `jq` recipes need; a line in another format is invisible to them."""
    header, *lines = stack.compose("logs", "--no-log-prefix", *SIE_SERVICES_LOGGED).stdout.splitlines()
    assert header.startswith("Attaching to")  # docker-compose's own, not a service's
    not_json = [line for line in lines if line.strip() and not _is_json_object(line)]
    assert not_json == [], "\n".join(not_json[:40])


def _is_json_object(line: str) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False


def test_rolling_back_to_the_previous_tag_serves_the_previous_version_on_the_same_data(stack: Stack) -> None:
    kept = ingest_and_find(stack, f"marram{RUN}")
    data_services = [name for name in stack.services if "build" not in SERVICES[name]]
    data_containers = {name: stack.container(name) for name in data_services}
    # docs/deploy.md's recipe: the previous tag, then `up -d` recreates only what runs SIE's images.
    stack.compose("up", "-d", "--no-build", *stack.services, version=PREVIOUS)
    assert wait_until_serving(stack, PREVIOUS)["checks"]["search"] == "ok"
    assert {name: stack.container(name) for name in data_services} == data_containers
    for service in stack.services:
        if "build" in SERVICES[service]:
            image = podman("inspect", "--format", "{{.ImageName}}", stack.container(service)).stdout.strip()
            assert image.endswith(f":{PREVIOUS}"), f"{service} runs {image}"
    assert find(stack, f"marram{RUN}", timeout=30) == kept
    ingest_and_find(stack, f"sandwort{RUN}")  # the previous release's worker processes new documents
