from stress.main import main

raise SystemExit(main())
