"""``python -m concurlint.probe`` = ``concurlint probe``."""

from concurlint.probe.cli import main

raise SystemExit(main())
