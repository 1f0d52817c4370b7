"""Before `helm uninstall` removes the operator: delete this namespace's SIE custom resources.

The operator puts finalizers on them; once it is gone, nothing would remove those and the
resources (and any later re-install) would hang. Run by the pre-delete hook Job with the
in-cluster service account; only the standard library, so any Python image will do.
"""

from __future__ import annotations

import json
import os
import ssl
import sys
import time
import urllib.error
import urllib.request

ACCOUNT = "/var/run/secrets/kubernetes.io/serviceaccount"
GROUP_VERSION = "sie.example.com/v1alpha1"
PLURALS = ("ingestionsources", "deadletterreplays", "workerscalers")
WAIT_SECONDS = float(os.environ.get("CLEANUP_WAIT_SECONDS", "240"))


def main() -> int:
    with open(f"{ACCOUNT}/token") as token_file, open(f"{ACCOUNT}/namespace") as namespace_file:
        token, namespace = token_file.read().strip(), namespace_file.read().strip()
    server = f"https://{os.environ['KUBERNETES_SERVICE_HOST']}:{os.environ['KUBERNETES_SERVICE_PORT']}"
    context = ssl.create_default_context(cafile=f"{ACCOUNT}/ca.crt")

    def call(method: str, plural: str) -> list[dict[str, object]]:
        # The URL is always https:// to the in-cluster API server.
        request = urllib.request.Request(  # noqa: S310
            f"{server}/apis/{GROUP_VERSION}/namespaces/{namespace}/{plural}",
            method=method,
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, context=context, timeout=15) as response:  # noqa: S310
                return json.load(response).get("items", [])
        except urllib.error.HTTPError as error:
            if error.code == 404:  # the CRD is not installed: nothing to clean up
                return []
            raise

    for plural in PLURALS:
        call("DELETE", plural)
        print(json.dumps({"event": "custom_resources_deleted", "kind": plural, "namespace": namespace}))
    deadline = time.monotonic() + WAIT_SECONDS
    while remaining := {plural: len(items) for plural in PLURALS if (items := call("GET", plural))}:
        if time.monotonic() > deadline:
            print(json.dumps({"event": "custom_resources_still_terminating", "remaining": remaining}))
            return 1
        time.sleep(2)
    print(json.dumps({"event": "custom_resources_gone", "namespace": namespace}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
