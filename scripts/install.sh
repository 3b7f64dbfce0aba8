#!/usr/bin/env bash
# Install menwei on a Debian 12 / Raspberry Pi OS (bookworm) aarch64 box, from this checkout.
#
#   sudo scripts/install.sh [--door gpiod|mcu|sim] [--models-from DIR] [--camera DEV]
#                           [--serial DEV] [--no-start] [--any-arch] [--dry-run]
#
# Steps (each is idempotent; re-running upgrades the code and keeps config, key and data):
#   1. Debian packages          5. config template -> /etc/menwei/menwei.toml (never overwritten)
#   2. system user (sysusers)   6. template key -> /etc/menwei/credstore (0600, root only)
#   3. venv in /opt/menwei      7. models fetched from a mirror or the official URLs, verified
#   4. units, udev, journald    8. enable + start, then `menwei doctor`
# --dry-run prints every command and file instead of running or writing it (no root needed).
# A real run refuses a box where systemd is not PID 1 (containers, CI) and, without --any-arch,
# a box that is not aarch64: it changes the system (packages, users, units).
set -euo pipefail

SRC_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PREFIX="/opt/menwei"
VENV="$PREFIX/venv"
ETC="/etc/menwei"
CREDSTORE="$ETC/credstore"
CONFIG="$ETC/menwei.toml"
STATE="/var/lib/menwei"
KEY_NAME="menwei-template-key"
UNIT_DIR="/etc/systemd/system"
DOOR="gpiod"
MODELS_FROM=""
CAMERA_DEV=""
SERIAL_DEV=""
START=1
DRY_RUN=0
ANY_ARCH=0
APT_PACKAGES=(python3 python3-venv python3-dev build-essential ca-certificates sqlite3
  v4l-utils gpiod systemd-timesyncd)

usage() {
  sed -n '2,/^set /{/^#/p}' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

die() {
  echo "install.sh: $*" >&2
  exit 1
}

say() {
  echo "==> $*"
}

# run CMD ARGS...: print the command; execute it unless --dry-run.
run() {
  echo "+ $*"
  if [ "$DRY_RUN" -eq 0 ]; then
    "$@"
  fi
}

# write_file DEST MODE OWNER: stdin becomes DEST (printed instead under --dry-run).
write_file() {
  local dest="$1" mode="$2" owner="$3" content
  content="$(cat)"
  echo "+ write $dest (mode $mode, owner $owner)"
  if [ "$DRY_RUN" -eq 1 ]; then
    printf '%s\n' "$content" | sed 's/^/    | /'
    return 0
  fi
  install -d "$(dirname "$dest")"
  printf '%s\n' "$content" > "$dest.tmp"
  chmod "$mode" "$dest.tmp"
  chown "$owner" "$dest.tmp"
  mv -f "$dest.tmp" "$dest"
}

parse_args() {
  while [ $# -gt 0 ]; do
    case "$1" in
      --door) DOOR="${2:?--door needs gpiod, mcu or sim}"; shift 2 ;;
      --models-from) MODELS_FROM="${2:?--models-from needs a folder}"; shift 2 ;;
      --camera) CAMERA_DEV="${2:?--camera needs a device path}"; shift 2 ;;
      --serial) SERIAL_DEV="${2:?--serial needs a device path}"; shift 2 ;;
      --no-start) START=0; shift ;;
      --dry-run) DRY_RUN=1; shift ;;
      --any-arch) ANY_ARCH=1; shift ;;
      -h | --help) usage; exit 0 ;;
      *) die "unknown option $1 (see --help)" ;;
    esac
  done
  case "$DOOR" in
    gpiod | mcu | sim) ;;
    *) die "--door must be gpiod, mcu or sim, not $DOOR" ;;
  esac
}

