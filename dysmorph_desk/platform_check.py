"""Can the desktop app start here? Checked before Qt is imported, so a missing display or a missing
X11 library is one clear line (exit 2) instead of Qt's abort (exit 134, naming the wrong package)
and a BrokenPipe traceback from the engine process that lost its window.

Qt's ``xcb`` platform plugin (the X11 one, also used under XWayland) links against a dozen
``libxcb-*`` helper libraries that many Linux installs lack (``libxcb-cursor0`` on a stock Ubuntu,
``libxcb-icccm4`` and ``libxcb-keysyms1`` on a minimal Debian). Each is tried by its soname with
``ctypes.CDLL`` — the same dynamic loader Qt uses — and, in a frozen bundle, looked for in the
bundle's own library folder first (the Linux installer carries most of them).

Nothing here imports Qt (the import-linter contract "Qt only in gui/" covers this module): the CLI
calls :func:`check_app_platform` in ``cmd_app`` before it imports ``gui.app``.

Set ``DYSMORPH_DESK_SKIP_PLATFORM_CHECK=1`` to skip the check (should it ever be wrong about a
system; Qt then reports problems itself).

Example:
    >>> from dysmorph_desk.platform_check import check_app_platform
    >>> check_app_platform(env={"QT_QPA_PLATFORM": "offscreen"}, system="linux")  # no error
"""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from dysmorph_desk.errors import UsageError

SKIP_VARIABLE = "DYSMORPH_DESK_SKIP_PLATFORM_CHECK"

# Qt platform plugins that draw nowhere visible or on a framebuffer: no display, no X11 libraries.
HEADLESS_PLATFORMS = frozenset(
    {"offscreen", "minimal", "minimalegl", "vnc", "eglfs", "linuxfb", "vkkhrdisplay"}
)


@dataclass(frozen=True)
class SystemLibrary:
    """One shared library the X11 plugin needs, with the packages that provide it."""

    soname: str
    debian: str  # Debian/Ubuntu package
    fedora: str  # Fedora/RHEL package


# What Qt 6's libqxcb.so and libQt6XcbQpa/Gui/Core need beyond glibc (readelf -d, PySide6 6.11),
# the helpers most often missing first: their order is the order of the message.
XCB_LIBRARIES: tuple[SystemLibrary, ...] = (
    SystemLibrary("libxcb-cursor.so.0", "libxcb-cursor0", "xcb-util-cursor"),
    SystemLibrary("libxcb-icccm.so.4", "libxcb-icccm4", "xcb-util-wm"),
    SystemLibrary("libxcb-keysyms.so.1", "libxcb-keysyms1", "xcb-util-keysyms"),
    SystemLibrary("libxcb-image.so.0", "libxcb-image0", "xcb-util-image"),
    SystemLibrary("libxcb-render-util.so.0", "libxcb-render-util0", "xcb-util-renderutil"),
    SystemLibrary("libxcb-util.so.1", "libxcb-util1", "xcb-util"),
    SystemLibrary("libxkbcommon-x11.so.0", "libxkbcommon-x11-0", "libxkbcommon-x11"),
    SystemLibrary("libxkbcommon.so.0", "libxkbcommon0", "libxkbcommon"),
    SystemLibrary("libxcb-xkb.so.1", "libxcb-xkb1", "libxcb"),
    SystemLibrary("libxcb-shape.so.0", "libxcb-shape0", "libxcb"),
    SystemLibrary("libxcb-randr.so.0", "libxcb-randr0", "libxcb"),
    SystemLibrary("libxcb-shm.so.0", "libxcb-shm0", "libxcb"),
    SystemLibrary("libxcb-sync.so.1", "libxcb-sync1", "libxcb"),
    SystemLibrary("libxcb-xfixes.so.0", "libxcb-xfixes0", "libxcb"),
    SystemLibrary("libxcb-render.so.0", "libxcb-render0", "libxcb"),
    SystemLibrary("libxcb.so.1", "libxcb1", "libxcb"),
    SystemLibrary("libX11-xcb.so.1", "libx11-xcb1", "libX11-xcb"),
    SystemLibrary("libX11.so.6", "libx11-6", "libX11"),
    SystemLibrary("libGL.so.1", "libgl1", "libglvnd-glx"),
    SystemLibrary("libEGL.so.1", "libegl1", "libglvnd-egl"),
    SystemLibrary("libfontconfig.so.1", "libfontconfig1", "fontconfig"),
    SystemLibrary("libfreetype.so.6", "libfreetype6", "freetype"),
    SystemLibrary("libglib-2.0.so.0", "libglib2.0-0", "glib2"),
    SystemLibrary("libgthread-2.0.so.0", "libglib2.0-0", "glib2"),
    SystemLibrary("libdbus-1.so.3", "libdbus-1-3", "dbus-libs"),
)

