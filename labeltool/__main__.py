from labeltool.cli import main

raise SystemExit(main())
