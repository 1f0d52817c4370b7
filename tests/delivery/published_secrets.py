"""The secrets this repository publishes, found by reading it: what no production install may use.

Every tracked file outside tests/ is read. YAML files (compose.yaml, values files, examples) are
walked: the values of keys named like secrets (`POSTGRES_PASSWORD`, `API_SECRET_KEY`, `masterKey`,
...), with the default of a `${VAR:-default}` form. In every text file, the password of a URL
(`scheme://user:password@host`), and in Python a string constant named like a secret. Placeholders
that only stand for a value (`…`, `<password>`, `$VAR`) are not secrets.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

SECRET_KEY_NAME = re.compile(r"(password|secret_?key|master_?key|meilisearch_?key|token)$", re.IGNORECASE)
URL_PASSWORD = re.compile(r"[a-z][a-z0-9+.-]*://[^\s:/@'\"]*:([^\s@/'\"]+)@", re.IGNORECASE)
PYTHON_SECRET = re.compile(
    r"^[A-Z_]*(?:SECRET|SECRET_KEY|PASSWORD|TOKEN)\s*=\s*[\"']([^\"']+)[\"']", re.MULTILINE
)
SHELL_DEFAULT = re.compile(r"^\$\{\w+:?-(.*)\}$")
TEXT_SUFFIXES = {
    ".yaml",
    ".yml",
    ".md",
    ".py",
    ".sh",
    ".toml",
    ".txt",
    ".tpl",
    ".json",
    ".cfg",
    ".ini",
    ".env",
}


def _is_placeholder(value: str) -> bool:
    return (
        not value or "…" in value or value.startswith(("$", "<", "{", "%")) or set(value) <= {".", "*", "x"}
    )


def _yaml_secrets(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if isinstance(value, str) and SECRET_KEY_NAME.search(str(key)):
                default = SHELL_DEFAULT.match(value)
                yield default.group(1) if default else value
            else:
                yield from _yaml_secrets(value)
    elif isinstance(node, list):
        for item in node:
            yield from _yaml_secrets(item)


def _file_secrets(path: Path) -> Iterator[str]:
    text = path.read_text(errors="replace")
    yield from URL_PASSWORD.findall(text)
    if path.suffix == ".py":
        yield from PYTHON_SECRET.findall(text)
    if path.suffix in (".yaml", ".yml"):
        try:
            documents = list(yaml.safe_load_all(text))
        except yaml.YAMLError:  # a Helm template: YAML only once rendered (the chart tests read that)
            documents = []
        for document in documents:
            yield from _yaml_secrets(document)


def published_secrets(root: Path) -> dict[str, str]:
    """Each secret found under `root` (a git checkout) and the first file it was found in."""
    tracked = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    found: dict[str, str] = {}
    for name in sorted(tracked):
        path = root / name
        if name.startswith("tests/") or path.suffix not in TEXT_SUFFIXES or not path.is_file():
            continue
        for secret in _file_secrets(path):
            if not _is_placeholder(secret):
                found.setdefault(secret, name)
    return found
