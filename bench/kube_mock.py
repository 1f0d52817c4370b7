"""kmock as the Kubernetes API for the operator's tests and `bench/operator.py`.

kmock's quirks (shared/design/offline-stack.md): its bundled builtin resources must be loaded and
our custom resources declared. Both the tests and the bench point kopf and the Kubernetes client
at it through a kubeconfig file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kmock
from sie_operator import GROUP, VERSION

GROUP_VERSION = f"{GROUP}/{VERSION}"
KINDS = {
    "ingestionsources": "IngestionSource",
    "workerscalers": "WorkerScaler",
    "deadletterreplays": "DeadLetterReplay",
}


def declare_sie_resources(emulator: Any) -> None:
    """Kubernetes' builtin resources and SIE's three custom resources, with their status subresource."""
    emulator.resources.load_bundled()
    for plural, kind in KINDS.items():
        emulator.resources[f"{GROUP_VERSION}/{plural}"] = kmock.ResourceInfo(
            kind=kind,
            namespaced=True,
            verbs={"get", "list", "watch", "patch", "create", "delete"},
            subresources={"status"},
        )


def write_kubeconfig(path: Path, server_url: str) -> Path:
    """A kubeconfig at `path` whose current context is the emulator at `server_url`."""
    path.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: kmock\n"
        f"clusters: [{{name: kmock, cluster: {{server: '{server_url}'}}}}]\n"
        "users: [{name: kmock, user: {token: test-token}}]\n"
        "contexts: [{name: kmock, context: {cluster: kmock, user: kmock}}]\n"
    )
    return path
