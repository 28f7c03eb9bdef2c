"""The Scrapy project: settings, spiders, site profiles and middlewares."""
