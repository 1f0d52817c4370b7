"""Shared set-up for the benchmarks: a scratch database and Redis db, an API key, generated documents.

Benchmarks talk only to 127.0.0.1. Run them from the repository root with `.venv/bin/python bench/<name>.py`.
"""

from __future__ import annotations

import os
import random
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from scratch import DEFAULT_PG_ADMIN_URL, DEFAULT_REDIS_BASE_URL, ScratchServices


@contextmanager
def scratch_environment(database_url: str | None = None) -> Iterator[dict[str, str]]:
    """A fresh, migrated PostgreSQL database and an empty Redis db of this run's own (as the tests get);
    sets the environment, so call it before `sie` is imported. With `database_url`, that database
    (migrated to head, its rows kept) is used instead of the fresh one."""
    services = ScratchServices.reserve(
        prefix="sie_bench",
        pg_admin_url=os.environ.get("SIE_BENCH_PG_ADMIN_URL", DEFAULT_PG_ADMIN_URL),
        redis_base_url=os.environ.get("SIE_BENCH_REDIS_URL", DEFAULT_REDIS_BASE_URL),
    )
    env = {
        "ENVIRONMENT": "development",
        **services.environment(),
        **({"DATABASE_URL": database_url} if database_url else {}),
        "API_SECRET_KEY": secrets.token_urlsafe(32),
        "SEARCH_BACKEND": "database",
        "LOG_LEVEL": "warning",
    }
    os.environ.update(env)
    os.environ.pop("MEILISEARCH_URL", None)
    services.open()
    # `sie` parses its settings once, at import: only now that the environment names this run's services.
    try:
        from sie.core.db import migrate

        migrate("head")
        yield env
    finally:
        from sie.core.db import get_engine

        get_engine().dispose()
        services.close()


def bench_api_key(tenant: str = "bench") -> str:
    from sie.core.db import session_scope
    from sie.core.security import create_api_key

    unlimited = {p: {"requests": 10_000_000, "period": 60} for p in ("low", "normal", "high")}
    with session_scope() as session:
        _, plain = create_api_key(session, tenant=tenant, rate_limits=unlimited)
    return plain


_SUBJECTS = (
    "The city council",
    "Shareholders",
    "Local residents",
    "The research team",
    "Union leaders",
    "Investors",
    "Hospital staff",
    "The board",
    "Farmers",
    "Teachers",
)
_PEOPLE = ("Maria Lopez", "James Carter", "Aiko Tanaka", "Lars Nilsson", "Priya Sharma", "Daniel Okafor")
_ORGS = ("Northwind Energy", "Globex", "Initech", "the World Bank", "Siemens", "the European Commission")
_PLACES = ("Chicago", "Lisbon", "Nairobi", "Osaka", "Toronto", "Hamburg", "Melbourne", "Warsaw")
_POSITIVE = (
    "celebrated a strong and encouraging result",
    "welcomed the excellent progress",
    "praised the remarkable improvement",
)
_NEGATIVE = (
    "criticised the disappointing and costly delays",
    "warned of a serious and painful decline",
    "condemned the terrible handling of the crisis",
)
_NEUTRAL = ("reviewed the quarterly figures", "discussed the schedule for next year", "published a report")
_FILLER = (
    "Officials said the plan would be reviewed again in the spring after further consultation.",
    "The announcement followed several months of negotiations between the parties involved.",
    "Analysts expect the figures to be revised once the full data for the period is available.",
    "A spokesperson declined to comment on the details but confirmed that talks would continue.",
    "The proposal includes new rules for reporting, a revised budget and a timetable for delivery.",
    "Community groups have asked for more information about how the changes will affect them.",
    "Earlier this year a similar measure was adopted in two neighbouring regions.",
    "The final decision is expected at the next meeting, which is scheduled for the end of the month.",
)


