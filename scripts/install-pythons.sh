#!/usr/bin/env bash
# Makes sure a CPython 3.13 is there for the Python tests (they also run on 3.11, which Debian 12 has as
# /usr/bin/python3). Run as root on Debian 12 (bookworm): `npm run pythons`.
#
# The first of these that applies:
#   1. pyenv has a 3.13 (~/.pyenv/versions/3.13*), or /opt/pythons/python-3.13.<n>/bin/python3 runs:
#      nothing to do (fast: CI calls this every time);
#   2. build the upstream tarball inside Debian's trixie source package python3.13 into
#      /opt/pythons/python-3.13.<n> (Debian's patches are not applied: we want stock CPython), fetched
#      through a private apt configuration so that the system's apt sources never see trixie. A plain
#      build (no PGO/LTO) takes several minutes on two CPUs; it runs at low priority (nice).
# A failed build leaves no half-installed /opt/pythons/python-3.13.<n>: it is installed into a staging
# folder beside it and renamed into place only once it works.
#
# COWSCOPE_FORCE_PYTHON_BUILD=1 skips pyenv's 3.13 in step 1 (to try the build on a machine that has it).
set -euo pipefail

NAME=install-pythons
# the minor version the tests want, and the Debian source package and suite that carry it
MINOR=3.13
SRC_PACKAGE=python3.13
declare -A SRC_SUITE=([$MINOR]=trixie)

# Where the builds go. COWSCOPE_PYTHONS_PREFIX is an undocumented override, so that the build can be
# tried without touching /opt/pythons.
PREFIX=${COWSCOPE_PYTHONS_PREFIX:-/opt/pythons}

case "${1:-}" in
  -h|--help) sed -n '2,15p' "$0" | sed -E 's/^# ?//'; exit 0 ;;
  "") ;;
  *) echo "$NAME: unknown argument: $1" >&2; exit 2 ;;
esac

# works PYTHON: does PYTHON run, say it is $MINOR.*, and have the modules the agent and tests use?
works() {
  local out
  out=$("$1" -c 'import ctypes, json, zlib; import platform; print(platform.python_version())' 2>/dev/null) || return 1
  [[ "$out" == "$MINOR".* ]]
}

# ---- 1. already there ------------------------------------------------------------------------------

if [ "${COWSCOPE_FORCE_PYTHON_BUILD:-}" != 1 ]; then
  for p in "$HOME"/.pyenv/versions/"$MINOR"*/bin/python3; do
    if [ -x "$p" ]; then echo "python $MINOR: pyenv has $(dirname "$(dirname "$p")")"; exit 0; fi
  done
fi
for p in "$PREFIX"/python-"$MINOR".*/bin/python3; do
  if [ -x "$p" ] && works "$p"; then echo "python $MINOR: already installed at $(dirname "$(dirname "$p")")"; exit 0; fi
done

# ---- 2. from Debian's source package ---------------------------------------------------------------

# One scratch folder for apt state, downloads and the build, and a staging folder beside the prefix
# (same filesystem, so the final rename is atomic): all removed on exit, whatever the outcome.
WORK=$(mktemp -d "${TMPDIR:-/tmp}/install-pythons.XXXXXX")
stage=
on_exit() {
  local status=$?
  rm -rf "$WORK"
  if [ -n "$stage" ]; then rm -rf "$stage"; fi
  [ "$status" -eq 0 ] || echo "$NAME: failed" >&2
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# shellcheck source=lib/install-common.sh
. "$(dirname "$0")/lib/install-common.sh"

start=$(now_ms)
echo "python $MINOR: building from Debian's source package $SRC_PACKAGE (${SRC_SUITE[$MINOR]})"
# dpkg-dev for apt-get source; the -dev packages for the extension modules the agent and the tests
# use (ctypes: libffi; zlib; ssl, bz2, lzma, sqlite3 so that the build is a usual one)
timed "python $MINOR: build dependencies" \
  apt_install_missing build-essential dpkg-dev xz-utils pkg-config libffi-dev zlib1g-dev libssl-dev libbz2-dev liblzma-dev libsqlite3-dev
setup_private_apt "${SRC_SUITE[$MINOR]}"
debver=$(source_version "$SRC_PACKAGE" "${SRC_SUITE[$MINOR]}" "$MINOR.")
[ -n "$debver" ] || { echo "$NAME: ${SRC_SUITE[$MINOR]} has no $SRC_PACKAGE" >&2; exit 1; }
# the upstream version: 3.13.5-2 -> 3.13.5
version=${debver%%-*}
version=${version#*:}
dest=$PREFIX/python-$version

orig=$(download_orig "$SRC_PACKAGE" "$debver" "$WORK/download")
build=$WORK/build
mkdir -p "$build"
timed "python $version: unpack $(basename "$orig")" tar -xf "$orig" -C "$build" --strip-components=1
[ -x "$build/configure" ] || { echo "$NAME: $(basename "$orig") has no configure script" >&2; exit 1; }

# No ensurepip (the tests need no pip); no optimizations (PGO runs the whole test suite: far longer).
timed "python $version: configure" logged "$WORK/configure.log" \
  in_dir "$build" nice ./configure --prefix="$dest" --without-ensurepip
timed "python $version: make -j$(nproc)" logged "$WORK/make.log" in_dir "$build" nice make -j"$(nproc)"
mkdir -p "$PREFIX"
stage=$(mktemp -d "$PREFIX/.install-pythons.XXXXXX")
# DESTDIR: the files go to $stage$dest, built for $dest, and are renamed there.
timed "python $version: make install (staged)" logged "$WORK/install.log" in_dir "$build" nice make install DESTDIR="$stage"
if [ -e "$dest" ] || [ -L "$dest" ]; then
  echo "python $version: moving the broken $dest out of the way"
  mv -T "$dest" "$stage/old"
fi
mv -T "$stage$dest" "$dest"
if ! works "$dest/bin/python3"; then
  echo "python $version: $dest/bin/python3 does not work; removing it" >&2
  rm -rf "$dest"
  exit 1
fi
echo "python $version: installed at $dest in $(since "$start")"
