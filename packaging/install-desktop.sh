#!/bin/sh
# Install the desktop entry and icon for a built bundle, for the current user.
#   packaging/install-desktop.sh [BUNDLE_DIR]     (default: dist/garment-studio)
# Writes $XDG_DATA_HOME/applications/garment-studio.desktop (Exec = the bundle's absolute path)
# and the icon into $XDG_DATA_HOME/icons/hicolor/{256x256,scalable}/apps/. Remove those files to uninstall.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
bundle=$(cd "${1:-$here/../dist/garment-studio}" && pwd)
exe="$bundle/garment-studio"
[ -x "$exe" ] || { echo "no executable at $exe: build first (python packaging/build.py)" >&2; exit 2; }
data="${XDG_DATA_HOME:-$HOME/.local/share}"
mkdir -p "$data/applications" "$data/icons/hicolor/256x256/apps" "$data/icons/hicolor/scalable/apps"
cp "$here/icons/garment-studio.png" "$data/icons/hicolor/256x256/apps/garment-studio.png"
cp "$here/icons/garment-studio.svg" "$data/icons/hicolor/scalable/apps/garment-studio.svg"
# Quote the path per the Desktop Entry spec (it may contain spaces).
sed -e "s|^Exec=garment-studio |Exec=\"$exe\" |" -e "s|^TryExec=garment-studio$|TryExec=$exe|" \
    "$here/garment-studio.desktop" > "$data/applications/garment-studio.desktop"
command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database "$data/applications" 2>/dev/null || true
echo "installed $data/applications/garment-studio.desktop -> $exe"
