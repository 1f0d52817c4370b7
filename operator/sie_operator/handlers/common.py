"""What every handler module shares: the clients in kopf's memo, and SIE's errors mapped to kopf's."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import kopf

from sie.core import metrics
from sie.core.errors import SieError, TransientError
from sie_operator import GROUP
from sie_operator.engine import EngineClient
from sie_operator.kube import KubeClient

FINALIZER = f"{GROUP}/finalizer"
# kopf's own annotations (progress, last handled spec): a prefix of their own, never GROUP's.
KOPF_PREFIX = "sie-operator.kopf.dev"
# What the operator had kopf write under GROUP before KOPF_PREFIX; the marker hid every GROUP annotation.
LEGACY_KOPF_ANNOTATIONS = (f"{GROUP}/kopf-managed", f"{GROUP}/last-handled-configuration")
# How long kopf waits before retrying a handler that met a transient error (engine or API down).
RETRY_DELAY_SECONDS = 15.0


def engine_of(memo: kopf.Memo) -> EngineClient:
    client: EngineClient = memo.engine
    return client


def kube_of(memo: kopf.Memo) -> KubeClient:
    client: KubeClient = memo.kube
    return client


def kopf_error(exc: SieError, resource: str) -> kopf.TemporaryError | kopf.PermanentError:
    """SIE's error tree in kopf's terms (transient: retried later; permanent: not), counted per kind."""
    metrics.OPERATOR_RECONCILE_ERRORS.labels(resource=resource).inc()
    if isinstance(exc, TransientError):
        return kopf.TemporaryError(str(exc), delay=RETRY_DELAY_SECONDS)
    return kopf.PermanentError(str(exc))


@contextmanager
def kopf_errors(resource: str) -> Iterator[None]:
    try:
        yield
    except SieError as exc:
        raise kopf_error(exc, resource) from exc
