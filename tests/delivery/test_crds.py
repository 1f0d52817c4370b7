"""`charts/sie/crds/` is the one copy of SIE's CRDs, and its source-type parts follow the registry."""

from __future__ import annotations

import subprocess
import sys

import yaml

from sie.core.sources.registry import SOURCE_TYPES
from tests.delivery.chart_render import CRD_DIR, REPO_ROOT, SIE_API_GROUP


def test_the_chart_installs_our_three_crds_and_kopfs_peering_crds() -> None:
    kinds = {
        (crd["spec"]["group"], crd["spec"]["names"]["kind"])
        for path in CRD_DIR.glob("*.y*ml")
        for crd in yaml.safe_load_all(path.read_text())
        if crd
    }
    assert kinds == {
        (SIE_API_GROUP, "IngestionSource"),
        (SIE_API_GROUP, "WorkerScaler"),
        (SIE_API_GROUP, "DeadLetterReplay"),
        ("kopf.dev", "KopfPeering"),
        ("kopf.dev", "ClusterKopfPeering"),
    }


def test_there_is_no_second_copy_of_the_crds() -> None:
    assert not (REPO_ROOT / "k8s" / "crds").exists()


def test_the_ingestionsource_crd_is_what_the_source_registry_renders() -> None:
    checked = subprocess.run(
        [sys.executable, "scripts/sync_crds.py", "--check"], cwd=REPO_ROOT, capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_type_enum_is_every_registered_source_type() -> None:
    crd = yaml.safe_load((CRD_DIR / "ingestionsources.yaml").read_text())
    spec = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    assert spec["properties"]["type"]["enum"] == list(SOURCE_TYPES)
