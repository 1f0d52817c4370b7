"""robots.txt per RFC 9309: the RFC's own examples (sections 2.2.1-2.2.3, 2.5 and 5), then ours.

Each row: a robots.txt, the crawler's User-Agent header, a URL, and whether it may be fetched.
"""

from __future__ import annotations

import pytest

from sie.core.sources.robots import ROBOTS_PARSE_LIMIT, RobotsTxt, product_token

SITE = "https://www.example.com"

# RFC 9309 section 5.1, verbatim.
RFC_5_1 = """User-Agent: *
Disallow: *.gif$
Disallow: /example/
Allow: /publications/

User-Agent: foobot
Disallow:/
Allow:/example/page.html
Allow:/example/allowed.gif

User-Agent: barbot
User-Agent: bazbot
Disallow: /example/page.html

User-Agent: quxbot

EOF
"""
# RFC 9309 section 5.2, verbatim.
RFC_5_2 = """User-Agent: foobot
Allow: /example/page/
Disallow: /example/page/disallowed.gif
"""
# RFC 9309 section 2.2.1: groups of one product token are merged.
RFC_MERGED_GROUPS = """user-agent: ExampleBot
disallow: /foo
disallow: /bar

user-agent: ExampleBot
disallow: /baz
"""
# SIE's product token is the first word of its User-Agent header ("SIE/0.1 (+https://...)").
EXAMPLEBOT = "ExampleBot/0.1 (+https://www.example.com/bot.html)"

