"""A real PgBouncer (the distribution's `pgbouncer`) in transaction pooling mode, for one test module.

It listens on a free loopback port and passes every database name through to the PostgreSQL at
127.0.0.1:`upstream_port` (`* =`), with `pool_size` server connections per database and user: far
fewer than the clients, so consecutive transactions of one client run on different server
connections, as they do in production. Extra `[databases]` entries (`aliases`) can give a database a
pool of its own. Authentication is `trust` both ways (the machine's cluster trusts loopback).
PgBouncer refuses to run as root: as root it switches to the `postgres` user (`-u`).
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

import psycopg

from bench.processes import free_port, wait_until


class PgBouncer:
    def __init__(
        self, *, upstream_port: int, pool_size: int = 4, aliases: dict[str, str] | None = None
    ) -> None:
        self.upstream_port = upstream_port
        self.pool_size = pool_size
        self.aliases = aliases or {}
        self.port = free_port()
        self.directory = Path(tempfile.mkdtemp(prefix="sie-pgbouncer-"))
        self.log_file = self.directory / "pgbouncer.log"
        self.process: subprocess.Popen[bytes] | None = None
        self._as_user: list[str] = []
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            os.chown(self.directory, owner.pw_uid, owner.pw_gid)  # its log file
            self._as_user = ["-u", "postgres"]

    def _write_config(self) -> Path:
        aliases = "".join(f"{name} = {options}\n" for name, options in self.aliases.items())
        (self.directory / "userlist.txt").write_text('"postgres" ""\n')
        ini = self.directory / "pgbouncer.ini"
        ini.write_text(
            "[databases]\n"
            f"{aliases}"
            f"* = host=127.0.0.1 port={self.upstream_port}\n"
            "[pgbouncer]\n"
            "listen_addr = 127.0.0.1\n"
            f"listen_port = {self.port}\n"
            "unix_socket_dir =\n"
            "auth_type = trust\n"
            f"auth_file = {self.directory / 'userlist.txt'}\n"
            "pool_mode = transaction\n"
            f"default_pool_size = {self.pool_size}\n"
            "max_client_conn = 500\n"
            f"logfile = {self.log_file}\n"
            "admin_users = postgres\n"
        )
        return ini

    def start(self) -> None:
        ini = self._write_config()
        self.process = subprocess.Popen(
            [shutil.which("pgbouncer") or "pgbouncer", *self._as_user, str(ini)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        wait_until(self._answers, timeout=20, what="pgbouncer to accept connections")

    def _answers(self) -> bool:
        try:
            with psycopg.connect(self.url("pgbouncer"), autocommit=True, connect_timeout=2) as connection:
                connection.execute("SHOW VERSION")
        except psycopg.Error:
            return False
        return True

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=20)
        shutil.rmtree(self.directory, ignore_errors=True)

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def log_text(self) -> str:
        return self.log_file.read_text(errors="replace") if self.log_file.exists() else ""
