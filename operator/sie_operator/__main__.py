"""`python -m sie_operator run`: the operator as the chart runs it; `--version` prints the version.

Watches OPERATOR_NAMESPACE (else the pod's POD_NAMESPACE; neither set: every namespace), with kopf
peering so that of several replicas one is active; `--standalone` turns peering off (one replica,
or a laptop). Liveness and readiness at :OPERATOR_HEALTH_PORT/healthz (ready once kopf watches,
`sie_operator.health`), Prometheus metrics at :OPERATOR_METRICS_PORT/metrics; 0 turns either off.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys

from sie.core.config import settings as config
from sie_operator import __version__


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sie_operator", description="The SIE Kubernetes operator (kopf).")
    parser.add_argument("--version", action="version", version=f"sie-operator {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="Reconcile IngestionSource, WorkerScaler and DeadLetterReplay")
    run.add_argument("--standalone", action="store_true", help="No peering: only one replica may run")
    args = parser.parse_args(argv)

    from prometheus_client import start_http_server

    import sie_operator.handlers  # noqa: F401  (registers the handlers)
    from sie.core.logging import configure_logging, get_logger
    from sie.core.metrics import set_component

    configure_logging(config.log_level)
    set_component("operator")
    log = get_logger("sie_operator")
    if config.operator_metrics_port:
        # Every interface: Prometheus scrapes the pod from outside.
        start_http_server(config.operator_metrics_port, addr="0.0.0.0")  # noqa: S104
    namespace = config.operator_namespace
    log.info(
        "operator_starting",
        version=__version__,
        namespace=namespace or "*",
        peering=None if args.standalone else config.operator_peering,
    )
    # What kopf.run() does, with the health endpoint beside kopf in the same event loop.
    with contextlib.suppress(asyncio.CancelledError):
        asyncio.run(_operate(namespace, standalone=args.standalone))
    return 0


async def _operate(namespace: str | None, *, standalone: bool) -> None:
    import kopf

    from sie_operator import health

    insights = health.Insights()  # what kopf knows it watches; /healthz reads it
    async with health.serving(config.operator_health_port, insights, namespace):
        await kopf.operator(
            clusterwide=namespace is None,
            namespaces=[namespace] if namespace else [],
            standalone=standalone,
            peering_name=None if standalone else config.operator_peering,
            insights=insights,
        )


if __name__ == "__main__":
    sys.exit(main())
