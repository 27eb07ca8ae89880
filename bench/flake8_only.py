"""Run flake8 with only some of the installed plugins: ``flake8_only.py PLUGINS [flake8 args]``.

PLUGINS is a comma-separated list of distribution names (``flake8-bugbear``, ``flake8-async``,
``concurlint``) or empty for flake8 alone; flake8's own pyflakes and pycodestyle plugins always load.
flake8 runs every installed plugin whatever ``--select`` says, so a venv holding several plugins
would otherwise measure all of them at once.
"""
from __future__ import annotations

import sys

from flake8.main import cli
from flake8.plugins import finder

BUILTIN = {"flake8", "pyflakes", "pycodestyle"}


def main() -> int:
    wanted = {p.strip() for p in sys.argv[1].split(",") if p.strip()} | BUILTIN
    original = finder.find_plugins

    def find_plugins(*args, **kwargs):
        return [p for p in original(*args, **kwargs) if p.package in wanted]

    finder.find_plugins = find_plugins
    return cli.main(sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
