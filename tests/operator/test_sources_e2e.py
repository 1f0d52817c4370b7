"""IngestionSource end to end: kmock as Kubernetes, the operator under KopfRunner, the real API."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import httpx
import pytest

from tests.operator.conftest import NAMESPACE, condition, eventually, new_object, object_url, resource_status
from tests.utils import api as api_keys

pytestmark = [pytest.mark.slow, pytest.mark.asyncio]

FEED = "http://127.0.0.1:9/feed.xml"  # never fetched: no scheduler runs in these tests


def engine_source(api_url: str, key: api_keys.TestKey, name: str, tenant: str) -> dict[str, Any] | None:
    response = httpx.get(f"{api_url}/v1/sources/{name}", params={"tenant": tenant}, headers=key.headers)
    return response.json() if response.status_code == 200 else None


async def test_source_follows_the_resource_from_apply_to_delete(
    k8s: Any, operator: Any, api_url: str, system_key: api_keys.TestKey
) -> None:
    k8s.objects["v1/secrets", NAMESPACE, "blog-token"] = {
        "metadata": {"name": "blog-token", "namespace": NAMESPACE, "uid": "s1", "resourceVersion": "1"},
        "data": {"header": base64.b64encode(b"Bearer sekrit").decode()},
    }
    spec = {
        "type": "rss",
        "url": FEED,
        "interval": "15m",
        "priority": "high",
        "tenant": "acme-e2e",
        "excludePatterns": ["*/tag/*"],
        "authHeader": {"name": "Authorization", "secretKeyRef": {"name": "blog-token", "key": "header"}},
    }
    created = await k8s.post(
        object_url("ingestionsources"), json=new_object("ingestionsources", "blog", spec)
    )
    assert created.status == 201 or created.status == 200

    status = await eventually(
        lambda: (s := resource_status(k8s, "ingestionsources", "blog")).get("observedGeneration") == 1 and s,
        timeout=30,
        what="the IngestionSource to be applied",
    )
    assert condition(status, "Ready")["status"] == "True"
    assert condition(status, "Synced")["status"] == "True"
    assert condition(status, "Stalled")["status"] == "False"
    assert status["itemsIngested"] == 0 and status["consecutiveFailures"] == 0
    assert status["nextSyncTime"] is not None

    source = await asyncio.to_thread(engine_source, api_url, system_key, "blog", "acme-e2e")
    assert source is not None
    assert source["url"] == FEED and source["interval"] == "15m" and source["priority"] == "high"
    assert source["exclude_patterns"] == ["*/tag/*"]
    assert source["auth_header_set"] is True and source["auth_header_name"] == "Authorization"

    deleted = await k8s.delete(object_url("ingestionsources", "blog"))
    assert deleted.status == 200
    await eventually(
        lambda: (
            ("sie.example.com/v1alpha1/ingestionsources", NAMESPACE, "blog") not in k8s.objects
            or k8s.objects["sie.example.com/v1alpha1/ingestionsources", NAMESPACE, "blog"].deleted
        ),
        timeout=30,
        what="the finalizer to let the resource go",
    )
    assert await asyncio.to_thread(engine_source, api_url, system_key, "blog", "acme-e2e") is None