LibraryFinder = Callable[[str], bool]
DisplayProbe = Callable[[str], bool]


class PlatformUnavailable(UsageError):
    """The app cannot open a window here: no display, or system libraries missing (exit 2)."""


def bundle_library_dirs() -> list[Path]:
    """The frozen bundle's own library folders (PyInstaller's ``_internal``), else none."""
    base = getattr(sys, "_MEIPASS", None)
    if not getattr(sys, "frozen", False) or base is None:
        return []
    root = Path(base)
    return [root, root / "PySide6" / "Qt" / "lib"]


def library_loads(soname: str, bundle_dirs: Iterable[Path] | None = None) -> bool:
    """Whether the dynamic loader can load ``soname`` (bundle folders first when frozen).

    ``ctypes.CDLL`` fails too when one of the library's own dependencies is missing, which is what
    would make Qt fail. A library found is left loaded; Qt loads the same one a moment later.
    """
    for folder in bundle_library_dirs() if bundle_dirs is None else bundle_dirs:
        if (folder / soname).is_file():
            return True
    try:
        ctypes.CDLL(soname)
    except OSError:
        return False
    return True


def x_display_reachable(display: str) -> bool:
    """Whether an X server answers on ``display``, asked through libxcb as Qt would a moment later.

    A stale ``DISPLAY`` (a closed ssh -X session, a stopped Xvfb) would otherwise make Qt abort.
    Only called once every library is known to load.
    """
    try:
        xcb = ctypes.CDLL("libxcb.so.1")
    except OSError:
        return False
    xcb.xcb_connect.restype = ctypes.c_void_p
    xcb.xcb_connect.argtypes = [ctypes.c_char_p, ctypes.POINTER(ctypes.c_int)]
    xcb.xcb_connection_has_error.argtypes = [ctypes.c_void_p]
    xcb.xcb_disconnect.argtypes = [ctypes.c_void_p]
    connection = xcb.xcb_connect(display.encode(), None)  # never NULL: an error object instead
    try:
        return xcb.xcb_connection_has_error(connection) == 0
    finally:
        xcb.xcb_disconnect(connection)


def missing_libraries(finder: LibraryFinder = library_loads) -> list[SystemLibrary]:
    """The libraries of :data:`XCB_LIBRARIES` that ``finder`` cannot load, in message order."""
    return [lib for lib in XCB_LIBRARIES if not finder(lib.soname)]


def _platforms(env: Mapping[str, str]) -> list[str]:
    """The plugin names ``QT_QPA_PLATFORM`` asks for (``xcb:option``, ``wayland;xcb``), lowercase."""
    value = env.get("QT_QPA_PLATFORM", "").strip()
    return [part.split(":", 1)[0].strip().lower() for part in value.split(";") if part.strip()]


def _wants_x11(env: Mapping[str, str]) -> bool:
    """Whether Qt will use its xcb plugin: asked for first, or by default unless a Wayland
    compositor is there (Qt 6 prefers Wayland when ``WAYLAND_DISPLAY`` is set outside an X11
    session)."""
    platforms = _platforms(env)
    has_wayland = env.get("WAYLAND_DISPLAY", "").strip() != ""
    if platforms:
        return platforms[0] == "xcb" or ("xcb" in platforms and not has_wayland)
    return not has_wayland or env.get("XDG_SESSION_TYPE", "").strip().lower() == "x11"


