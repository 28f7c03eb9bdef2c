"""Scrapy settings of newsarchive; any of them can be overridden with `-s NAME=VALUE`."""

BOT_NAME = "newsarchive"
SPIDER_MODULES = ["crawler.spiders"]
NEWSPIDER_MODULE = "crawler.spiders"

USER_AGENT = "newsarchive/0.1 (news archive crawler; +https://pypi.org/project/newsarchive/)"
ROBOTSTXT_OBEY = True

CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 2
DOWNLOAD_DELAY = 1.0
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 1.0
AUTOTHROTTLE_MAX_DELAY = 30.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 1.0
DOWNLOAD_TIMEOUT = 30
DOWNLOAD_MAXSIZE = 10 * 1024 * 1024
DOWNLOAD_WARNSIZE = 2 * 1024 * 1024
RETRY_ENABLED = True
RETRY_TIMES = 3
# Seconds before the first retry; each further retry waits twice as long, at most the max.
RETRY_BACKOFF_BASE = 2.0
RETRY_BACKOFF_MAX = 60.0
# A page given up on is recorded as a failure of the run; the log need not shout too.
RETRY_GIVE_UP_LOG_LEVEL = "WARNING"
REDIRECT_MAX_TIMES = 10
COOKIES_ENABLED = False
TELNETCONSOLE_ENABLED = False

DOWNLOADER_MIDDLEWARES = {
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    "scrapy.downloadermiddlewares.redirect.RedirectMiddleware": None,
    "crawler.middlewares.LoopAwareRedirectMiddleware": 600,
    "crawler.middlewares.BackoffRetryMiddleware": 550,
    "crawler.middlewares.KnownArticlesMiddleware": 120,
    "crawler.middlewares.WarcArchiveMiddleware": 580,
}

ITEM_PIPELINES = {
    "pipelines.boilerplate.SiteTemplatePipeline": 50,
    "pipelines.page.PageStagesPipeline": 100,
    "pipelines.storage.StoragePipeline": 900,
}
DEFAULT_DROPITEM_LOG_LEVEL = "INFO"

LOG_LEVEL = "INFO"
FEED_EXPORT_ENCODING = "utf-8"

# The archive database URL; empty means NEWSARCHIVE_DB or sqlite:///archive.db.
NEWSARCHIVE_DB = ""
# Where each run writes the WARC file of every page it fetched; empty: no WARC files.
NEWSARCHIVE_WARC_DIR = "warc"

# A recrawl skips archived articles, except those last fetched more than this many hours
# ago and published within the last this many days, which it revisits conditionally.
NEWSARCHIVE_REVISIT_AFTER_HOURS = 24.0
NEWSARCHIVE_REVISIT_WITHIN_DAYS = 14.0

# Worker processes for the per-page stages (extraction, language, fingerprints); 0 runs them
# in the crawl process. Worth it where fetching is fast: many sites, or a local mirror.
NEWSARCHIVE_PAGE_WORKERS = 0

# A finished crawl exits with status 3 (archive.exitcodes.FAILURES) when nothing could be
# fetched, or when more than this share of its requests failed.
NEWSARCHIVE_MAX_ERROR_SHARE = 0.5
