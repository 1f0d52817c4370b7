"""The scheduler: row-locked claims across replicas, missed runs, suspend, the loop, per-host limits."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import timedelta

import pytest

from sie.core.config import settings
from sie.core.durations import format_duration, parse_duration
from sie.core.engine.scheduler import SourceScheduler, backoff_seconds
from sie.core.models import utcnow
from tests.sources.source_helpers import ingested, make_source, seconds_until, set_next_run, source_row
from tests.sources.sources_site import Site, rss

HOUR = 3600


def feed_source(site: Site, tenant: str, name: str, *, delay: float = 0.0) -> uuid.UUID:
    article = site.serve_article(f"/{name}/article")
    site.serve(f"/{name}/feed.xml", rss([(article, name)]), delay=delay)
    return make_source(tenant, name=name, type="rss", url=site.url(f"/{name}/feed.xml"), interval="1h")


@pytest.mark.slow
def test_two_schedulers_running_at_once_never_double_poll(site: Site, tenant: str) -> None:
    names = [f"s{n}" for n in range(8)]
    source_ids = [feed_source(site, tenant, name, delay=0.3) for name in names]
    replicas = [SourceScheduler(), SourceScheduler()]
    polled: list[list[str]] = [[], []]
    all_polled = threading.Event()
    deadline = time.monotonic() + 30

    def run(index: int) -> None:
        # Both replicas keep claiming, as fast as they can, until every source was polled.
        while time.monotonic() < deadline and not all_polled.is_set():
            polled[index].extend(result.name for result in replicas[index].run_due_sources())
            if len(polled[0]) + len(polled[1]) >= len(names):
                all_polled.set()

    threads = [threading.Thread(target=run, args=(index,)) for index in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    for name in names:
        assert len(site.requests_for(f"/{name}/feed.xml")) == 1, name
        assert len(site.requests_for(f"/{name}/article")) == 1, name
    assert sorted(polled[0] + polled[1]) == sorted(names)
    # Both replicas did some of the work.
    assert polled[0] and polled[1]
    assert all(source_row(source_id).last_success_at is not None for source_id in source_ids)
    assert ingested(tenant).jobs == len(names)


def test_a_source_missed_while_down_is_polled_once(
    site: Site, scheduler: SourceScheduler, tenant: str
) -> None:
    source_id = feed_source(site, tenant, "late")
    set_next_run(source_id, utcnow() - timedelta(hours=10))

    first = scheduler.run_due_sources()
    again = scheduler.run_due_sources()

    assert [result.name for result in first] == ["late"] and again == []
    assert len(site.requests_for("/late/feed.xml")) == 1
    assert HOUR - 60 < seconds_until(source_row(source_id).next_run_at) <= HOUR


def test_only_due_unsuspended_sources_are_polled(site: Site, scheduler: SourceScheduler, tenant: str) -> None:
    due = feed_source(site, tenant, "due")
    later = feed_source(site, tenant, "later")
    suspended = make_source(tenant, name="paused", type="rss", url=site.url("/due/feed.xml"), suspend=True)
    set_next_run(later, utcnow() + timedelta(minutes=5))

    results = scheduler.run_due_sources()

    assert {result.name for result in results} == {"due"}
    assert scheduler.poll_source(suspended) is None
    assert source_row(due).last_attempt_at is not None
    assert source_row(later).last_attempt_at is None


def test_a_source_being_polled_cannot_be_claimed_again(site: Site, tenant: str) -> None:
    source_id = feed_source(site, tenant, "busy")
    first, second = SourceScheduler(), SourceScheduler()

    claimed = first.claim(source_id)

    assert claimed is not None
    assert second.claim(source_id) is None
    assert source_row(source_id).lease_token == claimed.lease_token
    first.poll(claimed)
    assert source_row(source_id).lease_token is None
    assert second.claim(source_id) is not None


def test_a_poll_stopped_by_shutdown_is_due_again_without_counting_a_failure(
    site: Site, scheduler: SourceScheduler, tenant: str
) -> None:
    source_id = feed_source(site, tenant, "stopping")
    stop = threading.Event()
    stop.set()

    result = scheduler.poll_source(source_id, stop=stop)

    assert result is not None and result.outcome == "interrupted"
    source = source_row(source_id)
    assert source.consecutive_failures == 0 and source.lease_token is None
    assert seconds_until(source.next_run_at) <= 0


def test_the_per_host_limit_holds_across_concurrent_polls(
    site: Site, tenant: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(settings, "source_per_host_concurrency", 1)
    for n in range(4):
        feed_source(site, tenant, f"h{n}", delay=0.2)

    results = SourceScheduler().run_due_sources()

    assert len(results) == 4
    assert site.max_in_flight == 1


@pytest.mark.slow
def test_the_scheduler_loop_polls_due_sources_and_stops_on_request(
    site: Site, tenant: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(settings, "scheduler_tick_seconds", 0.1)
    source_id = feed_source(site, tenant, "looped")
    stop = threading.Event()
    loop = threading.Thread(target=SourceScheduler().run, args=(stop,))
    loop.start()
    try:
        deadline = time.monotonic() + 20
        while source_row(source_id).last_success_at is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert source_row(source_id).last_success_at is not None
        late = feed_source(site, tenant, "arrives-later")
        while source_row(late).last_success_at is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert source_row(late).last_success_at is not None
    finally:
        stop.set()
        loop.join(timeout=10)
    assert not loop.is_alive()
    assert len(site.requests_for("/looped/feed.xml")) == 1


@pytest.mark.parametrize(
    ("failures", "expected"),
    [(0, HOUR), (1, 2 * HOUR), (2, 4 * HOUR), (3, 8 * HOUR), (5, 24 * HOUR), (500, 24 * HOUR)],
)
def test_backoff_doubles_per_failure_up_to_the_cap(failures: int, expected: int) -> None:
    assert backoff_seconds(HOUR, failures) == expected


def test_backoff_never_shortens_an_interval_longer_than_the_cap() -> None:
    assert backoff_seconds(2 * 86_400, 3) == 2 * 86_400


@pytest.mark.parametrize(
    ("text", "seconds", "canonical"),
    [
        ("90", 90, "1m30s"),
        ("5m", 300, "5m"),
        ("1h30m", 5400, "1h30m"),
        ("1d", 86_400, "1d"),
        (600, 600, "10m"),
    ],
)
def test_durations_read_and_write_back(text: str | int, seconds: int, canonical: str) -> None:
    assert parse_duration(text) == seconds
    assert format_duration(seconds) == canonical


@pytest.mark.parametrize("text", ["", "5 minutes", "m5", "1h-5m", "0s", "1.5h"])
def test_durations_that_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)
