"""Print the core requirements plus those of the given extras from pyproject.toml, one per line.

The Dockerfiles install these in a layer of their own before they copy the source, so a code
change rebuilds only the last layer: `python pyproject_requirements.py worker > requirements.txt`.
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path


def requirements(pyproject: Path, extras: list[str]) -> list[str]:
    project = tomllib.loads(pyproject.read_text())["project"]
    optional: dict[str, list[str]] = project.get("optional-dependencies", {})
    unknown = [extra for extra in extras if extra not in optional]
    if unknown:
        raise SystemExit(f"pyproject.toml has no extra(s): {', '.join(unknown)}")
    return [*project["dependencies"], *(requirement for extra in extras for requirement in optional[extra])]


if __name__ == "__main__":
    print("\n".join(requirements(Path("pyproject.toml"), sys.argv[1:])))