def _package_commands(missing: list[SystemLibrary]) -> str:
    debian = list(dict.fromkeys(lib.debian for lib in missing))
    fedora = list(dict.fromkeys(lib.fedora for lib in missing))
    return (
        f"sudo apt install {' '.join(debian)} (Debian/Ubuntu) "
        f"or sudo dnf install {' '.join(fedora)} (Fedora)"
    )


def platform_problem(
    env: Mapping[str, str] | None = None,
    system: str | None = None,
    finder: LibraryFinder = library_loads,
    probe: DisplayProbe = x_display_reachable,
) -> str | None:
    """The one-line reason the app cannot start here, or ``None`` when it can.

    Args:
        env: the environment to judge (default ``os.environ``).
        system: ``sys.platform`` to judge (default the running one); only Linux and the BSDs are
            checked: Windows and macOS always have their window system.
        finder: tells whether a soname loads (tests inject one that simulates missing libraries).
        probe: tells whether the X server at a ``DISPLAY`` value answers (asked only when Qt will
            use X11 and every library loads).

    Returns:
        ``None``, or a message naming what is missing and the packages that provide it.
    """
    env = os.environ if env is None else env
    system = sys.platform if system is None else system
    if env.get(SKIP_VARIABLE, "").strip() not in ("", "0"):
        return None
    if not (system.startswith("linux") or "bsd" in system):
        return None
    platforms = _platforms(env)
    if platforms and platforms[0] in HEADLESS_PLATFORMS:
        return None
    problems: list[str] = []
    has_x = env.get("DISPLAY", "").strip() != ""
    has_wayland = env.get("WAYLAND_DISPLAY", "").strip() != ""
    # Qt tries the platforms of QT_QPA_PLATFORM in order ("wayland;xcb"): one with a display is enough
    usable = [
        name
        for name in platforms
        if (name == "xcb" and has_x) or (name == "wayland" and has_wayland)
    ]
    if platforms and set(platforms) <= {"xcb", "wayland"} and not usable:
        if platforms == ["xcb"]:
            problems.append("no X display (DISPLAY is not set)")
        elif platforms == ["wayland"]:
            problems.append("no Wayland display (WAYLAND_DISPLAY is not set)")
        else:
            problems.append("no display (neither DISPLAY nor WAYLAND_DISPLAY is set)")
    elif not platforms and not has_x and not has_wayland:
        problems.append("no display (neither DISPLAY nor WAYLAND_DISPLAY is set)")
    missing = missing_libraries(finder) if _wants_x11(env) else []
    if missing:
        names = ", ".join(lib.soname for lib in missing)
        problems.append(
            f"Qt's X11 platform plugin needs libraries that are missing: {names}; "
            f"install them with {_package_commands(missing)}"
        )
    display = env.get("DISPLAY", "").strip()
    if not problems and has_x and _wants_x11(env) and not probe(display):
        problems.append(
            f"cannot connect to the X display {display!r} (is the X server running, "
            "and may this user use it?)"
        )
    if not problems:
        return None
    hint = (
        "; run the app in a desktop session (or over ssh -X), "
        "or use the command line: dysmorph-desk screen PHOTO"
        if not has_x and not has_wayland
        else ""
    )
    return "the app cannot open a window: " + "; ".join(problems) + hint


def check_app_platform(
    env: Mapping[str, str] | None = None,
    system: str | None = None,
    finder: LibraryFinder = library_loads,
    probe: DisplayProbe = x_display_reachable,
) -> None:
    """Raise :class:`PlatformUnavailable` (exit 2) when the app cannot open a window here.

    Called by ``dysmorph-desk app`` (and the frozen launcher) before Qt is imported and before the
    engine process is spawned. Arguments as in :func:`platform_problem`.

    Raises:
        PlatformUnavailable: no display, or libraries Qt needs are missing.
    """
    problem = platform_problem(env, system, finder, probe)
    if problem is not None:
        raise PlatformUnavailable(problem)
