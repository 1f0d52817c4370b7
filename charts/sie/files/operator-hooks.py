"""Helm hooks around the operator, run as `python -c <this file> COMMAND` with the pod's service account.

  bootstrap-key  post-install/post-upgrade, API image: once, make the operator's system API key with
                 `sie api-key create --system` and keep it in the Secret $KEY_SECRET (key $KEY_NAME).
  cleanup        pre-delete, operator image: delete this namespace's SIE custom resources while the
                 operator still runs, so their finalizers are not left hanging once it is gone.

Only the standard library, so any image with Python will do. Logs are JSON lines.
"""

from __future__ import annotations

import base64
import json
import os
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from typing import Any

ACCOUNT = "/var/run/secrets/kubernetes.io/serviceaccount"
CUSTOM_RESOURCES = "/apis/sie.example.com/v1alpha1/namespaces/{namespace}/{plural}"
SECRETS = "/api/v1/namespaces/{namespace}/secrets"
PLURALS = ("ingestionsources", "deadletterreplays", "workerscalers")
CLEANUP_WAIT_SECONDS = 240


def log(event: str, **fields: object) -> None:
    print(json.dumps({"event": event, **fields}), flush=True)


class KubeApi:
    """The few calls the hooks make, to the in-cluster API server."""

    def __init__(self) -> None:
        with open(f"{ACCOUNT}/token") as token, open(f"{ACCOUNT}/namespace") as namespace:
            self.token, self.namespace = token.read().strip(), namespace.read().strip()
        host, port = os.environ["KUBERNETES_SERVICE_HOST"], os.environ["KUBERNETES_SERVICE_PORT"]
        self.server = f"https://{host}:{port}"
        self.context = ssl.create_default_context(cafile=f"{ACCOUNT}/ca.crt")

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any] | None:
        """The response object, or None for 404 (the object, or its CRD, does not exist)."""
        # Always https:// to the API server named by the pod's own environment.
        request = urllib.request.Request(  # noqa: S310
            self.server + path,
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={
                "Authorization": f"Bearer {self.token}",
                "Accept": "application/json",
                "Content-Type": "application/json",
            },
        )
        try:
            with urllib.request.urlopen(request, context=self.context, timeout=15) as response:  # noqa: S310
                return json.load(response)
        except urllib.error.HTTPError as error:
            if error.code == 404:
                return None
            raise


def bootstrap_key(api: KubeApi) -> int:
    secrets = SECRETS.format(namespace=api.namespace)
    secret_name, key_name = os.environ["KEY_SECRET"], os.environ["KEY_NAME"]
    if api.call("GET", f"{secrets}/{secret_name}") is not None:
        log("operator_key_present", secret=secret_name)
        return 0
    # The image's own CLI with fixed arguments: it prints the new key once, on stdout.
    command = [
        "sie",
        "api-key",
        "create",
        "--tenant",
        os.environ["KEY_TENANT"],
        "--system",
        "--name",
        "operator",
    ]
    created = subprocess.run(command, capture_output=True, text=True, check=True)  # noqa: S603
    key = created.stdout.strip().splitlines()[-1]
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": secret_name, "labels": {"app.kubernetes.io/part-of": "sie"}},
        "type": "Opaque",
        "data": {key_name: base64.b64encode(key.encode()).decode()},
    }
    api.call("POST", secrets, secret)
    log("operator_key_created", secret=secret_name)
    return 0


def cleanup(api: KubeApi) -> int:
    paths = {plural: CUSTOM_RESOURCES.format(namespace=api.namespace, plural=plural) for plural in PLURALS}
    for plural, path in paths.items():
        api.call("DELETE", path)
        log("custom_resources_deleted", kind=plural, namespace=api.namespace)
    deadline = time.monotonic() + CLEANUP_WAIT_SECONDS
    while remaining := {
        plural: len(found["items"])
        for plural, path in paths.items()
        if (found := api.call("GET", path)) and found["items"]
    }:
        if time.monotonic() > deadline:
            log("custom_resources_still_terminating", remaining=remaining)
            return 1
        time.sleep(2)
    log("custom_resources_gone", namespace=api.namespace)
    return 0


COMMANDS = {"bootstrap-key": bootstrap_key, "cleanup": cleanup}

if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in COMMANDS:
        sys.exit(f"usage: operator-hooks.py {'|'.join(COMMANDS)}")
    sys.exit(COMMANDS[sys.argv[1]](KubeApi()))
