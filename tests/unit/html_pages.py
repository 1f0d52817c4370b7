"""Hand-written pages of the kinds news sites, blogs and docs sites serve, with the story each holds.

Each page carries its metadata the way such sites do (JSON-LD, OpenGraph, `<meta>`, `<time>`,
`<link rel=canonical>`) and its boilerplate (menus, teaser cards, share bars, comments, footers).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Page:
    html: str
    story: str


def _teaser_cards(count: int) -> str:
    return "".join(
        f'<article class="card"><a href="/news/{n}"><h3>Related headline number {n}</h3></a>'
        f"<p>A one-line teaser for another story, number {n}.</p></article>"
        for n in range(count)
    )


NEWS_STORY = [
    "Harbour council approves the new northern pier",
    "The harbour council voted seven to two on Tuesday evening to build a new pier on the northern "
    "side of the bay, ending a dispute that has divided the town for almost a decade.",
    "Fishermen had argued that the old wooden jetty could no longer take the weight of modern boats, "
    "while residents of the northern shore feared that construction traffic would ruin their streets.",
    "The approved plan moves the construction road inland and limits work to weekdays between eight "
    "in the morning and six in the evening, a compromise put forward by the fishermen's cooperative.",
    "Work is expected to begin in the spring and to last about eighteen months, the council said.",
]

NEWS_PAGE = Page(
    html=f"""<!DOCTYPE html>
<html lang="en"><head>
<meta charset="utf-8">
<title>Harbour council approves new pier | The Bay Courier</title>
<link rel="canonical" href="https://www.baycourier.example/news/2026/03/harbour-pier-vote">
<meta name="description" content="Councillors voted 7-2 for the northern pier after a decade of dispute.">
<meta property="og:site_name" content="The Bay Courier">
<meta property="og:type" content="article">
<meta property="og:title" content="Harbour council approves the new northern pier">
<script type="application/ld+json">
{{"@context": "https://schema.org", "@graph": [
  {{"@type": "WebSite", "name": "The Bay Courier", "url": "https://www.baycourier.example/"}},
  {{"@type": "NewsArticle",
    "headline": "Harbour council approves the new northern pier",
    "datePublished": "2026-03-04T18:30:00+01:00",
    "dateModified": "2026-03-05T09:00:00+01:00",
    "author": [{{"@type": "Person", "name": "Maria Lindqvist"}}, {{"@type": "Person", "name": "Tom Okafor"}}],
    "publisher": {{"@type": "NewsMediaOrganization", "name": "The Bay Courier"}}}}
]}}
</script>
<script>window.dataLayer = [{{"section": "news"}}];</script>
</head><body>
<header><a href="/">The Bay Courier</a><nav><ul><li><a href="/news">News</a></li><li>
<a href="/sport">Sport</a></li>
<li><a href="/weather">Weather</a></li><li><a href="/subscribe">Subscribe</a></li></ul></nav></header>
<section class="top-stories">{_teaser_cards(4)}</section>
<main><article class="story">
<h1>{NEWS_STORY[0]}</h1>
<p class="byline">By Maria Lindqvist and Tom Okafor ·
<time datetime="2026-03-04T18:30:00+01:00">4 March 2026</time></p>
<div class="share"><a href="#">Share on Facebook</a> <a href="#">Share on X</a> <a href="#">Email</a></div>
<p>{NEWS_STORY[1]}</p>
<p>{NEWS_STORY[2]}</p>
<figure><img src="/pier.jpg" alt=""><figcaption>The old jetty at low tide.</figcaption></figure>
<p>{NEWS_STORY[3]}</p>
<p>{NEWS_STORY[4]}</p>
</article></main>
<aside class="most-read"><h2>Most read</h2><ol><li><a href="/a">Storm closes the coast road</a></li>
<li><a href="/b">Bakery wins regional prize</a></li><li><a href="/c">School plans a new gym</a></li>
</ol></aside>
<section class="more">{_teaser_cards(6)}</section>
<footer><p>© 2026 The Bay Courier. All rights reserved.</p>
<a href="/privacy">Privacy</a> <a href="/terms">Terms</a></footer>
</body></html>""",
    story="\n\n".join(NEWS_STORY),
)

BLOG_STORY = [
    "Why I moved my sourdough starter to rye",
    "For three years my starter lived on white flour, and for three years it sulked through every "
    "winter. The loaves were fine in July and flat as paving stones in January.",
    "Last autumn I split the starter and fed one half with whole rye. Within a week the rye half "
    "doubled in four hours at kitchen temperature, while the white half still needed eight.",
    "Rye carries more of the wild yeasts and enzymes the starter feeds on, so it ferments faster in a "
    "cold kitchen. The bread tastes a little more sour, which I have come to like.",
    "If your starter struggles in winter, try feeding it rye for a fortnight before you give up on it.",
]

BLOG_PAGE = Page(
    html=f"""<!doctype html>
