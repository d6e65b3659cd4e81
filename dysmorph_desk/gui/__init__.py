"""The desktop app (PySide6): the only package that imports Qt, a thin layer over the core.

All model work happens in the engine worker process (``dysmorph_desk.engine``), so the GUI process
never imports torch; an import-linter contract keeps Qt out of every other package.
"""
