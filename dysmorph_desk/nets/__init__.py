"""Network architectures (not bundles: trained models live in the top-level ``models/``)."""

from dysmorph_desk.nets.registry import ArchSpec, create_model, get_arch, list_archs, register

__all__ = ["ArchSpec", "create_model", "get_arch", "list_archs", "register"]