preflight() {
  if [ "$DRY_RUN" -eq 0 ] && [ "$(id -u)" -ne 0 ]; then
    die "run as root (sudo), or with --dry-run to see what would be done"
  fi
  local arch
  arch="$(uname -m)"
  if [ "$arch" != "aarch64" ]; then
    if [ "$DRY_RUN" -eq 0 ] && [ "$ANY_ARCH" -eq 0 ]; then
      die "this box is $arch, not aarch64: pass --any-arch to install anyway"
    fi
    echo "warning: this box is $arch; menwei targets aarch64 (x86_64 is used for CI)" >&2
  fi
  if [ "$DRY_RUN" -eq 0 ] && [ ! -d /run/systemd/system ]; then
    die "systemd is not running as PID 1 here (a container?): menwei needs it; try --dry-run"
  fi
  if [ -r /etc/os-release ]; then
    # shellcheck disable=SC1091
    . /etc/os-release
    case "${ID:-}:${ID_LIKE:-}" in
      debian:* | raspbian:* | *:*debian*) ;;
      *) echo "warning: ${PRETTY_NAME:-this OS} is not Debian / Raspberry Pi OS" >&2 ;;
    esac
  fi
  [ -f "$SRC_DIR/pyproject.toml" ] || die "$SRC_DIR is not a menwei checkout"
}

install_packages() {
  say "1. Debian packages"
  local missing=()
  local package
  for package in "${APT_PACKAGES[@]}"; do
    dpkg -s "$package" > /dev/null 2>&1 || missing+=("$package")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    run apt-get update -q
    run env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
  else
    echo "all present: ${APT_PACKAGES[*]}"
  fi
}

install_user() {
  say "2. system user 'menwei' (sysusers.d) with the groups the '$DOOR' door needs"
  local drop
  case "$DOOR" in
    gpiod) drop="dialout" ;;
    mcu) drop="gpio" ;;
    *) drop="gpio|dialout" ;;
  esac
  grep -Ev "^m menwei (${drop})\$" "$SRC_DIR/systemd/menwei.sysusers.conf" |
    write_file /usr/lib/sysusers.d/menwei.conf 0644 root:root
  write_file /usr/lib/tmpfiles.d/menwei.conf 0644 root:root < "$SRC_DIR/systemd/menwei.tmpfiles.conf"
  run systemd-sysusers menwei.conf
  run systemd-tmpfiles --create menwei.conf
  run install -d -m 0750 -o menwei -g menwei "$STATE" "$STATE/models" "$STATE/backups"
}

install_venv() {
  say "3. Python environment in $VENV"
  run install -d -m 0755 "$PREFIX"
  if [ ! -x "$VENV/bin/python" ]; then
    run python3 -m venv "$VENV"
  fi
  run "$VENV/bin/pip" install -q --upgrade pip
  run "$VENV/bin/pip" install -q "$SRC_DIR"
  # same version number on an upgrade from a newer checkout: reinstall the code itself
  run "$VENV/bin/pip" install -q --force-reinstall --no-deps "$SRC_DIR"
  # insightface: alignment utilities only; --no-deps keeps its GUI OpenCV out (pyproject.toml)
  run "$VENV/bin/pip" install -q --no-deps 'insightface>=0.7.3'
}

install_units() {
  say "4. systemd unit, device drop-in, udev rule, journald limits"
  write_file "$UNIT_DIR/menwei.service" 0644 root:root < "$SRC_DIR/systemd/menwei.service"
  local devices=()
  [ -n "$CAMERA_DEV" ] && [ "$CAMERA_DEV" != /dev/video0 ] && devices+=("$CAMERA_DEV")
  [ -n "$SERIAL_DEV" ] && [ "$SERIAL_DEV" != /dev/serial0 ] && devices+=("$SERIAL_DEV")
  if [ "${#devices[@]}" -gt 0 ]; then
    {
      echo "# written by scripts/install.sh: devices beyond the unit's defaults"
      echo "[Service]"
      local device
      for device in "${devices[@]}"; do
        echo "DeviceAllow=$device rw"
      done
    } | write_file "$UNIT_DIR/menwei.service.d/devices.conf" 0644 root:root
  fi
  if [ "$DOOR" = gpiod ] && [ "$(stat -c %G /dev/gpiochip0 2> /dev/null || echo gpio)" != gpio ]; then
    write_file /etc/udev/rules.d/60-menwei-gpio.rules 0644 root:root \
      < "$SRC_DIR/systemd/udev/60-menwei-gpio.rules"
    run udevadm control --reload-rules
    run udevadm trigger --subsystem-match=gpio
  fi
  # Keep the journal persistent but bounded: logs must never fill the card.
  printf '[Journal]\nStorage=persistent\nSystemMaxUse=200M\n' |
    write_file /etc/systemd/journald.conf.d/menwei.conf 0644 root:root
  run systemctl restart systemd-journald
  run systemctl daemon-reload
}

