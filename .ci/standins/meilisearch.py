"""The Meilisearch stand-in's server: the tests' fake of Meilisearch 1.15, on 0.0.0.0:7700.

Each request is logged as one JSON line, and so is every way it strays from Meilisearch's OpenAPI
document (`"level": "error"`), so a compose run shows whether SIE spoke Meilisearch's API.
"""

from __future__ import annotations

import json
import os
import threading
from http.server import ThreadingHTTPServer
from pathlib import Path

from meili_fake import MeiliFake, OpenApiContract, Response, _handler_for

HERE = Path(__file__).resolve().parent
PORT = 7700


class LoggedMeiliFake(MeiliFake):
    """The fake, with each request and each contract violation written to stdout."""

    _log_lock = threading.Lock()

    def handle(self, method: str, target: str, headers: dict[str, str], raw_body: bytes) -> Response:
        with self._log_lock:
            seen = len(self.violations)
            status, body = super().handle(method, target, headers, raw_body)
            lines = [
                {"level": "info", "event": "request", "method": method, "path": target, "status": status}
            ]
            lines += [
                {"level": "error", "event": "contract_violation", "violation": violation}
                for violation in self.violations[seen:]
            ]
        for line in lines:
            print(json.dumps(line), flush=True)
        return status, body


def main() -> None:
    contract = OpenApiContract(HERE / "meilisearch-openapi-1.15.2.json")
    fake = LoggedMeiliFake(api_key=os.environ.get("MEILI_MASTER_KEY", ""), contract=contract)
    # Inside its container, where the other services reach it by name.
    server = ThreadingHTTPServer(("0.0.0.0", PORT), _handler_for(fake))  # noqa: S104
    server.daemon_threads = True
    print(json.dumps({"level": "info", "event": "listening", "port": PORT}), flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
