"""The exit codes of every `newsarchive` command, as the README documents them."""

OK = 0
# A bug: an exception no command expected (Python's own code for an uncaught exception).
INTERNAL_ERROR = 1
# The command line, a setting, a profile or the database URL is wrong: nothing was done.
USAGE = 2
# The work finished, but with failures: nothing could be fetched, the share of failed
# pages passed NEWSARCHIVE_MAX_ERROR_SHARE, or some input records were unreadable.
FAILURES = 3
# The archive could not be written: the database stayed unreachable past
# NEWSARCHIVE_DB_RETRY_FOR, or the WARC file could not be written.
ARCHIVE_FAILED = 4
# Another run holds the site (a crawl of it is still under way): nothing was done for it.
SITE_LOCKED = 5
# The work finished, but a site's figures are far from its own recent runs (see
# `newsarchive health`).
UNHEALTHY = 6
# Interrupted (Ctrl-C, SIGTERM): what was stored is kept and the run is marked `interrupted`.
INTERRUPTED = 130
