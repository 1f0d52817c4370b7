#!/usr/bin/env python3
"""Write the IngestionSource CRD's source-type parts from the source registry; `--check` only compares.

`charts/sie/crds/` is the one copy of SIE's CRDs: Helm installs it, and without Helm
`kubectl apply --server-side -f charts/sie/crds/` does. In `ingestionsources.yaml`, each block
between a "# generated: <part>" line and "# end of generated" comes from `sie.core.sources.registry`:
- `rules`: the CEL rules saying which of url/urls each type takes (`SourceType.locations`);
- `type`: the `type` field, its enum (every registered name, in table order) and description.
Run it after adding a source type. `--check` exits 1, with a diff, when the file on disk differs
from what the registry gives (tests/delivery/test_crds.py runs it).
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys
from collections.abc import Callable
from pathlib import Path

from sie.core.sources.config import Locations
from sie.core.sources.registry import SOURCE_TYPES

CRD = Path(__file__).resolve().parents[1] / "charts" / "sie" / "crds" / "ingestionsources.yaml"
BEGIN = "# generated: "
END = "# end of generated"


def quoted(text: str) -> str:
    """A YAML double-quoted scalar (JSON's string syntax is a subset of it)."""
    return json.dumps(text)


def spoken_list(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def rules_block() -> list[str]:
    lines = ["x-kubernetes-validations:"]
    for locations in Locations:
        names = [name for name, entry in SOURCE_TYPES.items() if entry.locations is locations]
        if not names:
            continue
        listed = ", ".join(f"'{name}'" for name in names)
        lines.append(f"  - rule: {quoted(f'!(self.type in [{listed}]) || ({locations.value})')}")
        lines.append(f"    message: {quoted(f'{spoken_list(names)} sources need {locations.needs}')}")
    return lines


def type_block() -> list[str]:
    described = "; ".join(f"{name}: {entry.description}" for name, entry in SOURCE_TYPES.items())
    return [
        "type:",
        "  type: string",
        f"  enum: [{', '.join(quoted(name) for name in SOURCE_TYPES)}]",
        f"  description: {quoted(f'What the engine reads (docs/sources.md). {described}.')}",
    ]


BLOCKS: dict[str, Callable[[], list[str]]] = {"rules": rules_block, "type": type_block}


def render(text: str) -> str:
    """`text` with every generated block written afresh; raises ValueError for a missing or bad marker."""
    lines = text.splitlines()
    output: list[str] = []
    seen: set[str] = set()
    index = 0
    while index < len(lines):
        line = lines[index]
        output.append(line)
        index += 1
        marker = line.strip()
        if not marker.startswith(BEGIN):
            continue
        part = marker.removeprefix(BEGIN).split()[0]
        if part not in BLOCKS or END not in (rest.strip() for rest in lines[index:]):
            raise ValueError(f"{CRD}: '{marker}' names no known part or has no '{END}' line after it")
        indent = line[: len(line) - len(line.lstrip())]
        output.extend(indent + generated for generated in BLOCKS[part]())
        while lines[index].strip() != END:
            index += 1
        seen.add(part)
    if missing := BLOCKS.keys() - seen:
        raise ValueError(f"{CRD} lacks the '{BEGIN}<part>' marker for {', '.join(sorted(missing))}")
    return "\n".join(output) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare only; exit 1 when the CRD is stale")
    check = parser.parse_args().check
    current = CRD.read_text()
    wanted = render(current)
    if current == wanted:
        return 0
    if check:
        sys.stdout.writelines(
            difflib.unified_diff(
                current.splitlines(keepends=True), wanted.splitlines(keepends=True), str(CRD), "registry"
            )
        )
        print(f"\n{CRD.name} differs from the source registry: run scripts/sync_crds.py", file=sys.stderr)
        return 1
    CRD.write_text(wanted)
    print(f"wrote {CRD}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
