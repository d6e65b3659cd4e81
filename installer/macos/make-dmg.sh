#!/bin/sh
# Make a DMG of DysmorphDesk.app (macOS; run by `python installer/build.py` after PyInstaller).
#   installer/macos/make-dmg.sh installer/dist/DysmorphDesk.app installer/dist/DysmorphDesk-<version>.dmg
#
# Signing and notarisation happen only when their identities are set (see installer/README.md):
#   DD_SIGN_IDENTITY   "Developer ID Application: <YOUR ORGANISATION> (<TEAMID>)"
#   DD_NOTARY_PROFILE  a notarytool keychain profile (xcrun notarytool store-credentials <PROFILE> ...)
# Without them the DMG is unsigned: Gatekeeper then asks the user to confirm on first opening.
set -eu
APP=${1:?usage: make-dmg.sh APP DMG}
DMG=${2:?usage: make-dmg.sh APP DMG}
[ -d "$APP/Contents/MacOS" ] || { echo "make-dmg.sh: $APP is not an app bundle" >&2; exit 2; }
command -v hdiutil >/dev/null || { echo "make-dmg.sh: hdiutil not found (run this on macOS)" >&2; exit 2; }

ENTITLEMENTS=$(dirname "$0")/entitlements.plist
if [ -n "${DD_SIGN_IDENTITY:-}" ]; then
    # Hardened runtime (required for notarisation); the entitlements allow the camera.
    codesign --force --deep --options runtime --timestamp --entitlements "$ENTITLEMENTS" \
        --sign "$DD_SIGN_IDENTITY" "$APP"
    codesign --verify --deep --strict --verbose=2 "$APP"
fi

STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT
cp -R "$APP" "$STAGE/"
ln -s /Applications "$STAGE/Applications"
rm -f "$DMG"
hdiutil create -volname "DysmorphDesk" -srcfolder "$STAGE" -fs HFS+ -format UDZO -ov "$DMG"

if [ -n "${DD_SIGN_IDENTITY:-}" ]; then
    codesign --force --timestamp --sign "$DD_SIGN_IDENTITY" "$DMG"
fi
if [ -n "${DD_NOTARY_PROFILE:-}" ]; then
    xcrun notarytool submit "$DMG" --keychain-profile "$DD_NOTARY_PROFILE" --wait
    xcrun stapler staple "$DMG"
fi
echo "$DMG"
