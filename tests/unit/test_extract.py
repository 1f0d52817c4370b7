"""extract: type sniffing, text decoding, HTML main text, PDF text layers."""

from __future__ import annotations

import time

import pytest

from sie.core.errors import ContentTooLarge, EmptyContent, UnsupportedContent
from sie.core.pipeline import html_text
from sie.core.pipeline.extract import extract
from sie.core.pipeline.types import PageText
from tests.utils.files import make_blank_pdf, make_png, make_text_pdf

ARTICLE_PAGE = b"""<!DOCTYPE html>
<html lang="en">
<head>
  <title>  Rivers of
  Europe | Atlas  </title>
  <style>body { color: red }</style>
  <script>trackVisit("secret-tracking");</script>
</head>
<body>
  <header><a href="/">Atlas home</a></header>
  <nav><ul><li>Menu one</li><li>Menu two</li></ul></nav>
  <form action="/search"><input name="q"> Search the atlas</form>
  <article>
    <h1>The Danube</h1>
    <p>The   Danube flows through <b>ten</b> countries,
       more than any other river.</p>
    <p>It rises in the Black Forest.<br>It ends in the Black Sea.</p>
    <footer>Posted by the editors</footer>
  </article>
  <aside>Related: the Rhine</aside>
  <noscript>Enable JavaScript</noscript>
  <footer>Copyright Atlas</footer>
</body>
</html>"""


# --- HTML -------------------------------------------------------------------------------------------


def test_html_main_text_without_boilerplate() -> None:
    result = extract(ARTICLE_PAGE)
    assert result.content_type == "text/html"
    assert result.title == "Rivers of Europe | Atlas"
    assert result.text == (
        "The Danube\n\n"
        "The Danube flows through ten countries, more than any other river.\n\n"
        "It rises in the Black Forest.\n\n"
        "It ends in the Black Sea."
    )
    assert not result.needs_ocr
    for boilerplate in (
        "Atlas home",
        "Menu one",
        "Search the atlas",
        "Related",
        "Copyright",
        "tracking",
        "color",
    ):
        assert boilerplate not in result.text


def test_og_title_wins_over_the_title_element() -> None:
    page = b'<title>Site | Page</title><meta property="og:title" content=" The\n Page "><p>x</p>'
    assert extract(page).title == "The Page"


