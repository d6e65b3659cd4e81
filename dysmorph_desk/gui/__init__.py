"""The desktop app (PySide6): a thin layer over the core.

Nothing here imports Qt at package level: the engine worker process imports
``dysmorph_desk.gui.worker`` and ``dysmorph_desk.gui.protocol`` without Qt, and the GUI process
never imports torch (all model work happens in the worker process).
"""
