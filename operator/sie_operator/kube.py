"""The few Kubernetes calls the operator makes itself (kopf does the watching and the status patches).

Read and set a Deployment's `scale` subresource, read one key of a Secret. The official client is
synchronous, so each call runs in a thread. Its errors are mapped into SIE's error tree here.
"""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import kubernetes
import urllib3
from kubernetes.client.exceptions import ApiException

from sie.core.errors import PermanentError, ServiceUnavailable, TransientError


class ObjectNotFound(TransientError):
    """The object does not exist (yet): creating it fixes this, so it is worth retrying."""

    kind = "not_found"


class KubernetesRejected(PermanentError):
    """The API server refused the request (forbidden, invalid): retrying the same call cannot help."""

    kind = "kubernetes_rejected"


def load_configuration() -> None:
    """In a pod, its service account; elsewhere the kubeconfig (`KUBECONFIG`), as kubectl does."""
    try:
        kubernetes.config.load_incluster_config()
    except kubernetes.config.ConfigException:
        kubernetes.config.load_kube_config()


def _mapped(exc: Exception, what: str) -> Exception:
    if isinstance(exc, ApiException):
        if exc.status == 404:
            return ObjectNotFound(f"{what} not found")
        if exc.status in (409, 429) or (exc.status or 0) >= 500:
            return ServiceUnavailable("kubernetes", f"{exc.status} on {what}")
        return KubernetesRejected(f"{what}: {exc.status} {exc.reason}")
    return ServiceUnavailable("kubernetes", f"{type(exc).__name__} on {what}")


class KubeClient:
    """Deployments' scale and Secrets, through one configured API client."""

    def __init__(self) -> None:
        load_configuration()
        self._api = kubernetes.client.ApiClient()
        self._apps = kubernetes.client.AppsV1Api(self._api)
        self._core = kubernetes.client.CoreV1Api(self._api)

    async def _call(self, what: str, function: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        try:
            # The raw JSON, not the client's models: only a few fields are read.
            response = await asyncio.to_thread(function, *args, _preload_content=False, **kwargs)
        except (ApiException, urllib3.exceptions.HTTPError, OSError) as exc:
            raise _mapped(exc, what) from exc
        return dict(json.loads(response.data))

    async def deployment_replicas(self, namespace: str, name: str) -> int:
        scale = await self._call(
            f"deployment {namespace}/{name}", self._apps.read_namespaced_deployment_scale, name, namespace
        )
        return int(scale.get("spec", {}).get("replicas") or 0)

    async def scale_deployment(self, namespace: str, name: str, replicas: int) -> None:
        await self._call(
            f"deployment {namespace}/{name}",
            self._apps.patch_namespaced_deployment_scale,
            name,
            namespace,
            {"spec": {"replicas": replicas}},
        )

    async def secret_value(self, namespace: str, name: str, key: str) -> str:
        secret = await self._call(
            f"secret {namespace}/{name}", self._core.read_namespaced_secret, name, namespace
        )
        encoded = (secret.get("data") or {}).get(key)
        if encoded is None:
            raise ObjectNotFound(f"key '{key}' of secret {namespace}/{name} not found")
        return base64.b64decode(encoded).decode()

    def close(self) -> None:
        self._api.close()
