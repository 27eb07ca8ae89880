from concurlint.cli import main

raise SystemExit(main())
