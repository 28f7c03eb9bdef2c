"""Scrapy settings of newsarchive; any of them can be overridden with `-s NAME=VALUE`."""

from pipelines.workers import default_workers

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
# A page given up on is recorded as a failure of the run, with one warning line.
RETRY_GIVE_UP_LOG_LEVEL = "DEBUG"
REDIRECT_MAX_TIMES = 10
COOKIES_ENABLED = False
# A page is requested once, whatever form of its URL a link gives (pipelines.urls.url_key).
REQUEST_FINGERPRINTER_CLASS = "crawler.fingerprints.UrlKeyFingerprinter"
TELNETCONSOLE_ENABLED = False
# Scrapy's remote control runs Python code sent to a local HTTP port: not for an
# unattended archiver.
REMOTE_CONTROL_ENABLED = False

DOWNLOADER_MIDDLEWARES = {
    "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
    "crawler.middlewares.RobotsPolicyMiddleware": 100,
    "crawler.middlewares.UnreachableHostsMiddleware": 540,
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    "scrapy.downloadermiddlewares.redirect.RedirectMiddleware": None,
    "crawler.middlewares.LoopAwareRedirectMiddleware": 600,
    "scrapy.downloadermiddlewares.redirect.MetaRefreshMiddleware": None,
    "crawler.middlewares.HeadMetaRefreshMiddleware": 580,
    "crawler.middlewares.BackoffRetryMiddleware": 550,
    "crawler.middlewares.KnownArticlesMiddleware": 120,
    "crawler.middlewares.WarcArchiveMiddleware": 580,
}

ITEM_PIPELINES = {
    "crawler.storage.StoragePipeline": 900,
}
DEFAULT_DROPITEM_LOG_LEVEL = "INFO"
# Output of one page handled at once: a page yields an article and a few new links, and
# Scrapy starts this many tasks for every page whatever it yields.
CONCURRENT_ITEMS = 8

LOG_LEVEL = "INFO"
FEED_EXPORT_ENCODING = "utf-8"
# What `scrapy crawl portal -o FILE` writes of each stored article.
FEED_EXPORT_FIELDS = [
    "url",
    "canonical_url",
    "site",
    "title",
    "text",
    "lang",
    "title_lang",
    "published",
    "author",
    "fetched_at",
    "alternates",
    "content_hash",
]

# The archive database URL; empty means NEWSARCHIVE_DB or sqlite:///archive.db.
NEWSARCHIVE_DB = ""
# Where each run writes the WARC file of every page it fetched; empty: no WARC files.
NEWSARCHIVE_WARC_DIR = "warc"

# A recrawl skips archived articles, except those last fetched more than this many hours
# ago and published within the last this many days, which it revisits conditionally.
NEWSARCHIVE_REVISIT_AFTER_HOURS = 24.0
NEWSARCHIVE_REVISIT_WITHIN_DAYS = 14.0

# Worker processes that parse and extract the pages; 0 does it in the crawl process. By
# default one per usable core where there are several, none on one core.
NEWSARCHIVE_PAGE_WORKERS = default_workers()

# A finished crawl exits with status 3 (archive.exitcodes.FAILURES) when nothing could be
# fetched, or when more than this share of its requests failed.
NEWSARCHIVE_MAX_ERROR_SHARE = 0.5

# After the first Ctrl-C (or SIGTERM), pages still in flight get this many seconds to
# finish; then the crawl is abandoned. Either way the run is recorded as `interrupted`.
NEWSARCHIVE_STOP_GRACE = 2.0

# While the archive database cannot be reached, the crawl pauses and retries for this many
# seconds before it stops with run status `database_error` (exit code 4).
NEWSARCHIVE_DB_RETRY_FOR = 300.0
# Seconds between updates of the running crawl's counts in its run record.
NEWSARCHIVE_RUN_UPDATE_INTERVAL = 2.0
# Articles are stored in batches, one transaction each: a batch is stored once it holds this
# many articles, or this many seconds after its first one came (what a killed crawl loses).
NEWSARCHIVE_STORE_BATCH = 200
NEWSARCHIVE_STORE_INTERVAL = 1.0

# What one page or site may cost the crawl; each limit is logged once when it is reached.
# Links taken from one page (the first ones, in document order):
NEWSARCHIVE_MAX_LINKS_PER_PAGE = 2000
# Sitemap files read per crawl (robots.txt, /sitemap.xml and the sitemap indexes they list):
NEWSARCHIVE_MAX_SITEMAPS = 100
# Page URLs taken from all the sitemaps of a crawl:
NEWSARCHIVE_MAX_SITEMAP_URLS = 50000
# Tags of a page parsed; a page with more is no article, and only the links among its first
# this many tags are followed:
NEWSARCHIVE_MAX_PAGE_TAGS = 50000
# Bytes of robots.txt read (RFC 9309 asks crawlers to read at least 500 KiB):
NEWSARCHIVE_MAX_ROBOTS_BYTES = 512000
# Seconds a page worker may spend on one page; then the page is skipped, the worker replaced.
NEWSARCHIVE_PAGE_TIME_BUDGET = 30.0
