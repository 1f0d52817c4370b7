"""Run a piece of hostile-input handling in a fresh Python process and measure its wall time and memory.

Memory is the peak resident set while the measured code runs, above the resident set just before
it: the kernel's peak (VmHWM) is reset first (`/proc/self/clear_refs`), so what the imports and
the set-up cost is not counted. Where that reset is not allowed, `getrusage`'s lifetime peak is
used, which can only under-report.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass

from bench.processes import REPO_ROOT

_TEMPLATE = """
import json, resource, time

def status_kib(field):
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1])

{setup}
try:
    with open("/proc/self/clear_refs", "w") as clear_refs:
        clear_refs.write("5")  # reset the peak resident set (VmHWM) to the current one
    before, peak = status_kib("VmRSS"), lambda: status_kib("VmHWM")
except OSError:
    before, peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, lambda: resource.getrusage(
        resource.RUSAGE_SELF
    ).ru_maxrss
started = time.perf_counter()
outcome = {{"error": None, "message": None, "result": None}}
try:
{body}
except Exception as exc:
    outcome["error"] = type(exc).__name__
    outcome["message"] = str(exc)[:500]
outcome["seconds"] = time.perf_counter() - started
outcome["rss_growth_mib"] = (peak() - before) / 1024
print("MEASURED " + json.dumps(outcome, default=str))
"""


@dataclass(frozen=True)
class Measured:
    error: str | None
    message: str | None
    result: object
    seconds: float
    rss_growth_mib: float


def measure(body: str, *, setup: str = "", timeout: float = 120) -> Measured:
    """Run `setup`, then `body` (which may set `outcome["result"]`) in a new interpreter; measure `body`."""
    script = _TEMPLATE.format(
        setup=textwrap.dedent(setup), body=textwrap.indent(textwrap.dedent(body), "    ")
    )
    completed = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO_ROOT,
        env=os.environ.copy(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    lines = [line for line in completed.stdout.splitlines() if line.startswith("MEASURED ")]
    assert lines, f"the measured process failed:\n{completed.stdout[-3000:]}\n{completed.stderr[-3000:]}"
    measured = Measured(**json.loads(lines[-1].removeprefix("MEASURED ")))
    # The figures docs/reliability.md quotes (pytest -s shows them).
    outcome = measured.error or "no error"
    print(f"\n{outcome}: {measured.seconds:.2f} s, peak RSS +{measured.rss_growth_mib:.1f} MiB")
    return measured
