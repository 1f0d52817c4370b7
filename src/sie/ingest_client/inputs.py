"""Turning arguments into inputs: files (folders recursively), feed items and URLs, in argument order."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import feedparser
from pydantic import ValidationError

from sie.core.errors import SieError
from sie.core.pipeline.extract import extract
from sie.core.schemas import DocumentCreate
from sie.core.sources.feed import MAX_GUID_CHARS
from sie.ingest_client.report import Outcome

FEED_SUFFIXES = frozenset({".xml", ".rss", ".atom"})
SOURCE_UNSAFE = re.compile(r"[^\w.-]+")


@dataclass(frozen=True)
class FileUpload:
    """A file to upload as is; the API (or the direct path) sniffs its type from the bytes."""

    path: Path

    @property
    def label(self) -> str:
        return str(self.path)


@dataclass(frozen=True)
class DocumentRequest:
    """A text or URL document: the JSON body of one entry of POST /v1/documents/batch."""

    label: str
    body: dict[str, Any]


@dataclass
class Inputs:
    uploads: list[FileUpload] = field(default_factory=list)
    documents: list[DocumentRequest] = field(default_factory=list)
    rejected: list[Outcome] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.uploads) + len(self.documents)


def is_url(target: str) -> bool:
    return target.startswith(("http://", "https://"))


def collect_inputs(targets: Sequence[str], *, source: str | None = None, priority: str = "normal") -> Inputs:
    """Files (folders recursively, hidden files skipped), feed items and URLs, in argument order."""
    inputs = Inputs()
    for target in targets:
        if is_url(target):
            _add_document(inputs, target, {"url": target, "source": source or "cli", "priority": priority})
            continue
        files = _files_at(Path(target))
        if files is None:
            inputs.rejected.append(Outcome(label=target, reason="no such file, folder or http(s) URL"))
            continue
        for file in files:
            feed_documents = feed_items(file, source=source, priority=priority)
            if feed_documents is None:
                inputs.uploads.append(FileUpload(file))
            elif not feed_documents:
                inputs.rejected.append(Outcome(label=str(file), reason="feed has no items"))
            for label, body in feed_documents or ():
                _add_document(inputs, label, body)
    return inputs


def _files_at(path: Path) -> list[Path] | None:
    """The file, or the folder's files (hidden ones skipped) in name order; None when there is neither."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        return None
    return sorted(
        candidate
        for candidate in path.rglob("*")
        if candidate.is_file() and not any(part.startswith(".") for part in candidate.relative_to(path).parts)
    )


def _add_document(inputs: Inputs, label: str, body: dict[str, Any]) -> None:
    """Check the body against the API's own schema first, so one bad entry cannot sink a batch."""
    try:
        DocumentCreate.model_validate(body)
    except ValidationError as exc:
        inputs.rejected.append(Outcome(label=label, reason=validation_reason(exc)))
        return
    inputs.documents.append(DocumentRequest(label=label, body=body))


def validation_reason(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(part) for part in error['loc']) or 'body'}: {error['msg']}" for error in exc.errors()
    )


def feed_items(path: Path, *, source: str | None, priority: str) -> list[tuple[str, dict[str, Any]]] | None:
    """The documents of an RSS/Atom file as (label, body) pairs; None when `path` is not a feed."""
    if path.suffix.lower() not in FEED_SUFFIXES:
        return None
    parsed = feedparser.parse(path.read_bytes())
    if not parsed.version:
        return None
    # `world news.rss.xml` → `feed:world-news`: a source name the API accepts.
    feed_name = SOURCE_UNSAFE.sub("-", path.name.split(".", 1)[0]).strip("-") or "feed"
    feed_title = parsed.feed.get("title")
    return [
        (
            f"{path}#{number} {entry.get('title') or entry.get('link') or ''}".strip(),
            _item_body(entry, source=source or f"feed:{feed_name}", priority=priority, feed_title=feed_title),
        )
        for number, entry in enumerate(parsed.entries, start=1)
    ]


def _item_body(entry: Any, *, source: str, priority: str, feed_title: str | None) -> dict[str, Any]:
    """One feed item as a document: its full text when the feed carries it, else its link to fetch."""
    link = entry.get("link")
    metadata = {
        key: value
        for key, value in (("feed", feed_title), ("link", link), ("published", entry.get("published")))
        if value
    }
    body: dict[str, Any] = {
        "title": entry.get("title"),
        "source": source,
        "priority": priority,
        "metadata": metadata,
        "external_id": (entry.get("id") or link or "")[:MAX_GUID_CHARS] or None,
    }
    text = _entry_text(entry)
    if text:
        body["text"] = text
    elif link:
        body["url"] = link
    return body


def _entry_text(entry: Any) -> str | None:
    """The item's full text (Atom content, else RSS description), reduced from HTML to text."""
    contents = entry.get("content") or []
    detail = contents[0] if contents else entry.get("summary_detail") or {}
    raw = detail.get("value")
    if not raw or not raw.strip():
        return None
    try:
        return extract(raw.encode(), declared_type=detail.get("type")).text
    except SieError:
        return None
