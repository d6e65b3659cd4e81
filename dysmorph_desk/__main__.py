from dysmorph_desk.cli import main

raise SystemExit(main())
