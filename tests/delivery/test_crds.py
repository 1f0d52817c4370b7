"""The chart installs exactly the CRDs of k8s/crds/: `charts/sie/crds/` holds identical copies."""

from __future__ import annotations

import yaml

from tests.delivery.chart_render import CHART_DIR, CRD_DIR, SIE_API_GROUP


def test_the_chart_crds_are_identical_copies_of_k8s_crds() -> None:
    published = {path.name: path.read_bytes() for path in CRD_DIR.glob("*.y*ml")}
    in_chart = {path.name: path.read_bytes() for path in (CHART_DIR / "crds").glob("*.y*ml")}
    assert in_chart == published, "copy k8s/crds/*.yaml into charts/sie/crds/ unchanged"


def test_the_chart_installs_our_three_crds_and_kopfs_peering_crds() -> None:
    kinds = {
        (crd["spec"]["group"], crd["spec"]["names"]["kind"])
        for path in (CHART_DIR / "crds").glob("*.y*ml")
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
