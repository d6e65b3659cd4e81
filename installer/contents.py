"""What the installers leave out of the shipped models, and why: one list, read by the PyInstaller
spec (``dysmorph-desk.spec``) and by the user guide's model pages (``scripts/guide_cards.py``), so
the guide inside an installed app never describes a model that the app does not have.

Standard library only: the spec imports it inside PyInstaller, the guide builder as a script.
"""

from __future__ import annotations

# file name in models/ -> why the installers leave it out (shown on the bundle's guide page)
LEFT_OUT_BUNDLES: dict[str, str] = {
    "demo-resnet18.ddbundle": (
        "The installers leave this demonstration model out to keep the download under 200 MB "
        "(with it the Linux archive would be about 207 MB); the installed app compares the other "
        "three. A source install has it, and `dysmorph-desk models --install "
        "demo-resnet18.ddbundle` adds the file from a source checkout's models/ folder."
    ),
}