RFC_CASES = [
    # 5.1: foobot may fetch two paths only; the longer Allow beats "Disallow:/".
    pytest.param(RFC_5_1, "foobot", "/example/page.html", True, id="5.1 foobot allowed page"),
    pytest.param(RFC_5_1, "foobot", "/example/allowed.gif", True, id="5.1 foobot allowed gif"),
    pytest.param(RFC_5_1, "foobot", "/example/other.html", False, id="5.1 foobot elsewhere"),
    pytest.param(RFC_5_1, "foobot", "/", False, id="5.1 foobot root"),
    # 5.1: one group for two user agents; nothing else applies to them.
    pytest.param(RFC_5_1, "barbot", "/example/page.html", False, id="5.1 barbot page"),
    pytest.param(RFC_5_1, "bazbot", "/example/page.html", False, id="5.1 bazbot page"),
    pytest.param(RFC_5_1, "barbot", "/example/other.html", True, id="5.1 barbot not the * group"),
    pytest.param(RFC_5_1, "bazbot", "/images/logo.gif", True, id="5.1 bazbot gif"),
    # 5.1: an empty group at the end: unrestricted.
    pytest.param(RFC_5_1, "quxbot", "/example/page.html", True, id="5.1 quxbot empty group"),
    pytest.param(RFC_5_1, "quxbot", "/images/logo.gif", True, id="5.1 quxbot gif"),
    # 5.1: any other crawler obeys the * group ("*.gif$" does not even start with "/").
    pytest.param(RFC_5_1, "SIE/0.1", "/images/logo.gif", False, id="5.1 * gif"),
    pytest.param(RFC_5_1, "SIE/0.1", "/images/logo.gif?size=2", True, id="5.1 * gif then query"),
    pytest.param(RFC_5_1, "SIE/0.1", "/example/index.html", False, id="5.1 * example"),
    pytest.param(RFC_5_1, "SIE/0.1", "/publications/2022.html", True, id="5.1 * publications"),
    pytest.param(RFC_5_1, "SIE/0.1", "/about", True, id="5.1 * no rule"),
    # 5.2: the longest match wins, whatever the order.
    pytest.param(RFC_5_2, "foobot", "/example/page/disallowed.gif", False, id="5.2 longer disallow"),
    pytest.param(RFC_5_2, "foobot", "/example/page/allowed.gif", True, id="5.2 shorter allow"),
    # 2.2.1: product tokens match case-insensitively; groups of one name merge.
    pytest.param(RFC_5_1, "FOOBOT", "/example/other.html", False, id="2.2.1 case-insensitive"),
    pytest.param(RFC_MERGED_GROUPS, EXAMPLEBOT, "/foo", False, id="2.2.1 merged first group"),
    pytest.param(RFC_MERGED_GROUPS, EXAMPLEBOT, "/baz", False, id="2.2.1 merged second group"),
    pytest.param(RFC_MERGED_GROUPS, "ExampleBot/0.1", "/bar", False, id="2.2.1 product token"),
    pytest.param(RFC_MERGED_GROUPS, "ExampleBot/0.1", "/qux", True, id="2.2.1 merged no rule"),
    pytest.param(RFC_MERGED_GROUPS, "OtherBot/1.0", "/foo", True, id="2.2.1 no group no *"),
    # 2.2.2: equivalent allow and disallow: allow; /robots.txt is always allowed.
    pytest.param("User-agent: *\nDisallow: /x\nAllow: /x\n", "SIE", "/x", True, id="2.2.2 tie allow"),
    pytest.param("User-agent: *\nAllow: /x\nDisallow: /x\n", "SIE", "/x", True, id="2.2.2 tie allow first"),
    pytest.param("User-agent: *\nDisallow: /\n", "SIE", "/robots.txt", True, id="2.2.2 robots.txt"),
    # 2.2.2: percent-encoding on both sides (the RFC's table of paths).
    pytest.param(
        "User-agent: *\nDisallow: /foo/bar?baz=quz\n", "SIE", "/foo/bar?baz=quz", False, id="2.2.2 query"
    ),
    pytest.param(
        "User-agent: *\nDisallow: /foo/bar/ツ\n", "SIE", "/foo/bar/%E3%83%84", False, id="2.2.2 utf-8 rule"
    ),
    pytest.param(
        "User-agent: *\nDisallow: /foo/bar/%E3%83%84\n", "SIE", "/foo/bar/ツ", False, id="2.2.2 utf-8 url"
    ),
    pytest.param(
        "User-agent: *\nDisallow: /foo/bar/%E3%83%84\n",
        "SIE",
        "/foo/bar/%e3%83%84",
        False,
        id="2.2.2 hex case",
    ),
    pytest.param(
        "User-agent: *\nDisallow: /foo/bar/%62%61%7A\n", "SIE", "/foo/bar/baz", False, id="2.2.2 unreserved"
    ),
    # 2.2.3: "$" ends the pattern, "*" is any run of characters, "#" starts a comment.
    pytest.param(
        "User-agent: *\nDisallow: /\nAllow: /this/path/exactly$\n",
        "SIE",
        "/this/path/exactly",
        True,
        id="2.2.3 $ exact",
    ),
    pytest.param(
        "User-agent: *\nDisallow: /\nAllow: /this/path/exactly$\n",
        "SIE",
        "/this/path/exactly/more",
        False,
        id="2.2.3 $ not a prefix",
    ),
    pytest.param(
        "User-agent: *\nDisallow: /\nAllow: /this/*/exactly\n",
        "SIE",
        "/this/long/path/exactly",
        True,
        id="2.2.3 * many segments",
    ),
    pytest.param(
        "User-agent: *\nDisallow: /\nAllow: /this/*/exactly\n",
        "SIE",
        "/that/x/exactly",
        False,
        id="2.2.3 * prefix",
    ),
    pytest.param(
        "User-agent: *\nallow: / # comment in line\n# comment on its own line\nDisallow: /#x\n",
        "SIE",
        "/private",
        True,
        id="2.2.3 comments",
    ),
    # 2.2.3: a literal "*" or "$" in a URL is matched by its percent-encoding in the rule.
    pytest.param(
        "User-agent: *\nDisallow: /path/file-with-a-%2A.html\n",
        "SIE",
        "/path/file-with-a-*.html",
        False,
        id="2.2.3 %2A",
    ),
    pytest.param(
        "User-agent: *\nDisallow: /path/file-with-a-%2A.html\n",
        "SIE",
        "/path/file-with-a-b.html",
        True,
        id="2.2.3 %2A is no wildcard",
    ),
    pytest.param("User-agent: *\nDisallow: /path/foo-%24\n", "SIE", "/path/foo-$", False, id="2.2.3 %24"),
]

