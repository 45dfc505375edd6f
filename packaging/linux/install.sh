#!/bin/sh
# Install (or upgrade) the gas-hmi bundle of station @STATION@, version @VERSION@.
#
#   sudo ./install.sh [--prefix /opt/gas-hmi] [--service] [--desktop] [--gui-autostart]
#
#   (always)         copies this folder to PREFIX/@NAME@ and points PREFIX/@STATION@ at it
#                    (an upgrade installs beside the old version; roll back by re-pointing)
#   --service        the headless runtime as systemd service gas-hmi-@STATION@ (user gas-hmi,
#                    data in /var/lib/gas-hmi/@STATION@), plus the helper
#                    /usr/local/bin/gas-hmi-@STATION@-service that runs admin commands as the
#                    service does (secrets, users, self-test)
#   --desktop        the menu entry (launcher) for the HMI
#   --gui-autostart  a systemd user unit that starts the HMI at login and restarts it after
#                    a crash (each operator: systemctl --user enable --now gas-hmi-@STATION@-gui)
#
# Nothing is started or enabled without you: the script prints the next steps.
# DESTDIR=/some/dir stages every file under that folder instead (no user, no systemctl):
# for packagers and for the bundle test.
set -eu

STATION=@STATION@
NAME=@NAME@
PREFIX=/opt/gas-hmi
SERVICE=0
DESKTOP=0
AUTOSTART=0
while [ $# -gt 0 ]; do
    case "$1" in
        --prefix) PREFIX=$2; shift 2 ;;
        --prefix=*) PREFIX=${1#*=}; shift ;;
        --service) SERVICE=1; shift ;;
        --desktop) DESKTOP=1; shift ;;
        --gui-autostart) AUTOSTART=1; shift ;;
        -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
        *) echo "install.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done
R=${DESTDIR:-}
if [ -z "$R" ] && [ "$(id -u)" -ne 0 ]; then
    echo "install.sh: run as root (sudo ./install.sh ...)" >&2
    exit 1
fi
as_root() {  # ownership and system calls only on a real install
    if [ -z "$R" ]; then "$@"; fi
}

HERE=$(cd "$(dirname "$0")" && pwd)
DEST=$PREFIX/$NAME
LINK=$PREFIX/$STATION

render() {  # render TEMPLATE DEST MODE: the bundle filled in @STATION@ etc.; the prefix is ours
    sed "s|@PREFIX@|$PREFIX|g" "$1" > "$2.tmp"
    chmod "$3" "$2.tmp"
    mv "$2.tmp" "$2"
}

mkdir -p "$R$PREFIX"
if [ "$HERE" != "$R$DEST" ]; then
    rm -rf "$R$DEST.tmp"
    cp -a "$HERE" "$R$DEST.tmp"
    rm -rf "$R$DEST"
    mv "$R$DEST.tmp" "$R$DEST"
fi
as_root chown -R root:root "$DEST"
chmod -R go-w "$R$DEST"
ln -sfn "$NAME" "$R$LINK.tmp" && mv -T "$R$LINK.tmp" "$R$LINK"
echo "installed $DEST; $LINK -> $NAME"

if [ "$SERVICE" = 1 ]; then
    if [ -z "$R" ] && ! id gas-hmi >/dev/null 2>&1; then
        useradd --system --home-dir /var/lib/gas-hmi --no-create-home --shell /usr/sbin/nologin gas-hmi
        echo "created system user gas-hmi"
    fi
    install -d -m 0700 "$R/var/lib/gas-hmi" "$R/var/lib/gas-hmi/keyring"
    as_root chown gas-hmi:gas-hmi /var/lib/gas-hmi /var/lib/gas-hmi/keyring
    install -d -m 0755 "$R/etc/gas-hmi" "$R/etc/systemd/system" "$R/usr/local/bin"
    if [ -f "$R/etc/gas-hmi/$STATION.env" ]; then
        echo "kept /etc/gas-hmi/$STATION.env (the new default is $DEST/share/gas-hmi.env)"
    else
        render "$R$DEST/share/gas-hmi.env" "$R/etc/gas-hmi/$STATION.env" 0640
        as_root chgrp gas-hmi "/etc/gas-hmi/$STATION.env"
    fi
    render "$R$DEST/share/gas-hmi.service" "$R/etc/systemd/system/gas-hmi-$STATION.service" 0644
    cat > "$R/usr/local/bin/gas-hmi-$STATION-service" <<EOF
#!/bin/sh
# Run a gas-hmi command as the service of station $STATION runs: user gas-hmi, its
# environment (/etc/gas-hmi/$STATION.env: data folder, keyring). Example:
#   sudo gas-hmi-$STATION-service secrets set mqtt_uplink --station $STATION
exec runuser -u gas-hmi -- /bin/sh -c 'set -a; . /etc/gas-hmi/$STATION.env; set +a; exec "\$0" "\$@"' "$LINK/gas-hmi" "\$@"
EOF
    chmod 0755 "$R/usr/local/bin/gas-hmi-$STATION-service"
    as_root systemctl daemon-reload 2>/dev/null || true
    echo "service gas-hmi-$STATION installed (not started)"
fi

if [ "$DESKTOP" = 1 ]; then
    install -d "$R/usr/local/share/applications" "$R/usr/local/share/icons/hicolor/scalable/apps"
    render "$R$DEST/share/gas-hmi.desktop" "$R/usr/local/share/applications/gas-hmi-$STATION.desktop" 0644
    install -m 0644 "$R$DEST/share/gas-hmi.svg" "$R/usr/local/share/icons/hicolor/scalable/apps/gas-hmi.svg"
    as_root update-desktop-database /usr/local/share/applications 2>/dev/null || true
    echo "menu entry gas-hmi-$STATION.desktop installed"
fi

if [ "$AUTOSTART" = 1 ]; then
    install -d "$R/etc/systemd/user"
    render "$R$DEST/share/gas-hmi-gui.service" "$R/etc/systemd/user/gas-hmi-$STATION-gui.service" 0644
    echo "user unit gas-hmi-$STATION-gui installed"
fi

echo
echo "next steps (INSTALL.md has them all):"
echo "  $LINK/gas-hmi --self-test"
if [ "$SERVICE" = 1 ]; then
    echo "  sudo gas-hmi-$STATION-service secrets check $LINK/_internal/station_configs/$STATION"
    echo "  sudo gas-hmi-$STATION-service users add admin --role admin --data-dir /var/lib/gas-hmi/$STATION"
    echo "  sudo gas-hmi-$STATION-service --self-test --data-dir /var/lib/gas-hmi/$STATION"
    echo "  sudo systemctl enable --now gas-hmi-$STATION    # upgrade: sudo systemctl restart gas-hmi-$STATION"
fi
if [ "$AUTOSTART" = 1 ]; then
    echo "  (as each operator) systemctl --user enable --now gas-hmi-$STATION-gui"
fi
