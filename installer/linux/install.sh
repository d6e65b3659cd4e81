#!/bin/sh
# Install DysmorphDesk for the current user — no root, nothing outside the home folder:
#   the program      ~/.local/opt/DysmorphDesk/        (--prefix DIR to choose)
#   the command      ~/.local/bin/dysmorph-desk         (a symbolic link)
#   the launcher     ~/.local/share/applications/, icons in ~/.local/share/icons/hicolor/,
#                    AppStream metainfo in ~/.local/share/metainfo/
#
#   ./install.sh                 install (or update) from the unpacked archive
#   ./install.sh --uninstall     remove what it installed (patient data and settings stay)
#
# Exit status: 0 done, 2 usage or a folder that cannot be written (the message says which).
set -eu

APP_ID=io.github.dysmorphdesk.DysmorphDesk
HERE=$(cd "$(dirname "$0")" && pwd)
DATA_HOME=${XDG_DATA_HOME:-$HOME/.local/share}
BIN_DIR=$HOME/.local/bin
PREFIX=$HOME/.local/opt/DysmorphDesk
ACTION=install

fail() { echo "install.sh: $*" >&2; exit 2; }

while [ $# -gt 0 ]; do
    case "$1" in
        --uninstall) ACTION=uninstall ;;
        --prefix) [ $# -ge 2 ] || fail "--prefix needs a folder"; PREFIX=$2; shift ;;
        --prefix=*) PREFIX=${1#--prefix=} ;;
        -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) fail "unknown option '$1' (try --help)" ;;
    esac
    shift
done
[ -n "${HOME:-}" ] || fail "HOME is not set"

refresh_caches() {
    command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database -q "$DATA_HOME/applications" 2>/dev/null || true
    command -v gtk-update-icon-cache >/dev/null 2>&1 && gtk-update-icon-cache -q -t "$DATA_HOME/icons/hicolor" 2>/dev/null || true
}

if [ "$ACTION" = uninstall ]; then
    [ -x "$PREFIX/dysmorph-desk" ] || [ ! -e "$PREFIX" ] || fail "$PREFIX does not look like a DysmorphDesk installation; not removing it"
    rm -rf "$PREFIX"
    [ -L "$BIN_DIR/dysmorph-desk" ] && rm -f "$BIN_DIR/dysmorph-desk"
    rm -f "$DATA_HOME/applications/$APP_ID.desktop" "$DATA_HOME/metainfo/$APP_ID.metainfo.xml"
    for icon in "$DATA_HOME"/icons/hicolor/*/apps/"$APP_ID".png "$DATA_HOME/icons/hicolor/scalable/apps/$APP_ID.svg"; do
        [ -e "$icon" ] && rm -f "$icon"
    done
    refresh_caches
    echo "DysmorphDesk removed (your settings, logs and case store are kept; see the README to delete them)."
    exit 0
fi

[ -x "$HERE/DysmorphDesk/dysmorph-desk" ] || fail "run this script from the unpacked archive (DysmorphDesk/dysmorph-desk not found beside it)"
[ -d "$HERE/DysmorphDesk/_internal/dysmorph_desk/bundled_models" ] || fail "the archive is incomplete: the models folder is missing; download it again"

for dir in "$(dirname "$PREFIX")" "$BIN_DIR" "$DATA_HOME/applications" "$DATA_HOME/metainfo"; do
    mkdir -p "$dir" 2>/dev/null || fail "cannot create $dir (read-only or no permission); choose another place with --prefix"
    [ -w "$dir" ] || fail "cannot write to $dir (read-only or no permission)"
done

# Copy beside the old version, then swap: an interrupted update leaves the old one working.
NEW="$PREFIX.new.$$"
rm -rf "$NEW"
cp -R "$HERE/DysmorphDesk" "$NEW" || { rm -rf "$NEW"; fail "copying to $NEW failed (disk full?)"; }
if [ -e "$PREFIX" ]; then
    [ -x "$PREFIX/dysmorph-desk" ] || { rm -rf "$NEW"; fail "$PREFIX exists and is not a DysmorphDesk installation; choose another --prefix"; }
    rm -rf "$PREFIX.old"
    mv "$PREFIX" "$PREFIX.old"
fi
mv "$NEW" "$PREFIX"
rm -rf "$PREFIX.old"

ln -sf "$PREFIX/dysmorph-desk" "$BIN_DIR/dysmorph-desk"

# The launcher runs the installed program by its full path (~/.local/bin may not be on PATH).
sed -e "s|^Exec=.*|Exec=\"$PREFIX/dysmorph-desk\" app %f|" \
    -e "s|^TryExec=.*|TryExec=$PREFIX/dysmorph-desk|" \
    "$HERE/share/applications/$APP_ID.desktop" > "$DATA_HOME/applications/$APP_ID.desktop"
cp "$HERE/share/metainfo/$APP_ID.metainfo.xml" "$DATA_HOME/metainfo/"
for size_dir in "$HERE"/share/icons/hicolor/*; do
    size=$(basename "$size_dir")
    mkdir -p "$DATA_HOME/icons/hicolor/$size/apps"
    cp "$size_dir/apps/"* "$DATA_HOME/icons/hicolor/$size/apps/"
done
refresh_caches

echo "DysmorphDesk installed in $PREFIX"
echo "  open it from the applications menu, or run: $BIN_DIR/dysmorph-desk"
case ":$PATH:" in *":$BIN_DIR:"*) ;; *) echo "  ($BIN_DIR is not on your PATH; add it to run 'dysmorph-desk' by name)";; esac
