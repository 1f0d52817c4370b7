"""A streaming replica of a test's PostgreSQL cluster, made as an operator makes one.

`pg_basebackup -R -X stream` copies the primary cluster into a temporary directory and writes its
`primary_conninfo` and `standby.signal`; `pg_ctl start` then serves it, read-only, on a free loopback
port, replaying what the primary streams. Every database of the primary is there, including those
created after the copy. Replay can be paused (`pg_wal_replay_pause()`) to make the replica lag on
purpose, and the replica stopped and started again to make it fail.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import psycopg

from bench.processes import free_port, wait_until
from tests.utils.postgres_user import run_as_postgres


class ReplicationRefused(Exception):
    """The primary does not let this host make a replication connection (its pg_hba.conf)."""


class StreamingReplica:
    """A hot standby of the cluster at 127.0.0.1:`primary_port`, as the `postgres` user."""

    def __init__(self, *, bin_dir: Path, primary_port: int, password: str | None = None) -> None:
        self.bin_dir = bin_dir
        self.primary_port = primary_port
        self.password = password
        self.port = free_port()
        self.directory = Path(tempfile.mkdtemp(prefix="sie-replica-pg-"))
        self.data = self.directory / "data"
        self.log_file = self.directory / "postgres.log"
        # The server refuses to run as root: as root, the copy belongs to `postgres`.
        self._as_owner = run_as_postgres(self.directory)

    def _run(self, *command: str, **options: Any) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self._as_owner, *command], check=True, capture_output=True, text=True, timeout=300, **options
        )

    def create(self) -> None:
        """Copy the primary (`pg_basebackup -R`) and start the copy as its standby."""
        env = {**os.environ, **({"PGPASSWORD": self.password} if self.password else {})}
        try:
            self._run(
                str(self.bin_dir / "pg_basebackup"),
                "-h", "127.0.0.1", "-p", str(self.primary_port), "-U", "postgres",
                "-D", str(self.data), "-R", "-X", "stream", "--checkpoint=fast", "--no-sync",
                env=env,
            )  # fmt: skip
        except subprocess.CalledProcessError as exc:
            if "pg_hba.conf" in exc.stderr:
                raise ReplicationRefused(exc.stderr.strip()) from exc
            raise
        self.start()

    def start(self) -> None:
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "-o", options, "-l", str(self.log_file),
            "-w", "start",
        )  # fmt: skip

    def stop(self) -> None:
        self._run(str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def destroy(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)

    def url(self, database: str) -> str:
        secret = f":{self.password}" if self.password else ""
        return f"postgresql://postgres{secret}@127.0.0.1:{self.port}/{database}"

    def query(self, sql: str, *params: object, database: str = "postgres") -> Any:
        """The first column of the first row of `sql`, run on the replica."""
        with psycopg.connect(self.url(database), autocommit=True, connect_timeout=5) as connection:
            row = connection.execute(sql, params or None).fetchone()
        return None if row is None else row[0]

    def pause_replay(self) -> None:
        """Stop applying what the primary streams (it keeps receiving it): the replica lags from now on."""
        self.query("SELECT pg_wal_replay_pause()")
        wait_until(
            lambda: self.query("SELECT pg_get_wal_replay_pause_state()") == "paused",
            timeout=30,
            what="replay paused on the replica",
        )

    def resume_replay(self) -> None:
        self.query("SELECT pg_wal_replay_resume()")

    def wait_for_database(self, database: str, *, timeout: float = 60) -> None:
        """Until a database created on the primary has reached the replica."""

        def present() -> bool:
            return bool(self.query("SELECT count(*) FROM pg_database WHERE datname = %s", database))

        wait_until(present, timeout=timeout, what=f"database {database} on the replica")

    def caught_up_with(self, primary_url: str) -> bool:
        """Whether the replica has replayed all the primary had written when asked."""
        with psycopg.connect(primary_url, autocommit=True, connect_timeout=5) as connection:
            written = connection.execute("SELECT pg_current_wal_lsn()").fetchone()
        assert written is not None
        lsn = written[0]
        return bool(self.query("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", str(lsn)))
