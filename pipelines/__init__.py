"""Per-page processing stages: pure functions, each wrapped by a thin Scrapy item pipeline."""
