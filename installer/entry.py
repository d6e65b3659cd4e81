"""PyInstaller's entry script for the frozen ``dysmorph-desk`` (and the windowed ``DysmorphDesk``).

Kept to one call: ``frozen_main`` runs ``multiprocessing.freeze_support()`` before anything else,
so the engine process (started with *spawn*, i.e. this executable again) runs the engine, not a
second app.
"""

from dysmorph_desk.gui_entry import frozen_main

raise SystemExit(frozen_main())