@pytest.mark.parametrize(
    ("container", "expected"),
    [
        ("<main><p>Main text</p></main>", "Main text"),
        ('<div role="main"><p>Role text</p></div>', "Role text"),
        ("<div><p>Body text</p></div>", "Outside\n\nBody text"),
    ],
)
def test_pages_over_trafilaturas_bound_fall_back_from_main_to_role_to_body(
    container: str, expected: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(html_text, "MAX_ARTICLE_ELEMENTS", -1)
    page = f"<html><body><div>Outside</div>{container}</body></html>".encode()
    assert extract(page).text == expected


def test_page_wrapped_in_one_form_keeps_its_text() -> None:
    # ASP.NET WebForms pages put the whole page inside a single <form>.
    page = b"<html><body><form id='aspnetForm'><div><p>All the content lives here.</p></div></form></body>"
    assert extract(page).text == "All the content lives here."


def test_nested_blocks_become_separate_paragraphs() -> None:
    page = b"<div>before<div>inner</div>after</div><ul><li>one</li><li>two</li></ul>"
    assert extract(page).text == "before\n\ninner\n\nafter\n\none\n\ntwo"


def test_entities_and_non_breaking_spaces_are_decoded() -> None:
    assert (
        extract(b"<p>Fish&nbsp;&amp;&nbsp;chips &lt;3 &eacute;t&eacute;</p>").text
        == "Fish & chips <3 \u00e9t\u00e9"
    )


def test_declared_html_with_markup_is_parsed_even_without_a_document_tag() -> None:
    fragment = b"Hello <em>there</em>, friend"
    assert extract(fragment, declared_type="text/html; charset=utf-8").text == "Hello there, friend"
    assert extract(fragment).text == "Hello <em>there</em>, friend"


def test_html_meta_charset_is_honoured() -> None:
    page = '<html><head><meta charset="koi8-r"></head><body><p>Привет, мир</p></body></html>'.encode("koi8-r")
    assert extract(page).text == "Привет, мир"


@pytest.mark.parametrize("depth", [10_000, 200_000])
def test_deeply_nested_html_is_handled_in_bounded_time(depth: int) -> None:
    page = (
        "<html><body>" + "<div>" * depth + "<p>deep text</p>" + "</div>" * depth + "</body></html>"
    ).encode()
    started = time.monotonic()
    result = extract(page)
    assert result.text == "deep text"
    assert time.monotonic() - started < 10


def test_deeply_nested_html_fallback_still_drops_tags_and_decodes_entities() -> None:
    page = ("<title>T</title>" + "<span>" * 20_000 + "a &amp; b<p>next</p>" + "</span>" * 20_000).encode()
    assert extract(page).text == "T a & b\n\nnext"


def test_html_with_only_boilerplate_is_empty() -> None:
    with pytest.raises(EmptyContent):
        extract(b"<html><head><script>var x = 1;</script></head><body><nav>Home</nav></body></html>")


# --- plain text and decoding -------------------------------------------------------------------------


def test_plain_text_whitespace_and_nuls_are_normalised() -> None:
    raw = b"  First\x00 line   here \r\n\r\n\r\n\r\nSecond\tline\x0b\n"
    result = extract(raw)
    assert result.content_type == "text/plain"
    assert result.text == "First line here\n\nSecond line"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("\ufeffCaf\u00e9 cr\u00e8me".encode(), "Caf\u00e9 cr\u00e8me"),
        ("\ufeffCaf\u00e9".encode("utf-16-le"), "Caf\u00e9"),
        ("\ufeffCaf\u00e9".encode("utf-16-be"), "Caf\u00e9"),
        (
            "\u201cQuoted\u201d \u2013 caf\u00e9 \u20ac5".encode("cp1252"),
            "\u201cQuoted\u201d \u2013 caf\u00e9 \u20ac5",
        ),
        ("Gr\u00f6\u00dfe".encode(), "Gr\u00f6\u00dfe"),
    ],
)
def test_text_encodings(raw: bytes, expected: str) -> None:
    assert extract(raw).text == expected


def test_declared_charset_is_used_when_utf8_fails() -> None:
    raw = "Привет, мир".encode("koi8-r")
    assert extract(raw, declared_type="text/plain; charset=KOI8-R").text == "Привет, мир"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # Mostly UTF-8 with one broken byte: stays UTF-8, the broken byte becomes U+FFFD.
        ("na\u00efve caf\u00e9 ".encode() + b"\xff end", "na\u00efve caf\u00e9 \ufffd end"),
        # cp1252 with a byte cp1252 leaves undefined (0x81).
        (b"Caf\xe9 \x81 ok", "Caf\u00e9 \ufffd ok"),
        (b"\xc3\x28 \xa0\xa1 text", "\u00c3( \u00a1 text"),
    ],
)
def test_invalid_utf8_never_crashes(raw: bytes, expected: str) -> None:
    assert extract(raw).text == expected


def test_unknown_declared_charset_is_ignored() -> None:
    assert (
        extract("caf\u00e9".encode("cp1252"), declared_type="text/plain; charset=no-such-codec").text
        == "caf\u00e9"
    )


# --- PDF --------------------------------------------------------------------------------------------


def test_pdf_text_layer_per_page_and_title() -> None:
    pdf = make_text_pdf(["Quarterly report\nRevenue grew (a lot).", "Second page text"], title="Q3 Report")
    result = extract(pdf)
    assert result.content_type == "application/pdf"
    assert result.title == "Q3 Report"
    assert result.pages == (
        PageText(number=1, text="Quarterly report\nRevenue grew (a lot)."),
        PageText(number=2, text="Second page text"),
    )
    assert result.text == "Quarterly report\nRevenue grew (a lot).\n\nSecond page text"
    assert not result.needs_ocr
    assert result.pages_without_text == ()


