"""concurlint: which concurrency model fits your Python code, and the hazards of the one you chose."""

__version__ = "0.1.0"
