"""The probe's modes, models and start methods: the names the CLI's options accept,
and the error of a request that cannot run.

Their own module so that building the ``concurlint`` argument parser (every command does) does
not import the harness (subprocess, statistics, tempfile), which only ``probe`` runs need."""

ALL_MODES = ("serial", "threads", "processes", "asyncio", "interpreters")
MODELS = ("serial", "threads", "processes", "asyncio", "interpreters", "free-threading")
START_METHODS = ("fork", "spawn", "forkserver")


class ProbeUsageError(ValueError):
    """A probe request that cannot run (bad target, bad option): one sentence."""
