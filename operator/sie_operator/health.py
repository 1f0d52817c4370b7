"""`GET /healthz`: 200 once kopf watches the operator's three resources, 503 with what it waits for.

kopf's own liveness endpoint answers 200 as soon as the startup handlers have run, while kopf may
still be resolving its namespace (a namespaced operator without the right to list namespaces spent a
minute there) or may never find a resource whose CRD is missing. This endpoint reads kopf's
`Insights` instead, the record kopf keeps of the namespaces and resources it serves: ready means the
namespace is resolved and a watch stream runs for IngestionSource, WorkerScaler and DeadLetterReplay.
The chart points the startup, liveness and readiness probes here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web
from kopf._cogs.structs.references import Insights  # kopf.operator() takes one; kopf does not export it

from sie_operator import GROUP
from sie_operator.handlers import replays, scalers, sources

__all__ = ["Insights", "serving", "waiting_for"]

WATCHED = frozenset({sources.PLURAL, scalers.PLURAL, replays.PLURAL})
# Every interface: the kubelet probes the pod from outside.
LISTEN_HOST = "0.0.0.0"  # noqa: S104


def waiting_for(insights: Insights, namespace: str | None) -> list[str]:
    """What kopf does not watch yet (empty: it watches everything it serves)."""
    waiting: list[str] = []
    if not insights.ready_namespaces.is_set() or namespace not in insights.namespaces:
        waiting.append(f"namespace {namespace}" if namespace else "every namespace")
    watched = {resource.plural for resource in insights.watched_resources if resource.group == GROUP}
    waiting.extend(f"{plural}.{GROUP}" for plural in sorted(WATCHED - watched))
    return waiting


def _health_handler(insights: Insights, namespace: str | None) -> web.Handler:
    async def healthz(_: web.Request) -> web.Response:
        waiting = waiting_for(insights, namespace)
        if waiting:
            return web.json_response({"status": "starting", "waiting_for": waiting}, status=503)
        return web.json_response({"status": "watching", "namespace": namespace or "*"})

    return healthz


@asynccontextmanager
async def serving(port: int, insights: Insights, namespace: str | None) -> AsyncIterator[None]:
    """`/healthz` on `port` while the block runs; port 0 serves nothing."""
    if not port:
        yield
        return
    app = web.Application()
    app.router.add_get("/healthz", _health_handler(insights, namespace))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, LISTEN_HOST, port).start()
    try:
        yield
    finally:
        await runner.cleanup()
