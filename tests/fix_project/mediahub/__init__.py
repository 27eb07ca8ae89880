"""mediahub: fetches feeds, renders thumbnails, serves a small websocket API."""
