"""The operator's client of the SIE API: sources and dead-letter replays, with a `system`-scoped key.

The engine owns sources and the dead-letter queue; the operator only declares. HTTP outcomes are
mapped into SIE's error tree: no answer, 5xx and 429 are `ServiceUnavailable` (kopf retries),
other 4xx are `EngineRejected` (the spec or the key is wrong; retrying cannot help).
"""

from __future__ import annotations

from typing import Any

import httpx

from sie import __version__
from sie.core.errors import PermanentError, ServiceUnavailable

TIMEOUT_SECONDS = 30.0


class EngineRejected(PermanentError):
    """The API refused the request with a 4xx (`status_code`); the message quotes the API's reason."""

    kind = "engine_rejected"

    def __init__(self, status_code: int, detail: str) -> None:
        self.status_code = status_code
        super().__init__(f"the SIE API answered {status_code}: {detail}")


def _detail(response: httpx.Response) -> str:
    try:
        detail = response.json().get("detail", response.text)
    except ValueError:
        detail = response.text
    return detail if isinstance(detail, str) else str(detail)


class EngineClient:
    def __init__(
        self, base_url: str, api_key: str, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            headers={"X-API-Key": api_key, "User-Agent": f"sie-operator/{__version__}"},
            timeout=TIMEOUT_SECONDS,
            transport=transport,
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return await self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise ServiceUnavailable("sie-api", type(exc).__name__) from exc

    @staticmethod
    def _body(response: httpx.Response) -> dict[str, Any]:
        if response.status_code == 429 or response.status_code >= 500:
            raise ServiceUnavailable("sie-api", f"{response.status_code}: {_detail(response)}")
        if response.status_code >= 400:
            raise EngineRejected(response.status_code, _detail(response))
        return dict(response.json()) if response.content else {}

    async def _request(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        return self._body(await self._send(method, path, **kwargs))

    # Sources: the operator always names the tenant; its key's system scope allows any.
    async def put_source(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        return await self._request("PUT", f"/v1/sources/{name}", json=body)

    async def get_source(self, name: str, tenant: str) -> dict[str, Any] | None:
        response = await self._send("GET", f"/v1/sources/{name}", params={"tenant": tenant})
        return None if response.status_code == 404 else self._body(response)

    async def delete_source(self, name: str, tenant: str) -> bool:
        """Remove the source; False when it was already gone."""
        response = await self._send("DELETE", f"/v1/sources/{name}", params={"tenant": tenant})
        if response.status_code == 404:
            return False
        self._body(response)
        return True

    async def sync_source(self, name: str, tenant: str) -> dict[str, Any]:
        return await self._request("POST", f"/v1/sources/{name}/sync", params={"tenant": tenant})

    # Dead letters.
    async def replay(self, request: dict[str, Any]) -> dict[str, Any]:
        """`POST /v1/dead-letters/replay`: a dry run's count and sample, or the jobs sent back."""
        return await self._request("POST", "/v1/dead-letters/replay", json=request)

    async def replayed_count(self, replayed_by: str, tenant: str | None) -> int:
        """How many dead letters carry this replay's label in the engine's audit trail."""
        scope = {"tenant": tenant} if tenant is not None else {"all_tenants": "true"}
        params = {"replayed": "true", "replayed_by": replayed_by, "limit": 1, **scope}
        return int((await self._request("GET", "/v1/dead-letters", params=params))["total"])
