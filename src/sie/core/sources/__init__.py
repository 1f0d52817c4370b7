"""Sources: feeds, URL lists and sitemaps that the scheduler polls and ingests (docs/sources.md)."""
