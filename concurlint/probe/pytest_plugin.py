"""pytest plugin: probe a function during the test run.

Loaded in every pytest run of every user who has concurlint installed, so it
imports nothing but pytest at import time.

Fixture::

    def test_crunch_wants_processes(concurlint_probe):
        report = concurlint_probe("pkg.mod:crunch", args=[200_000], expect="processes")

Marker (the probe runs before the test body; the report is on
``request.node.concurlint_probe_report``)::

    @pytest.mark.concurlint_probe("pkg.mod:crunch", args=[200_000], expect="processes")
    def test_crunch():
        ...

The test fails when the probe fails (the target crashed, hung or raised) or
when the measured best model is not ``expect`` (a model whose speed-up is
within 10% of the best counts as best too).
"""

from __future__ import annotations

import pytest


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "concurlint_probe(target, args=(), kwargs=None, expect=None, **options): "
        "measure target under each concurrency model and fail unless expect is the best",
    )


def _run_probe(target, args=(), kwargs=None, expect=None, **options):
    from concurlint.probe import probe
    from concurlint.probe.report import to_text

    report = probe(target, args, kwargs, expect=expect, **options)
    if not report.get("ok"):
        pytest.fail("concurlint probe failed:\n" + to_text([report]), pytrace=False)
    if expect is not None and not report["expect"]["ok"]:
        pytest.fail(
            "concurlint probe: %s\n%s" % (report["expect"]["message"], to_text([report])),
            pytrace=False,
        )
    return report


@pytest.fixture
def concurlint_probe():
    """Callable ``probe(target, args=(), kwargs=None, expect=None, **options) -> report``."""
    return _run_probe


@pytest.fixture(autouse=True)
def _concurlint_probe_marker(request):
    marker = request.node.get_closest_marker("concurlint_probe")
    if marker is not None:
        request.node.concurlint_probe_report = _run_probe(*marker.args, **marker.kwargs)
    yield
