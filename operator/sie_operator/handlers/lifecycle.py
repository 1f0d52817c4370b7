"""Operator start and stop: kopf's settings, and the clients every handler uses (kept in kopf's memo)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import kopf

from sie.core.config import settings as config
from sie.core.logging import get_logger
from sie.core.redis import redis_client
from sie_operator.engine import EngineClient
from sie_operator.handlers.common import FINALIZER, KOPF_PREFIX, engine_of, kube_of
from sie_operator.kube import KubeClient

log = get_logger(__name__)


@kopf.on.startup()
async def configure(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    if config.sie_admin_api_key is None:
        raise kopf.PermanentError(
            "SIE_ADMIN_API_KEY is not set (a key made with `sie api-key create --system`)"
        )
    # Our own names on the resources, so `kubectl get -o yaml` shows whose marks they are. kopf's
    # bookkeeping gets a prefix apart from GROUP: kopf ignores every annotation under its prefix when
    # it looks for changes, and users annotate under GROUP (the sync-now annotation).
    settings.persistence.finalizer = FINALIZER
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=KOPF_PREFIX)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=KOPF_PREFIX, key="last-handled-configuration"
    )
    # Namespaced, kopf would first list every namespace to match its namespace against: a namespace's
    # Role cannot grant that, and kopf retried the 403 for a minute before it watched anything. Its
    # exact namespace name needs no listing (nor does a CRD list: the resources are discovered once).
    settings.scanning.disabled = not settings.peering.clusterwide
    # Events for what people act on (warnings); the handlers post their own on purpose.
    settings.posting.level = logging.WARNING
    # Re-list now and then, so a watch silently dropped by a proxy is noticed.
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    memo.engine = EngineClient(config.sie_api_url, config.sie_admin_api_key.get_secret_value())
    memo.kube = await asyncio.to_thread(KubeClient)
    memo.redis = redis_client()
    log.info(
        "operator_configured",
        api_url=config.sie_api_url,
        namespace=config.operator_namespace or "*",
        finalizer=FINALIZER,
    )


@kopf.on.cleanup()
async def close_clients(memo: kopf.Memo, **_: Any) -> None:
    if "engine" in memo:  # absent when the start failed
        await engine_of(memo).aclose()
        kube_of(memo).close()
    log.info("operator_stopped")