install_config() {
  say "5. configuration $CONFIG"
  if [ -e "$CONFIG" ]; then
    echo "kept the existing $CONFIG (compare with systemd/menwei.example.toml after upgrades)"
    return 0
  fi
  local camera="${CAMERA_DEV:-/dev/video0}"
  local serial="${SERIAL_DEV:-/dev/serial0}"
  sed -e "s|^backend = \"gpiod\"|backend = \"$DOOR\"|" \
    -e "s|^source = \"/dev/video0\"|source = \"$camera\"|" \
    -e "s|^port = \"/dev/serial0\"|port = \"$serial\"|" \
    "$SRC_DIR/systemd/menwei.example.toml" | write_file "$CONFIG" 0640 root:menwei
}

make_key() {
  say "6. template-encryption key $CREDSTORE/$KEY_NAME"
  local key="$CREDSTORE/$KEY_NAME"
  if [ -e "$key" ]; then
    echo "kept the existing key (never regenerated: the face templates are encrypted with it)"
    return 0
  fi
  run install -d -m 0700 -o root -g root "$CREDSTORE"
  echo "+ umask 077; python3 -c 'import secrets; print(secrets.token_hex(32))' > $key"
  if [ "$DRY_RUN" -eq 0 ]; then
    (umask 077 && python3 -c 'import secrets; print(secrets.token_hex(32))' > "$key")
    chown root:root "$key"
    chmod 0600 "$key"
  fi
  echo "IMPORTANT: copy $key to the site's key escrow now; without it a restored backup"
  echo "           cannot decrypt the face templates (docs/operations.md, 'Backup')."
}

fetch_models() {
  say "7. models"
  local args=(models fetch --config "$CONFIG" --dir "$STATE/models")
  if [ -n "$MODELS_FROM" ]; then
    args+=(--from "$MODELS_FROM")
  fi
  run "$VENV/bin/menwei" "${args[@]}"
  run chown -R menwei:menwei "$STATE"
}

start_service() {
  say "8. service"
  local active=0
  if [ "$DRY_RUN" -eq 0 ] && systemctl is-active --quiet menwei.service; then
    active=1
  fi
  if [ "$START" -eq 1 ] && [ "$active" -eq 1 ]; then
    run systemctl enable menwei.service
    run systemctl restart menwei.service
  elif [ "$START" -eq 1 ]; then
    run systemctl enable --now menwei.service
  else
    run systemctl enable menwei.service
  fi
  echo "+ $VENV/bin/menwei doctor --config $CONFIG"
  if [ "$DRY_RUN" -eq 0 ] && ! "$VENV/bin/menwei" doctor --config "$CONFIG"; then
    echo "doctor found problems: fix them (each line says how), then systemctl restart menwei"
  fi
}

main() {
  parse_args "$@"
  preflight
  [ "$DRY_RUN" -eq 1 ] && echo "DRY RUN: nothing is installed, written or started"
  install_packages
  install_user
  install_venv
  install_units
  install_config
  make_key
  fetch_models
  start_service
  say "done: journalctl -u menwei -f   |   menwei doctor --config $CONFIG"
}

main "$@"
