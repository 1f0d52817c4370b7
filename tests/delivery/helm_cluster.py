"""A Kubernetes API for real `helm install` / `helm upgrade` (helm-python-sdk): kmock, made to pass
for a cluster Helm 4 talks to, so that `lookup` in the chart reads what an earlier release stored.

What kmock lacks for Helm, and this adds: a Kubernetes version the chart's `kubeVersion` accepts,
an (empty) OpenAPI document for Helm's manifest validation, the core group's discovery with its
right `groupVersion` ("v1"), and server-side apply of an object that does not exist yet (Helm 4
creates everything that way). Release records stay in Helm's memory driver.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp.web
import kmock
from helm_python import Config

from bench.kube_mock import declare_sie_resources, write_kubeconfig

KUBERNETES_VERSION = {"major": "1", "minor": "31", "gitVersion": "v1.31.0", "platform": "linux/amd64"}
PEERINGS = "kopf.dev/v1/kopfpeerings"


class HelmableEmulator(kmock.KubernetesEmulator):
    """kmock's emulator where a server-side apply of a missing object creates it."""

    async def _handle(self, request: kmock.Request) -> aiohttp.web.StreamResponse:
        if (
            request.method.value == "PATCH"
            and "apply-patch" in request.headers.get("Content-Type", "")
            and request.resource is not None
        ):
            key = (request.resource, request.namespace, request.name)
            if key not in self.objects or self.objects[key].deleted:
                body = request.data if isinstance(request.data, dict) else json.loads(request.text)
                metadata = {**body.get("metadata", {}), "uid": str(uuid.uuid4()), "resourceVersion": "1"}
                if request.namespace:
                    metadata["namespace"] = request.namespace
                self.objects[key] = {**body, "metadata": metadata}
                return aiohttp.web.json_response(self.objects[key].raw, status=201)
        return await super()._handle(request)


@asynccontextmanager
async def helm_cluster(workdir: Path, namespace: str) -> AsyncIterator[tuple[HelmableEmulator, Config]]:
    """The emulator, and a Helm configuration whose actions go to it in `namespace`."""
    async with HelmableEmulator() as emulator, kmock.Server(emulator):
        emulator.resources.load_bundled()
        declare_sie_resources(emulator)
        emulator.resources[PEERINGS] = kmock.ResourceInfo(
            kind="KopfPeering", namespaced=True, verbs={"get", "list", "watch", "patch", "create", "delete"}
        )
        emulator["get /version"] << KUBERNETES_VERSION
        emulator["get /openapi/v2"] << b""  # an empty protobuf document: nothing to validate against
        core = await (await emulator.get("/api/v1")).json()
        emulator["get /api/v1"] << {**core, "groupVersion": "v1"}
        kubeconfig = write_kubeconfig(workdir / "kubeconfig", str(emulator.url))
        config = Config(kubeconfig_path=kubeconfig, namespace=namespace, storage_driver="memory")
        try:
            yield emulator, config
        finally:
            config.close()
