from envejind_eval.cli import main

raise SystemExit(main())
