"""API keys: `sie_<key id>_<secret>`. Only an HMAC of the secret is stored; checks are constant-time."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from sqlalchemy import Connection, bindparam, or_, select, update
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


_KEY_ROW = select(
    ApiKey.id, ApiKey.tenant, ApiKey.scopes, ApiKey.key_hash, ApiKey.rate_limits, ApiKey.revoked_at
).where(ApiKey.id == bindparam("key_id"))


def _key_parts(presented: str) -> tuple[str, str] | None:
    """The key id and the secret of `sie_<key id>_<secret>`, or None when it is not shaped so."""
    prefix, _, rest = presented.partition("_")
    key_id, _, secret = rest.partition("_")
    return (key_id, secret) if prefix == "sie" and len(key_id) == 12 and secret else None


def is_well_formed(presented: str) -> bool:
    """Whether a presented key has an API key's shape (saying nothing of whether it is valid)."""
    return _key_parts(presented) is not None


def verify_api_key(db: Session | Connection, presented: str) -> Principal | None:
    """The principal for a presented key, or None if it is malformed, unknown, revoked or wrong."""
    parts = _key_parts(presented)
    if parts is None:
        return None
    key_id, secret = parts
    row = db.execute(_KEY_ROW, {"key_id": key_id}).first()
    # Hash even when the key is unknown so both paths take the same time.
    candidate = _hash_secret(secret)
    expected = row.key_hash if row is not None else _hash_secret(secrets.token_urlsafe(32))
    if not hmac.compare_digest(candidate, expected) or row is None or row.revoked_at is not None:
        return None
    _note_use(db, row.id)
    return Principal(
        key_id=row.id, tenant=row.tenant, scopes=frozenset(row.scopes), rate_limits=row.rate_limits or None
    )


# `sie api-key list` shows a key's last use to the minute: each API process writes it at most once a
# minute per key (a dictionary look-up on every other request), never once per request.
LAST_USE_RESOLUTION_SECONDS = 60.0
_last_use_written: dict[str, float] = {}
_TOUCH_LAST_USE = (
    update(ApiKey)
    .where(ApiKey.id == bindparam("key_id"))
    .where(or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at < bindparam("stale_before")))
    .values(last_used_at=bindparam("now"))
    .execution_options(synchronize_session=False)
)


def _note_use(db: Session | Connection, key_id: str) -> None:
    now = time.monotonic()
    if now - _last_use_written.get(key_id, float("-inf")) < LAST_USE_RESOLUTION_SECONDS:
        return
    _last_use_written[key_id] = now
    moment = utcnow()
    # Other API processes may have written it within the minute: the row is then left alone.
    stale_before = moment - timedelta(seconds=LAST_USE_RESOLUTION_SECONDS)
    db.execute(_TOUCH_LAST_USE, {"key_id": key_id, "now": moment, "stale_before": stale_before})


def set_rate_limits(session: Session, key_id: str, limits: dict[str, dict[str, int]] | None) -> ApiKey | None:
    """Change an active key's limits in place: `limits` replace those priorities' own, None restores
    the handbook's defaults for all. The key's next request is charged against the new limits."""
    row = session.get(ApiKey, key_id)
    if row is None or row.revoked_at is not None:
        return None
    row.rate_limits = None if limits is None else {**(row.rate_limits or {}), **limits}
    return row


def revoke_api_key(session: Session, key_id: str) -> bool:
    row = session.get(ApiKey, key_id)
    if row is None or row.revoked_at is not None:
        return False
    row.revoked_at = utcnow()
    return True
