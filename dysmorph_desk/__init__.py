"""DysmorphDesk: offline facial screening aid for genetic syndromes (not a diagnostic device)."""

import os as _os

# ONNX Runtime (1.32) writes a telemetry device id and a database under
# ~/.cache/Microsoft/DeveloperTools/.onnxruntime when it is imported, unless this is set: nothing
# may be written outside the user's folders and DysmorphDesk's own. Set before any module of the
# package imports onnxruntime (the engine process inherits it); a user's explicit value is kept.
_os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

__version__ = "0.1.0"
