"""A one-line progress bar on a terminal's stderr, for long runs only."""
from __future__ import annotations

import time


class Progress:
    def __init__(self, stream, min_files: int = 50, delay: float = 0.5):
        self.stream = stream
        self.min_files = min_files
        self.start = time.monotonic()
        self.delay = delay
        self.shown = False
        self.last = 0.0

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if total < self.min_files or now - self.start < self.delay or now - self.last < 0.1 and done < total:
            return
        self.last = now
        width = 30
        filled = int(width * done / total)
        self.stream.write(f"\rconcurlint [{'#' * filled}{'.' * (width - filled)}] {done}/{total} files")
        self.stream.flush()
        self.shown = True

    def done(self) -> None:
        if self.shown:
            self.stream.write("\r\033[K")
            self.stream.flush()
