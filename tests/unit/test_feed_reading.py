"""Reading a feed document: every encoding feedparser reads, entity declarations refused in all of
them, and entries whose id is not a URL never turned into a fetch."""

from __future__ import annotations

import codecs
import json

import pytest

from sie.core.errors import MalformedListing
from sie.core.fetch import FetchedContent
from sie.core.sources.base import DiscoveredItem
from sie.core.sources.feed import parse_feed
from sie.core.sources.json_feed import parse_json_feed

FEED_URL = "http://127.0.0.1:8000/news/feed.xml"
BOMB = '<!DOCTYPE rss [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
TITLES = {
    "big5": "臺北新聞 颱風消息",
    "euc-kr": "서울 뉴스: 오늘의 날씨",
    "gb2312": "北京新闻 天气预报",
    "shift_jis": "東京ニュース 天気予報",
}
UNICODE_TITLE = "Ünïcödé — 臺北 서울 東京 😀"

# (codec the bytes are in, BOM to put first, encoding named in the XML declaration, HTTP charset)
ENCODINGS = [
    pytest.param("utf-8", b"", "UTF-8", None, id="utf-8"),
    pytest.param("utf-16-le", codecs.BOM_UTF16_LE, "UTF-16", None, id="utf-16le-bom"),
    pytest.param("utf-16-be", codecs.BOM_UTF16_BE, "UTF-16", None, id="utf-16be-bom"),
    pytest.param("utf-16-le", b"", "UTF-16LE", None, id="utf-16le-no-bom"),
    pytest.param("utf-16-be", b"", "UTF-16BE", None, id="utf-16be-no-bom"),
    pytest.param("utf-16-le", b"", None, "utf-16le", id="utf-16le-http-charset-only"),
    pytest.param("utf-32-le", codecs.BOM_UTF32_LE, "UTF-32", None, id="utf-32le-bom"),
    pytest.param("utf-32-be", b"", "UTF-32BE", None, id="utf-32be-no-bom"),
    pytest.param("big5", b"", "Big5", None, id="big5"),
    pytest.param("big5", b"", None, "big5", id="big5-http-charset-only"),
    pytest.param("euc-kr", b"", "EUC-KR", None, id="euc-kr"),
    pytest.param("gb2312", b"", "GB2312", None, id="gb2312"),
    pytest.param("shift_jis", b"", "Shift_JIS", None, id="shift_jis"),
    pytest.param("shift_jis", b"", "Shift_JIS", "shift_jis", id="shift_jis-prolog-and-http"),
]


def title_in(codec: str) -> str:
    return TITLES.get(codec, UNICODE_TITLE)


def encoded_feed(body: str, codec: str, bom: bytes, declared: str | None, *, doctype: str = "") -> bytes:
    prolog = f'<?xml version="1.0" encoding="{declared}"?>' if declared else ""
    return bom + (prolog + doctype + body).encode(codec)


def rss_body(*items: str) -> str:
    return f'<rss version="2.0"><channel><title>t</title><link>http://127.0.0.1:8000/</link>{"".join(items)}</channel></rss>'


def fetched(content: bytes, content_type: str = "application/rss+xml") -> FetchedContent:
    return FetchedContent(url=FEED_URL, content=content, content_type=content_type, status_code=200)


def content_type_for(charset: str | None) -> str:
    return f"application/rss+xml; charset={charset}" if charset else "application/rss+xml"


@pytest.mark.parametrize(("codec", "bom", "declared", "charset"), ENCODINGS)
def test_a_feed_in_any_encoding_feedparser_reads_is_read(
    codec: str, bom: bytes, declared: str | None, charset: str | None
) -> None:
    title = title_in(codec)
    body = rss_body(
        f"<item><title>{title}</title><link>http://127.0.0.1:8000/a</link></item>",
        f'<item><title>{title} 2</title><guid isPermaLink="false">n-2</guid>'
        f"<description>{title}。</description></item>",
    )
    items = parse_feed(
        fetched(encoded_feed(body, codec, bom, declared), content_type_for(charset)), max_items=10
    ).items

    assert [item.title for item in items] == [title, f"{title} 2"]
    assert items[0].url == "http://127.0.0.1:8000/a"
    assert items[1].inline is not None and f"<body>{title}。</body>" in items[1].inline.content.decode()


@pytest.mark.parametrize(("codec", "bom", "declared", "charset"), ENCODINGS)
def test_entity_declarations_are_refused_in_every_encoding(
    codec: str, bom: bytes, declared: str | None, charset: str | None
) -> None:
    body = rss_body(f"<item><title>&b; {title_in(codec)}</title><link>http://127.0.0.1:8000/a</link></item>")
    document = encoded_feed(body, codec, bom, declared, doctype=BOMB)
    with pytest.raises(MalformedListing, match="declares XML entities or external references; refused"):
        parse_feed(fetched(document, content_type_for(charset)), max_items=10)


