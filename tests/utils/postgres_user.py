"""PostgreSQL's programs refuse to run as root: as root, a test's scratch directory goes to `postgres`."""

from __future__ import annotations

import os
import pwd
from pathlib import Path


def run_as_postgres(directory: Path) -> list[str]:
    """Give `directory` to the `postgres` user when running as root; the prefix that runs a command
    as its owner (`runuser -u postgres --`), empty when not root."""
    if os.geteuid() != 0:
        return []
    owner = pwd.getpwnam("postgres")
    os.chown(directory, owner.pw_uid, owner.pw_gid)
    return ["runuser", "-u", "postgres", "--"]
