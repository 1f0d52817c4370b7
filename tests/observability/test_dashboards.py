"""The four Grafana dashboards the handbook names: structurally valid, portable, and about our metrics."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.metrics import MetricWrapperBase

from sie.core import metrics
from tests.observability.support import (
    DASHBOARDS_DIR,
    HANDBOOK_DASHBOARDS,
    as_promql,
    dashboards,
    panel_exprs,
    require_binary,
)

PANEL_TYPES = {"timeseries", "stat", "piechart", "table", "bargauge", "gauge"}
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
SAMPLE_SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}


def exported_sample_names() -> set[str]:
    names = {"up", "sie_build_info"}
    for metric in vars(metrics).values():
        if isinstance(metric, MetricWrapperBase):
            for family in metric.describe():
                names.update(family.name + suffix for suffix in SAMPLE_SUFFIXES[family.type])
    return names


def datasource_references(node: Any) -> Iterator[Any]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "datasource":
                yield value
            yield from datasource_references(value)
    elif isinstance(node, list):
        for item in node:
            yield from datasource_references(item)


def test_the_chart_ships_the_handbooks_four_dashboards() -> None:
    assert sorted(path.name for path in DASHBOARDS_DIR.glob("*.json")) == sorted(HANDBOOK_DASHBOARDS)
    loaded = dashboards()
    assert {name: dashboard["title"] for name, dashboard in loaded.items()} == HANDBOOK_DASHBOARDS
    uids = [dashboard["uid"] for dashboard in loaded.values()]
    assert len(set(uids)) == len(uids) and all(len(uid) <= 40 for uid in uids)


@pytest.mark.parametrize("name", sorted(HANDBOOK_DASHBOARDS))
def test_queries_go_through_a_datasource_variable_not_a_fixed_uid(name: str) -> None:
    dashboard = dashboards()[name]
    variables = dashboard["templating"]["list"]
    assert [(v["name"], v["type"], v["query"]) for v in variables if v["type"] == "datasource"] == [
        ("datasource", "datasource", "prometheus")
    ]
    references = list(datasource_references(dashboard["panels"]))
    assert references and all(reference == DATASOURCE for reference in references)
    assert "__inputs" not in dashboard


@pytest.mark.parametrize("name", sorted(HANDBOOK_DASHBOARDS))
def test_panels_are_well_formed_and_do_not_overlap(name: str) -> None:
    panels = dashboards()[name]["panels"]
    assert panels
    ids = [panel["id"] for panel in panels]
    assert len(set(ids)) == len(ids) and all(isinstance(panel_id, int) for panel_id in ids)
    occupied: set[tuple[int, int]] = set()
    for panel in panels:
        assert panel["title"] and panel["type"] in PANEL_TYPES, panel
        grid = panel["gridPos"]
        assert grid["w"] > 0 and grid["h"] > 0 and grid["x"] + grid["w"] <= 24, panel["title"]
        cells = {
            (x, y)
            for x in range(grid["x"], grid["x"] + grid["w"])
            for y in range(grid["y"], grid["y"] + grid["h"])
        }
        assert not cells & occupied, f"{panel['title']} overlaps another panel"
        occupied |= cells
        refs = [target["refId"] for target in panel["targets"]]
        assert refs and len(set(refs)) == len(refs), panel["title"]
        assert all(target["expr"].strip() for target in panel["targets"]), panel["title"]


@pytest.mark.parametrize("name", sorted(HANDBOOK_DASHBOARDS))
def test_queries_read_only_metrics_sie_exports(name: str) -> None:
    known = exported_sample_names()
    for title, expr in panel_exprs(dashboards()[name]):
        used = set(re.findall(r"\b(?:sie_[a-z_]+|up)\b(?=\s*[{\[)])", expr))
        assert used, f"{title}: {expr}"
        assert used <= known, f"{title}: unknown metric(s) {sorted(used - known)}"


def test_every_query_is_valid_promql(tmp_path: Path) -> None:
    promtool = require_binary("promtool")
    rules = [
        {"record": f"dashboard:query_{index}:check", "expr": as_promql(expr)}
        for index, (_, expr) in enumerate(
            (item for dashboard in dashboards().values() for item in panel_exprs(dashboard)), start=1
        )
    ]
    path = tmp_path / "dashboard-queries.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    result = subprocess.run(
        [promtool, "check", "rules", str(path)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(rules)} rules found" in result.stdout
