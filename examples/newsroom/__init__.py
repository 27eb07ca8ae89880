"""newsroom: a small news-aggregation service used to demonstrate concurlint.

- downloader.py  fetches feeds and images (IO) and scores articles (CPU)
- batch.py       nightly batch job: thumbnails and CSV statistics in worker processes
- service.py     an asyncio web-style service that serves the results
"""