def rss_item(item: str) -> list[DiscoveredItem]:
    body = f'<?xml version="1.0" encoding="utf-8"?>{rss_body(item)}'
    return parse_feed(fetched(body.encode()), max_items=10).items


@pytest.mark.parametrize(
    ("item", "url"),
    [
        pytest.param(
            '<item><title>T</title><link>/posts/1</link><guid isPermaLink="false">abc-123</guid></item>',
            "http://127.0.0.1:8000/posts/1",
            id="not-a-permalink-with-a-link",
        ),
        pytest.param(
            "<item><guid>tag:blog.example,2026:1</guid><title>T</title><link>posts/2</link></item>",
            "http://127.0.0.1:8000/news/posts/2",
            id="guid-before-a-relative-link",
        ),
        pytest.param(
            "<item><title>T</title><guid>https://blog.example/posts/3</guid></item>",
            "https://blog.example/posts/3",
            id="permalink-guid-that-is-a-url",
        ),
    ],
)
def test_an_entry_with_a_link_is_fetched_at_its_link(item: str, url: str) -> None:
    [found] = rss_item(item)
    assert found.url == url and found.inline is None


@pytest.mark.parametrize(
    "guid",
    [
        pytest.param('<guid isPermaLink="false">abc-123</guid>', id="not-a-permalink"),
        pytest.param("<guid>abc-123</guid>", id="permalink-guid-that-is-no-url"),
        pytest.param("<guid>tag:blog.example,2026:7</guid>", id="tag"),
        pytest.param("<guid>urn:uuid:5b1f4a6e-0c1d-4a58-9d1e-0d8c5a0e9f11</guid>", id="urn"),
        pytest.param('<guid isPermaLink="false">https://blog.example/?p=7</guid>', id="url-not-a-permalink"),
    ],
)
def test_an_entry_whose_id_is_no_address_is_ingested_from_its_own_content(guid: str) -> None:
    content = "<description>Rain &lt;b&gt;all&lt;/b&gt; day.</description>"
    [found] = rss_item(f"<item><title>Storm &amp; rain</title>{guid}{content}</item>")

    written = guid.split(">")[1].split("<")[0]
    assert found.guid == written and found.url == f"{FEED_URL}#{written}"
    assert found.title == "Storm & rain"
    assert found.inline is not None and found.inline.content_type == "text/html; charset=utf-8"
    page = found.inline.content.decode()
    assert "<title>Storm &amp; rain</title>" in page and "Rain <b>all</b> day." in page


def test_an_atom_entry_with_a_urn_id_and_no_link_is_ingested_from_its_content() -> None:
    atom = (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>'
        "<id>urn:feed</id><updated>2026-11-28T10:00:00Z</updated>"
        "<entry><id>urn:entry:1</id><title>Only text</title><updated>2026-11-28T10:00:00Z</updated>"
        '<content type="text">First line\n\nSecond &lt;line&gt;</content></entry></feed>'
    )
    [found] = parse_feed(fetched(atom.encode(), "application/atom+xml"), max_items=10).items
    assert found.url == f"{FEED_URL}#urn:entry:1" and found.guid == "urn:entry:1"
    assert found.inline is not None
    assert "<p>First line</p><p>Second &lt;line&gt;</p>" in found.inline.content.decode()


def test_an_entry_without_link_id_title_or_content_is_skipped() -> None:
    assert rss_item("<item><pubDate>Sat, 28 Nov 2026 10:00:00 GMT</pubDate></item>") == []


def test_an_entry_without_link_or_id_gets_the_same_address_at_every_poll() -> None:
    item = "<item><title>Note</title><description>Same words</description></item>"
    first, second = rss_item(item), rss_item(item)
    assert first[0].url == second[0].url and first[0].url.startswith(f"{FEED_URL}#")


def test_a_json_feed_item_with_only_content_is_ingested_from_it() -> None:
    document = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "t",
        "items": [
            {"id": "tag:blog.example,2026:5", "title": "Microblog", "content_text": "Short post."},
            {"id": "relative-6", "content_html": "<p>Only <em>inline</em> content</p>"},
        ],
    }
    items = parse_json_feed(
        FetchedContent(
            url=FEED_URL,
            content=json.dumps(document).encode(),
            content_type="application/feed+json",
            status_code=200,
        ),
        max_items=10,
    ).items
    assert [item.url for item in items] == [f"{FEED_URL}#tag:blog.example,2026:5", f"{FEED_URL}#relative-6"]
    assert all(item.inline is not None for item in items)
    assert "<p>Short post.</p>" in items[0].inline.content.decode()  # type: ignore[union-attr]
    assert "<p>Only <em>inline</em> content</p>" in items[1].inline.content.decode()  # type: ignore[union-attr]
