"""API keys: `sie_<key id>_<secret>`. Only an HMAC of the secret is stored; checks are constant-time."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string
from dataclasses import dataclass
from typing import Literal

from sqlalchemy.orm import Session

from sie.core.config import settings
from sie.core.models import ApiKey, utcnow

Scope = Literal["admin", "ingest", "read", "system"]
# Every tenant-level scope (`--admin`). `system` is not among them: only `sie api-key create --system`
# grants it, to the operator's key, which may then name another tenant (sources, dead letters).
ALL_SCOPES: tuple[Scope, ...] = ("admin", "ingest", "read")
SYSTEM_SCOPES: tuple[Scope, ...] = (*ALL_SCOPES, "system")
DEFAULT_SCOPES: tuple[Scope, ...] = ("ingest", "read")
_ALPHABET = string.ascii_letters + string.digits


@dataclass(frozen=True)
class Principal:
    """Who is calling: one key of one tenant, with its scopes."""

    key_id: str
    tenant: str
    scopes: frozenset[str]
    rate_limits: dict[str, dict[str, int]] | None = None

    def has(self, scope: Scope) -> bool:
        # `admin` covers every scope of its own tenant, never `system` (acting for other tenants).
        return scope in self.scopes or (scope != "system" and "admin" in self.scopes)


def _hash_secret(secret: str) -> str:
    return hmac.new(settings.api_secret_key.encode(), secret.encode(), hashlib.sha256).hexdigest()


def create_api_key(
    session: Session,
    *,
    tenant: str,
    name: str = "",
    scopes: tuple[Scope, ...] = DEFAULT_SCOPES,
    rate_limits: dict[str, dict[str, int]] | None = None,
) -> tuple[ApiKey, str]:
    """Store a new key and return it with its plain text, which is shown once and never stored."""
    key_id = "".join(secrets.choice(_ALPHABET) for _ in range(12))
    secret = secrets.token_urlsafe(32)
    row = ApiKey(
        id=key_id,
        tenant=tenant,
        name=name,
        scopes=sorted(set(scopes)),
        key_hash=_hash_secret(secret),
        rate_limits=rate_limits,
    )
    session.add(row)
    session.flush()
    return row, f"sie_{key_id}_{secret}"


def verify_api_key(session: Session, presented: str) -> Principal | None:
    """The principal for a presented key, or None if it is malformed, unknown, revoked or wrong."""
    prefix, _, rest = presented.partition("_")
    key_id, _, secret = rest.partition("_")
    if prefix != "sie" or len(key_id) != 12 or not secret:
        return None
    row = session.get(ApiKey, key_id)
    # Hash even when the key is unknown so both paths take the same time.
    candidate = _hash_secret(secret)
    expected = row.key_hash if row is not None else _hash_secret(secrets.token_urlsafe(32))
    if not hmac.compare_digest(candidate, expected) or row is None or row.revoked_at is not None:
        return None
    return Principal(
        key_id=row.id, tenant=row.tenant, scopes=frozenset(row.scopes), rate_limits=row.rate_limits or None
    )


def revoke_api_key(session: Session, key_id: str) -> bool:
    row = session.get(ApiKey, key_id)
    if row is None or row.revoked_at is not None:
        return False
    row.revoked_at = utcnow()
    return True
