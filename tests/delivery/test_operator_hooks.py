"""The chart's operator hooks (charts/sie/files/operator-hooks.py) against a fake Kubernetes API over TLS.

`bootstrap-key` runs the real `sie api-key create --system` on the test database, so the key it
stores is checked to be a working system key; `cleanup` must delete every SIE kind and wait.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from sie.core.db import session_scope
from sie.core.security import verify_api_key
from tests.delivery.chart_render import CHART_DIR

NAMESPACE = "sie-hooks"
TOKEN = "hook-service-account-token"
SECRETS = f"/api/v1/namespaces/{NAMESPACE}/secrets"


def load_hooks() -> ModuleType:
    spec = importlib.util.spec_from_file_location("operator_hooks", CHART_DIR / "files" / "operator-hooks.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass
class FakeKube:
    """Secrets and SIE custom resources of one namespace; objects with finalizers outlive one listing."""

    secrets: dict[str, dict[str, Any]] = field(default_factory=dict)
    resources: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    terminating: dict[str, int] = field(default_factory=dict)
    stuck: bool = False
    requests: list[tuple[str, str]] = field(default_factory=list)

    def handle(self, method: str, path: str, body: dict[str, Any] | None) -> tuple[int, dict[str, Any]]:
        self.requests.append((method, path))
        plural = path.rsplit("/", 1)[1]
        if path == SECRETS and method == "POST":
            assert body is not None
            self.secrets[body["metadata"]["name"]] = body
            return 201, body
        if path.startswith(f"{SECRETS}/") and method == "GET":
            return (200, self.secrets[plural]) if plural in self.secrets else (404, {})
        if path.startswith(f"/apis/sie.example.com/v1alpha1/namespaces/{NAMESPACE}/"):
            items = self.resources.get(plural, [])
            if method == "DELETE":
                self.terminating[plural] = 1  # the operator runs the finalizers meanwhile
                return 200, {"items": items}
            if method == "GET":
                if self.terminating.get(plural) == 0 and not self.stuck:
                    self.resources[plural] = []
                elif plural in self.terminating:
                    self.terminating[plural] -= 1
                return 200, {"items": self.resources.get(plural, [])}
        return 404, {}


@pytest.fixture
def fake_kube(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[FakeKube, ModuleType]]:
    certificate = ["-addext", "subjectAltName=IP:127.0.0.1", "-subj", "/CN=127.0.0.1", "-days", "1"]
    files = ["-keyout", str(tmp_path / "key.pem"), "-out", str(tmp_path / "ca.crt")]
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", *certificate, *files],
        check=True,
        capture_output=True,
    )
    kube = FakeKube()

    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            if self.headers["Authorization"] != f"Bearer {TOKEN}":
                status, payload = 401, {}
            else:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                status, payload = kube.handle(self.command, self.path, body)
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_DELETE = _serve

        def log_message(self, *_: object) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tmp_path / "ca.crt", tmp_path / "key.pem")
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()

    # What Kubernetes mounts into a pod: the token, the namespace and the API server's CA.
    (tmp_path / "token").write_text(TOKEN)
    (tmp_path / "namespace").write_text(NAMESPACE)
    hooks = load_hooks()
    monkeypatch.setattr(hooks, "ACCOUNT", str(tmp_path))
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", str(server.server_address[1]))
    yield kube, hooks
    server.shutdown()


def test_bootstrap_key_stores_a_working_system_key_once(
    fake_kube: tuple[FakeKube, ModuleType], monkeypatch: pytest.MonkeyPatch
) -> None:
    kube, hooks = fake_kube
    monkeypatch.setenv("KEY_SECRET", "sie-operator-key")
    monkeypatch.setenv("KEY_NAME", "SIE_ADMIN_API_KEY")
    monkeypatch.setenv("KEY_TENANT", "sie-system")
    # The hook calls the image's `sie` CLI; here, this environment's.
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")

    assert hooks.bootstrap_key(hooks.KubeApi()) == 0
    secret = kube.secrets["sie-operator-key"]
    key = base64.b64decode(secret["data"]["SIE_ADMIN_API_KEY"]).decode()
    with session_scope() as session:
        principal = verify_api_key(session, key)
    assert principal is not None and "system" in principal.scopes

    # An upgrade runs the hook again: the key is there, nothing new is made.
    assert hooks.bootstrap_key(hooks.KubeApi()) == 0
    assert [request for request in kube.requests if request[0] == "POST"] == [("POST", SECRETS)]


def test_cleanup_deletes_every_sie_kind_and_waits_for_the_finalizers(
    fake_kube: tuple[FakeKube, ModuleType],
) -> None:
    kube, hooks = fake_kube
    kube.resources = {"workerscalers": [{"metadata": {"name": "sie-worker"}}], "ingestionsources": [{}]}
    assert hooks.cleanup(hooks.KubeApi()) == 0
    deleted = {path.rsplit("/", 1)[1] for method, path in kube.requests if method == "DELETE"}
    assert deleted == {"ingestionsources", "workerscalers", "deadletterreplays"}
    assert all(not items for items in kube.resources.values())


def test_cleanup_fails_when_resources_never_go(
    fake_kube: tuple[FakeKube, ModuleType], monkeypatch: pytest.MonkeyPatch
) -> None:
    kube, hooks = fake_kube
    kube.resources, kube.stuck = {"deadletterreplays": [{}]}, True
    monkeypatch.setattr(hooks, "CLEANUP_WAIT_SECONDS", 0)
    assert hooks.cleanup(hooks.KubeApi()) == 1