OUR_CASES = [
    # Longest match, not first match (urllib.robotparser took the first).
    pytest.param("User-agent: *\nDisallow: /\nAllow: /p\n", "SIE", "/page", True, id="longer allow after"),
    pytest.param("User-agent: *\nAllow: /p\nDisallow: /\n", "SIE", "/x", False, id="shorter disallow"),
    pytest.param("User-agent: *\nDisallow: /a\nAllow: /a/b\n", "SIE", "/a/b/c", True, id="nested allow"),
    pytest.param(
        "User-agent: *\nAllow: /page\nDisallow: /*.htm\n", "SIE", "/page.htm", False, id="wildcard longer"
    ),
    pytest.param("User-agent: *\nAllow: /$\nDisallow: /\n", "SIE", "/", True, id="home page only"),
    pytest.param(
        "User-agent: *\nAllow: /$\nDisallow: /\n", "SIE", "/page", False, id="home page only, not /page"
    ),
    pytest.param("User-agent: *\nDisallow: /*?\n", "SIE", "/list?page=2", False, id="any query"),
    pytest.param("User-agent: *\nDisallow: /*.php$\n", "SIE", "/index.php5", True, id="$ after wildcard"),
    pytest.param("User-agent: *\nDisallow: /fish*\n", "SIE", "/fishheads", False, id="trailing * as prefix"),
    pytest.param("User-agent: *\nDisallow: /Fish\n", "SIE", "/fish", True, id="paths case-sensitive"),
    # Our group beats *, whatever the order, and only ours applies.
    pytest.param(
        "User-agent: *\nDisallow: /\n\nUser-agent: SIE\nAllow: /\n", "SIE/0.1", "/x", True, id="ours over *"
    ),
    pytest.param(
        "User-agent: SIE\nDisallow: /\n\nUser-agent: *\nAllow: /\n",
        "SIE/0.1 (+https://x)",
        "/x",
        False,
        id="ours",
    ),
    pytest.param("uSeR-aGeNt: sie\nDisallow: /\n", "SIE/0.1", "/x", False, id="directive and name case"),
    # A name is a product token: "SIE crawler" and "SIE/2.0" name SIE; a mere prefix of ours does not.
    pytest.param("User-agent: SIE crawler\nDisallow: /\n", "SIE/0.1", "/x", False, id="name with space"),
    pytest.param("User-agent: SIE/2.0\nDisallow: /\n", "SIE/0.1", "/x", False, id="name with version"),
    pytest.param("User-agent: S\nDisallow: /\n", "SIE/0.1", "/x", True, id="prefix of our name"),
    pytest.param("User-agent: SIEbot\nDisallow: /\n", "SIE/0.1", "/x", True, id="longer name"),
    pytest.param(
        "User-agent: Mozilla\nDisallow: /\n", "SIE/0.1 (Mozilla)", "/x", True, id="word of our header"
    ),
    pytest.param("User-agent: *bot\nDisallow: /\n", "SIE/0.1", "/x", True, id="no wildcard in names"),
    # Several names, one group; rules before any user-agent line belong to no group.
    pytest.param("User-agent: a\nUser-agent: SIE\nDisallow: /x\n", "SIE", "/x", False, id="second name"),
    pytest.param("Disallow: /\nUser-agent: *\nAllow: /y\n", "SIE", "/x", True, id="rule outside a group"),
    # Empty Disallow allows; Sitemap does not end a group; unknown lines are skipped.
    pytest.param("User-agent: *\nDisallow:\n", "SIE", "/anything", True, id="empty disallow"),
    pytest.param(
        "User-agent: *\nSitemap: https://x/s.xml\nDisallow: /x\n", "SIE", "/x", False, id="sitemap inside"
    ),
    pytest.param("User-agent: *\nfoo bar baz\nDisallow: /x\n", "SIE", "/x", False, id="garbage line"),
    pytest.param("\ufeffUser-agent: *\r\nDisallow: /x\r\n", "SIE", "/x", False, id="BOM and CRLF"),
    pytest.param("", "SIE", "/x", True, id="empty file"),
]


@pytest.mark.parametrize(("robots", "user_agent", "path", "allowed"), RFC_CASES + OUR_CASES)
def test_robots_txt_table(robots: str, user_agent: str, path: str, allowed: bool) -> None:
    assert RobotsTxt.parse(robots.encode(), user_agent=user_agent).allows(SITE + path) is allowed


def test_the_first_500_kib_are_parsed_and_the_rest_ignored() -> None:
    head = b"User-agent: *\nDisallow: /early\n"
    padding = b"# padding\n" * ((ROBOTS_PARSE_LIMIT - len(head)) // 10)
    tail = b"Disallow: /late\n"
    robots = RobotsTxt.parse(head + padding + tail, user_agent="SIE/0.1")
    assert not robots.allows(SITE + "/early")
    assert robots.allows(SITE + "/late")


def test_a_line_cut_by_the_limit_is_not_read_as_a_shorter_rule() -> None:
    head = b"User-agent: *\n"
    padding = b"#" * (ROBOTS_PARSE_LIMIT - len(head) - 12) + b"\n"
    robots = RobotsTxt.parse(head + padding + b"Disallow: /private\n", user_agent="SIE/0.1")
    assert robots.allows(SITE + "/p")  # "Disallow: /p" is what the limit left of the last line


def test_crawl_delay_of_our_group() -> None:
    robots = RobotsTxt.parse(
        b"User-agent: *\nCrawl-delay: 9\n\nUser-agent: SIE\nCrawl-delay: 2.5\n", user_agent="SIE/0.1"
    )
    assert robots.crawl_delay() == 2.5
    assert RobotsTxt.parse(b"User-agent: *\nDisallow: /x\n", user_agent="SIE/0.1").crawl_delay() == 0.0


@pytest.mark.parametrize(
    ("header", "token"),
    [("SIE/0.1 (+https://x)", "sie"), ("ExampleBot", "examplebot"), ("my_bot-2", "my_bot-")],
)
def test_product_token_of_a_user_agent_header(header: str, token: str) -> None:
    assert product_token(header) == token


def test_a_header_without_a_product_token_is_refused() -> None:
    with pytest.raises(ValueError, match="product token"):
        product_token("/0.1")
