"""Error reporting: Sentry when `SENTRY_DSN` is set, nothing otherwise."""

from __future__ import annotations

import sie
from sie.core.config import settings


def init_sentry(component: str) -> bool:
    if not settings.sentry_dsn:
        return False
    import sentry_sdk

    sentry_sdk.init(
        dsn=settings.sentry_dsn,
        environment=settings.environment,
        release=f"sie@{sie.__version__}",
        server_name=component,
        send_default_pii=False,
        traces_sample_rate=0.0,
    )
    return True
