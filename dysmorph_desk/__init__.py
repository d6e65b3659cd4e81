"""DysmorphDesk: offline facial screening aid for genetic syndromes (not a diagnostic device)."""

__version__ = "0.1.0"
