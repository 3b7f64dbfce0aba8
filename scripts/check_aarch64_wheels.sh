#!/usr/bin/env bash
# Prove every runtime dependency installs on the target from wheels: aarch64, CPython 3.11,
# glibc 2.36 (Debian 12 / Raspberry Pi OS bookworm), no compiler needed.
#
#   scripts/check_aarch64_wheels.sh [--python-version 3.11] [--index-url URL] [--keep DIR]
#
# Downloads (never installs) the runtime dependency list of pyproject.toml, resolved with their
# own dependencies, with `pip download --only-binary=:all:` for manylinux aarch64 into a temp
# folder. When the whole set does not resolve, each requirement is retried alone to name the
# ones without an aarch64 wheel. insightface, installed with --no-deps (see the Makefile), is
# checked on its own. Exit 0: everything has a wheel; 1: some do not (listed); 2: PyPI (or the
# index given) is unreachable. Pip's own config is ignored (--isolated) so local wheel folders
# cannot hide a missing upstream wheel; pass a mirror with --index-url (e.g. a Tsinghua mirror).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON_VERSION="3.11"
INDEX_URL="${MENWEI_PIP_INDEX_URL:-https://pypi.org/simple}"
KEEP=""
PYTHON="${PYTHON:-python3}"
# manylinux tags a bookworm aarch64 box (glibc 2.36) accepts; pip matches tags literally.
PLATFORMS=(manylinux2014_aarch64)
for minor in 17 24 26 27 28 31 34 35 36; do
  PLATFORMS+=("manylinux_2_${minor}_aarch64")
done
NO_DEPS_EXTRAS=("insightface>=0.7.3")

while [ $# -gt 0 ]; do
  case "$1" in
    --python-version) PYTHON_VERSION="${2:?}"; shift 2 ;;
    --index-url) INDEX_URL="${2:?}"; shift 2 ;;
    --keep) KEEP="${2:?}"; shift 2 ;;
    -h | --help) sed -n '2,/^set /{/^#/p}' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
DEST="${KEEP:-$WORK/wheels}"
mkdir -p "$DEST"

# The runtime requirements, one per line, from pyproject.toml.
"$PYTHON" - "$REPO/pyproject.toml" > "$WORK/requirements.txt" << 'PY'
import sys
import tomllib

with open(sys.argv[1], "rb") as handle:
    for requirement in tomllib.load(handle)["project"]["dependencies"]:
        print(requirement)
PY

platform_args=()
for platform in "${PLATFORMS[@]}"; do
  platform_args+=(--platform "$platform")
done

# pip_download [--no-deps] REQUIREMENT... : download wheels for the target into $DEST.
pip_download() {
  "$PYTHON" -m pip --isolated download --quiet --disable-pip-version-check \
    --index-url "$INDEX_URL" --only-binary=:all: --python-version "$PYTHON_VERSION" \
    --implementation cp "${platform_args[@]}" --dest "$DEST" "$@"
}

host="$(printf '%s\n' "$INDEX_URL" | sed -E 's#^[a-z]+://([^/:]+).*#\1#')"
if ! "$PYTHON" -c "import urllib.request, sys; urllib.request.urlopen(sys.argv[1], timeout=15)" \
  "$INDEX_URL/pip/" > /dev/null 2>&1; then
  echo "INDEX UNREACHABLE: $INDEX_URL ($host): cannot check aarch64 wheels" >&2
  exit 2
fi

missing=()
mapfile -t requirements < "$WORK/requirements.txt"
echo "checking ${#requirements[@]} runtime requirements for cp${PYTHON_VERSION/./} aarch64..."
if pip_download "${requirements[@]}" 2> "$WORK/all.log"; then
  echo "ok: the whole runtime set resolves from aarch64 wheels"
else
  echo "the whole set does not resolve; checking one requirement at a time:"
  for requirement in "${requirements[@]}"; do
    if pip_download "$requirement" 2> "$WORK/one.log"; then
      echo "  ok       $requirement"
    else
      echo "  NO WHEEL $requirement: $(grep -m1 -E 'ERROR' "$WORK/one.log" || echo 'see pip')"
      missing+=("$requirement")
    fi
  done
fi
for requirement in "${NO_DEPS_EXTRAS[@]}"; do
  if pip_download --no-deps "$requirement" 2> "$WORK/one.log"; then
    echo "  ok       $requirement (--no-deps)"
  else
    echo "  NO WHEEL $requirement (--no-deps): $(grep -m1 ERROR "$WORK/one.log" || echo 'see pip')"
    missing+=("$requirement")
  fi
done

echo "wheels downloaded: $(find "$DEST" -name '*.whl' | wc -l) ($DEST)"
if [ "${#missing[@]}" -gt 0 ]; then
  echo "WITHOUT AN AARCH64 WHEEL: ${missing[*]}"
  echo "(those need a compiler on the box: build-essential python3-dev, or a prebuilt wheel)"
  exit 1
fi
echo "every runtime dependency has an aarch64 wheel"