def test_pdf_pages_without_text_are_left_for_ocr() -> None:
    result = extract(make_text_pdf(["Typed page", "", "Another typed page", "   "]))
    assert result.pages_without_text == (2, 4)
    assert result.needs_ocr
    assert [page.number for page in result.pages] == [1, 2, 3, 4]
    assert result.text == "Typed page\n\nAnother typed page"


def test_scanned_pdf_without_any_text_is_not_empty_but_needs_ocr() -> None:
    result = extract(make_blank_pdf(3), filename="/uploads/scan.pdf")
    assert result.text == ""
    assert result.needs_ocr
    assert result.pages_without_text == (1, 2, 3)
    assert result.title == "scan.pdf"


def test_pdf_with_too_many_pages_is_too_large() -> None:
    with pytest.raises(ContentTooLarge, match="3 pages"):
        extract(make_blank_pdf(3), max_pdf_pages=2)
    assert len(extract(make_blank_pdf(2), max_pdf_pages=2).pages) == 2


@pytest.mark.parametrize(
    "corrupt",
    [
        b"%PDF-1.7\nthis is not really a PDF at all",
        make_text_pdf(["Some text"])[:150],
        make_text_pdf([]),
    ],
    ids=["garbage", "truncated", "no-pages"],
)
def test_corrupt_pdf_is_unsupported(corrupt: bytes) -> None:
    with pytest.raises(UnsupportedContent, match="PDF cannot be read"):
        extract(corrupt)


def test_pdf_non_ascii_text() -> None:
    assert extract(make_text_pdf(["Caf\u00e9 \u00fcber \u20ac10"])).text == "Caf\u00e9 \u00fcber \u20ac10"


# --- images, sniffing and errors ----------------------------------------------------------------------

BMP_HEADER = b"BM" + (70).to_bytes(4, "little") + b"\x00" * 8 + (40).to_bytes(4, "little") + b"\x00" * 52


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (make_png(), "image/png"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 64, "image/jpeg"),
        (b"GIF89a" + b"\x01\x00\x01\x00" + b"\x00" * 32, "image/gif"),
        (b"GIF87a" + b"\x00" * 32, "image/gif"),
        (b"II*\x00" + b"\x08\x00\x00\x00" + b"\x00" * 32, "image/tiff"),
        (b"MM\x00*" + b"\x00\x00\x00\x08" + b"\x00" * 32, "image/tiff"),
        (b"RIFF\x24\x00\x00\x00WEBPVP8 " + b"\x00" * 32, "image/webp"),
        (BMP_HEADER, "image/bmp"),
    ],
)
def test_images_go_to_ocr(content: bytes, content_type: str) -> None:
    result = extract(content)
    assert result.content_type == content_type
    assert result.needs_ocr
    assert result.text == ""


def test_type_comes_from_the_bytes_not_the_name() -> None:
    assert extract(make_png(), filename="notes.txt").content_type == "image/png"
    assert (
        extract(b"just words", filename="report.pdf", declared_type="application/pdf").content_type
        == "text/plain"
    )
    assert extract(b"BMW builds cars in Munich.").content_type == "text/plain"


def test_empty_content() -> None:
    with pytest.raises(EmptyContent):
        extract(b"")
    with pytest.raises(EmptyContent):
        extract(b" \n\t\r\n ")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (bytes(range(256)) * 8, "looks binary"),
        (b"\x00\x01\x02\x03" * 100 + b"some text", "looks binary"),
        (b"PK\x03\x04" + b"\x14\x00" * 20, "ZIP archive"),
        (b"\x1f\x8b\x08\x00" + b"\x00" * 20, "gzip"),
    ],
)
def test_binary_content_of_unknown_type_is_unsupported(content: bytes, message: str) -> None:
    with pytest.raises(UnsupportedContent, match=message):
        extract(content, filename="upload.bin")


def test_plain_text_headline_becomes_the_title() -> None:
    extracted = extract(
        b"Solar output hits a record\n\nMADRID - Spain's solar plants produced a record.", filename="a.txt"
    )
    assert extracted.title == "Solar output hits a record"
    one_paragraph = extract(b"Just one sentence of text, no headline.", filename="note.txt")
    assert one_paragraph.title == "note.txt"
