"""robots.txt as RFC 9309 reads it: Protego for the rules, the RFC's product tokens for group names.

Protego (Scrapy's parser) does the matching the RFC asks for: the longest matching rule wins and
`Allow` wins a tie, `*` and `$`, percent-encoding normalised on both sides, groups of the same name
merged, /robots.txt always allowed. Two things it does otherwise are set right here, before it
parses: a group applies when its name, cut to a product token ("Foo Bar" and "Foo/1.0" name Foo),
equals ours case-insensitively (Protego looks for the whole value inside the crawler's name, so a
group for "S" would apply to SIE); and only the first 500 KiB is parsed (RFC 9309 section 2.5).
tests/sources/test_robots_rfc9309.py holds the RFC's examples and ours.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from protego import Protego

# RFC 9309 2.5: a crawler parses at least 500 KiB; what follows is ignored.
ROBOTS_PARSE_LIMIT = 500 * 1024
PRODUCT_TOKEN = re.compile(r"[A-Za-z_-]+")
USER_AGENT_LINE = re.compile(r"^([ \t]*user[- ]?agent[ \t]*:[ \t]*)([^\r\n#]*)", re.IGNORECASE | re.MULTILINE)
# What a group of another crawler is renamed to: no product token contains it.
OTHER_CRAWLER = "~"


def product_token(user_agent: str) -> str:
    """The name robots.txt groups are matched against: "SIE/0.1 (+https://...)" -> "sie"."""
    match = PRODUCT_TOKEN.match(user_agent.strip())
    if match is None:
        raise ValueError(f"the User-Agent {user_agent!r} does not start with a product token")
    return match.group(0).lower()


@dataclass(frozen=True)
class RobotsTxt:
    """One site's robots.txt, read for one crawler."""

    token: str
    rules: Protego

    @classmethod
    def parse(cls, content: bytes, *, user_agent: str) -> RobotsTxt:
        token = product_token(user_agent)
        text = _within_parse_limit(content).decode("utf-8-sig", errors="replace")
        return cls(token, Protego.parse(USER_AGENT_LINE.sub(lambda line: _group_name(line, token), text)))

    def allows(self, url: str) -> bool:
        return self.rules.can_fetch(url, self.token)

    def crawl_delay(self) -> float:
        return self.rules.crawl_delay(self.token) or 0.0


def _within_parse_limit(content: bytes) -> bytes:
    """The first 500 KiB, without the line the limit cuts in two (half a path would be another rule)."""
    if len(content) <= ROBOTS_PARSE_LIMIT:
        return content
    kept = content[:ROBOTS_PARSE_LIMIT]
    return kept[: kept.rfind(b"\n") + 1]


def _group_name(line: re.Match[str], token: str) -> str:
    """A user-agent line naming `token` (ours), `*`, or another crawler, in the RFC's terms."""
    value = line.group(2).strip()
    if not value:
        return line.group(0)
    if value == "*" or (value[0] == "*" and value[1].isspace()):
        name = "*"
    else:
        match = PRODUCT_TOKEN.match(value)
        name = token if match is not None and match.group(0).lower() == token else OTHER_CRAWLER
    return line.group(1) + name