def news_documents(count: int, *, seed: int = 7, words: int = 150) -> list[str]:
    """Unique news-like documents of about `words` words, with people, organisations and places."""
    rng = random.Random(seed)
    documents = []
    for index in range(count):
        tone = rng.choice((_POSITIVE, _NEGATIVE, _NEUTRAL))
        sentences = [
            f"{rng.choice(_SUBJECTS)} in {rng.choice(_PLACES)} {rng.choice(tone)} on Monday, "
            f"according to {rng.choice(_PEOPLE)} of {rng.choice(_ORGS)} (report {index}).",
        ]
        while sum(len(sentence.split()) for sentence in sentences) < words:
            sentences.append(rng.choice(_FILLER))
            if rng.random() < 0.3:
                sentences.append(f"{rng.choice(_PEOPLE)} said {rng.choice(_ORGS)} {rng.choice(tone)}.")
        documents.append(" ".join(sentences))
    return documents


def process_tree(pid: int) -> list[int]:
    """A process and all its descendants that are still alive (from /proc)."""
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        try:
            for task in Path(f"/proc/{current}/task").iterdir():
                pending.extend(int(child) for child in (task / "children").read_text().split())
        except (FileNotFoundError, ProcessLookupError):
            continue
        found.append(current)
    return found


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its children, in MiB (from /proc)."""
    total_kb = 0
    for current in process_tree(pid):
        try:
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total_kb += int(line.split()[1])
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total_kb / 1024


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) used so far by a process and its live children (from /proc)."""
    ticks = 0
    for current in process_tree(pid):
        try:
            # Fields after the command name, which is in parentheses and may hold spaces.
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def command_cpu_seconds(names: tuple[str, ...]) -> float:
    """CPU time used so far by every process whose command is one of `names`, with the children they
    reaped (a PostgreSQL backend's time moves to the postmaster when it exits), from /proc."""
    ticks = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except (FileNotFoundError, ProcessLookupError):
            continue
        command, _, rest = stat.partition("(")[2].rpartition(")")
        if command in names:
            fields = rest.split()
            ticks += sum(int(field) for field in fields[11:15])  # utime stime cutime cstime
    return ticks / os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float:
    """CPU time all cores spent not idle since boot (from /proc/stat), in seconds."""
    fields = [int(value) for value in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle and iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


PY_SPY = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))


@dataclass
class Profile:
    """What py-spy saw while it sampled: folded stacks (root first) and how often each was seen."""

    stacks: Counter[tuple[str, ...]]
    rate: int
    error: str = ""

    @property
    def samples(self) -> int:
        return sum(self.stacks.values())

    def top_self(self, count: int) -> list[tuple[str, int]]:
        """The functions most often on top of the stack: where the CPU itself goes."""
        totals: Counter[str] = Counter()
        for stack, seen in self.stacks.items():
            totals[stack[-1]] += seen
        return totals.most_common(count)

    def top_inclusive(self, count: int, within: tuple[str, ...]) -> list[tuple[str, int]]:
        """The functions of the files under `within` whose calls (with what they call) took the most."""
        totals: Counter[str] = Counter()
        for stack, seen in self.stacks.items():
            for frame in set(stack):
                if any(part in frame for part in within):
                    totals[frame] += seen
        return totals.most_common(count)


@contextmanager
def sampled(pid: int, *, rate: int = 200, subprocesses: bool = False) -> Iterator[Profile]:
    """Sample `pid` with py-spy while the block runs, counting only threads that hold the GIL: CPU
    spent in Python, not time spent waiting on a socket. The profile fills in when the block ends."""
    profile = Profile(Counter(), rate)
    if not Path(PY_SPY).exists():
        profile.error = "py-spy is not installed (pip install py-spy)"
        yield profile
        return
    with tempfile.NamedTemporaryFile(suffix=".txt") as output:
        # --nonblocking: pausing the API at every sample doubled its CPU per request.
        command = [PY_SPY, "record", "--pid", str(pid), "--rate", str(rate), "--gil", "--nolineno"]
        command += ["--nonblocking", "--format", "raw", "--output", output.name]
        command += ["--subprocesses"] if subprocesses else []
        sampler = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            yield profile
        finally:
            sampler.send_signal(signal.SIGINT)  # py-spy writes what it has on SIGINT
            _, stderr = sampler.communicate(timeout=60)
            for line in Path(output.name).read_text().splitlines():
                stack, _, seen = line.rpartition(" ")
                if stack and seen.isdigit():
                    profile.stacks[tuple(stack.split(";"))] += int(seen)
            if not profile.stacks:
                profile.error = f"py-spy recorded nothing: {stderr.strip()[-300:]}"
