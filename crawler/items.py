"""What the spider hands to the item pipelines besides articles (pipelines.article)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(slots=True)
class KnownArticleUnchanged:
    """An archived article that answered a revisit with 304 Not Modified."""

    url: str
    fetched_at: dt.datetime