<html><head>
<title>Why I moved my sourdough starter to rye &ndash; Crumb &amp; Crust</title>
<meta name="author" content="Hannah Reyes">
<meta property="og:title" content="Why I moved my sourdough starter to rye">
<meta property="og:description"
 content="A white-flour starter that sulked every winter, and what rye changed.">
<meta property="og:site_name" content="Crumb &amp; Crust">
<meta property="og:url" content="https://crumbandcrust.example/2025/11/starter-rye/">
<meta property="article:published_time" content="2025-11-18T07:45:00Z">
<meta property="article:author" content="https://crumbandcrust.example/about/">
<link rel="canonical" href="/2025/11/starter-rye/">
</head><body class="post-template">
<div class="site-header"><a class="logo" href="/">Crumb &amp; Crust</a>
<ul class="menu"><li><a href="/recipes">Recipes</a></li><li><a href="/about">About</a></li></ul></div>
<div class="content"><article class="post">
<header><h1 class="post-title">{BLOG_STORY[0]}</h1>
<div class="meta">Posted on
<time datetime="2025-11-18T07:45:00Z">November 18, 2025</time> by Hannah</div></header>
<div class="post-body">
<p>{BLOG_STORY[1]}</p>
<p>{BLOG_STORY[2]}</p>
<p>{BLOG_STORY[3]}</p>
<p>{BLOG_STORY[4]}</p>
</div>
<footer class="tags">Tags: <a href="/tag/bread">bread</a>, <a href="/tag/rye">rye</a></footer>
</article>
<section id="comments"><h2>3 comments</h2>
<div class="comment"><p>Great tip, my starter loves rye too!</p></div>
<div class="comment"><p>Did you change the hydration when you switched?</p></div>
<form class="comment-form"><textarea>Leave a reply</textarea><button>Post comment</button></form></section>
</div>
<div class="sidebar"><h3>Subscribe</h3><p>Get new posts by email.</p><form><input type="email">
<button>Sign up</button></form></div>
<div class="site-footer">Proudly powered by a static site generator. Theme by Someone.</div>
</body></html>""",
    story="\n\n".join(BLOG_STORY),
)

DOCS_STORY = [
    "Configuring retries",
    "Every job that fails with a transient error is retried with exponential backoff. The delay "
    "starts at two seconds and doubles on each attempt, with random jitter added so that many jobs "
    "failing together do not retry in lockstep.",
    "Set TASK_MAX_RETRIES to change how many attempts a job gets before it is dead-lettered. The "
    "default is five. A value of zero turns retries off.",
    "Permanent errors, such as a page that answers 404, are never retried: the job fails at once "
    "and the reason is recorded on it.",
]

DOCS_PAGE = Page(
    html=f"""<!DOCTYPE html>
<html lang="en"><head>
<meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Configuring retries — Harbour Docs 2.4 documentation</title>
<meta name="description" content="How SIE retries failed jobs, and how to change it.">
<meta name="application-name" content="Harbour Docs">
<meta name="date" content="2026-01-12">
<link rel="canonical" href="https://docs.harbour.example/en/2.4/retries.html">
<link rel="stylesheet" href="/_static/theme.css">
</head><body>
<div class="wy-nav-side"><div class="search"><form><input name="q" placeholder="Search docs"></form></div>
<ul><li><a href="/install.html">Installation</a></li><li><a href="/quickstart.html">Quickstart</a></li>
<li class="current"><a href="/retries.html">Configuring retries</a></li><li>
<a href="/api.html">API reference</a></li></ul></div>
<div class="wy-nav-content"><div role="navigation" class="breadcrumbs">
<a href="/">Docs</a> » Configuring retries</div>
<div role="main" class="document"><div class="section" id="configuring-retries">
<h1>{DOCS_STORY[0]}</h1>
<p>{DOCS_STORY[1]}</p>
<p>{DOCS_STORY[2]}</p>
<p>{DOCS_STORY[3]}</p>
</div></div>
<footer><div class="rst-footer-buttons">
<a href="/quickstart.html">Previous</a> <a href="/api.html">Next</a></div>
<p>© Copyright 2026, the Harbour authors. Built with a documentation generator.</p></footer></div>
</body></html>""",
    story="\n\n".join(DOCS_STORY),
)

PAGES = {"news": NEWS_PAGE, "blog": BLOG_PAGE, "docs": DOCS_PAGE}
