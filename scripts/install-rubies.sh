#!/usr/bin/env bash
# Installs the extra CRuby versions the test suite runs on, in chruby's layout:
# /opt/rubies/ruby-<version>/bin/ruby. Run as root on Debian 12 (bookworm): `npm run rubies`.
#
# For each version, the first of these that applies:
#   1. it is already there (its `ruby -v` reports the version): nothing to do;
#   2. COWSCOPE_RUBY_CACHE names a folder with a prebuilt ruby-<version>-x86_64-linux-*.tar.xz that its
#      SHA256SUMS verifies: unpack it;
#   3. build it from the upstream tarball inside Debian's source package (Debian's own patches are not
#      applied: we want stock CRuby), fetched through a private apt configuration so that the system's
#      apt sources never see trixie or experimental.
# A failed install leaves no half-installed /opt/rubies/ruby-<version>: everything is put together in a
# staging folder beside it and renamed into place only once complete.
# Then install-rails-gems.sh gives each of them the gems the Rails fixture app needs (built for it from
# Debian's source packages; a second or so when they are there).
#
# Options: --only VERSION (may be repeated) installs only those versions.
set -euo pipefail

NAME=install-rubies
# shellcheck source=lib/install-common.sh
. "$(dirname "$0")/lib/install-common.sh"
# the versions, and the Debian source package and suite of each: RUBY_VERSIONS, RUBY_SRC_PACKAGE and
# RUBY_SRC_SUITE in lib/install-common.sh
VERSIONS=("${RUBY_VERSIONS[@]}")

# Where the Rubies go. COWSCOPE_RUBIES_PREFIX is an undocumented override, so that the build can be
# tried without touching /opt/rubies.
PREFIX=${COWSCOPE_RUBIES_PREFIX:-/opt/rubies}
# The prebuilt tarballs are built for /opt/rubies (the prefix is compiled into them), so the cache is
# only of use there.
CACHE=${COWSCOPE_RUBY_CACHE:-}
[ "$PREFIX" = /opt/rubies ] || CACHE=

# Standard libraries the tests load, checked after each install: configure quietly leaves out an
# extension whose C library is missing, and `ruby -v` would not notice.
CHECK_LIBS='%w[json objspace fiddle openssl zlib psych].each { |l| require l }'

only=()
while [ $# -gt 0 ]; do
  case "$1" in
    --only) [ $# -ge 2 ] || { echo "install-rubies: --only needs a version" >&2; exit 2; }
            only+=("$2"); shift 2 ;;
    --only=*) only+=("${1#--only=}"); shift ;;
    -h|--help) sed -n '2,17p' "$0" | sed -E 's/^# ?//'; exit 0 ;;
    *) echo "install-rubies: unknown argument: $1" >&2; exit 2 ;;
  esac
done
if [ ${#only[@]} -gt 0 ]; then
  for v in "${only[@]}"; do
    [ -n "${RUBY_SRC_PACKAGE[$v]:-}" ] || { echo "install-rubies: unknown version $v (known: ${VERSIONS[*]})" >&2; exit 2; }
  done
  VERSIONS=("${only[@]}")
fi

# One scratch folder for apt state, downloads and builds, and staging folders beside the prefix (same
# filesystem, so the final rename is atomic): all removed on exit, whatever the outcome.
WORK=$(mktemp -d "${TMPDIR:-/tmp}/install-rubies.XXXXXX")
STAGES=()
on_exit() {
  local status=$?
  rm -rf "$WORK"
  if [ ${#STAGES[@]} -gt 0 ]; then rm -rf "${STAGES[@]}"; fi
  [ "$status" -eq 0 ] || echo "install-rubies: failed" >&2
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- helpers ------------------------------------------------------------------------------------

# new_stage: makes a staging folder beside the prefix (removed on exit) and sets $stage to it.
new_stage() {
  mkdir -p "$PREFIX" && stage=$(mktemp -d "$PREFIX/.install-rubies.XXXXXX") || return 1
  STAGES+=("$stage")
}

# put_in_place VERSION DIR: renames the complete DIR to $PREFIX/ruby-VERSION (moving a broken install
# that is there out of the way first), then checks that it works, and removes it again if not.
put_in_place() {
  local v=$1 dir=$2 dest=$PREFIX/ruby-$1
  if [ -e "$dest" ] || [ -L "$dest" ]; then
    echo "ruby $v: moving the broken $dest out of the way"
    mv -T "$dest" "$stage/old" || return 1
  fi
  mv -T "$dir" "$dest" || return 1
  if ! reports "$v" "$dest/bin/ruby" || ! "$dest/bin/ruby" -W0 -e "$CHECK_LIBS"; then
    echo "ruby $v: $dest/bin/ruby does not work; removing it" >&2
    rm -rf "$dest"
    return 1
  fi
}

# ---- 2. from the cache ----------------------------------------------------------------------------

# cached_tarball VERSION: prints the cache's tarball for VERSION, if there is exactly one.
cached_tarball() {
  [ -n "$CACHE" ] && [ -d "$CACHE" ] && [ -f "$CACHE/SHA256SUMS" ] || return 1
  local files=("$CACHE"/ruby-"$1"-x86_64-linux-*.tar.xz)
  [ ${#files[@]} -eq 1 ] && [ -f "${files[0]}" ] || return 1
  echo "${files[0]}"
}

# verify_tarball FILE: sha256sum -c on FILE's own line of SHA256SUMS only (the other files it lists
# need not be there).
verify_tarball() {
  local name line
  name=$(basename "$1")
  line=$(awk -v n="$name" '$2 == n || $2 == "*" n' "$CACHE/SHA256SUMS")
  [ -n "$line" ] || { echo "no line for $name in $CACHE/SHA256SUMS" >&2; return 1; }
  (cd "$CACHE" && sha256sum -c --strict - <<<"$line")
}

install_from_cache() {
  local v=$1 tarball=$2
  # tar -J needs xz; the rest are the shared libraries the prebuilt Ruby links to
  apt_install_missing xz-utils libyaml-0-2 libssl3 zlib1g libffi8 libgmp10 || return 1
  new_stage || return 1
  # The tarball holds opt/rubies/ruby-<version>/... . Unpacked into the staging folder rather than
  # straight into /, so that nothing lands in /opt/rubies before all of it is there.
  timed "ruby $v: unpack $(basename "$tarball")" tar -xJf "$tarball" -C "$stage" || return 1
  [ -x "$stage/opt/rubies/ruby-$v/bin/ruby" ] || { echo "$tarball holds no opt/rubies/ruby-$v/bin/ruby" >&2; return 1; }
  timed "ruby $v: put in place and check" put_in_place "$v" "$stage/opt/rubies/ruby-$v"
}

# ---- 3. from Debian's source package --------------------------------------------------------------

install_from_source() {
  local v=$1 pkg=${RUBY_SRC_PACKAGE[$1]} debver orig
  local dl=$WORK/download-$v build=$WORK/build-$v
  echo "ruby $v: building from Debian's source package $pkg (${RUBY_SRC_SUITE[$v]})"
  # dpkg-dev for apt-get source; the -dev packages for the extensions the tests need (psych, openssl,
  # zlib, fiddle) and GMP for faster bignums
  timed "ruby $v: build dependencies" \
    apt_install_missing build-essential dpkg-dev xz-utils libyaml-dev libssl-dev zlib1g-dev libffi-dev libgmp-dev
  setup_private_apt $(printf '%s\n' "${RUBY_SRC_SUITE[@]}" | sort -u)
  # The Debian version whose upstream part is exactly $v (e.g. 3.4.5-1~exp1): the suite may list newer
  # ones too, which are not what we want (and whose files may be gone from the mirror).
  debver=$(source_version "$pkg" "${RUBY_SRC_SUITE[$v]}" "$v-")
  [ -n "$debver" ] || { echo "install-rubies: ${RUBY_SRC_SUITE[$v]} has no $pkg $v" >&2; return 1; }

  mkdir -p "$build"
  orig=$(download_orig "$pkg" "$debver" "$dl") || return 1
  timed "ruby $v: unpack $(basename "$orig")" tar -xf "$orig" -C "$build" --strip-components=1
  [ -x "$build/configure" ] || { echo "install-rubies: $(basename "$orig") has no configure script" >&2; return 1; }

  # `make install` would download the bundled gems, and there is no network: keep only the comments.
  (cd "$build" && grep '^#' gems/bundled_gems > gems/bundled_gems.new && mv gems/bundled_gems.new gems/bundled_gems)
  timed "ruby $v: configure" logged "$WORK/configure-$v.log" \
    in_dir "$build" ./configure --prefix="$PREFIX/ruby-$v" --enable-shared --disable-install-doc --disable-install-rdoc
  timed "ruby $v: make -j$(nproc)" logged "$WORK/make-$v.log" in_dir "$build" make -j"$(nproc)"
  new_stage
  # DESTDIR: the files go to $stage$PREFIX/ruby-$v, built for $PREFIX/ruby-$v, and are renamed there.
  timed "ruby $v: make install (staged)" logged "$WORK/install-$v.log" in_dir "$build" make install DESTDIR="$stage"
  timed "ruby $v: put in place and check" put_in_place "$v" "$stage$PREFIX/ruby-$v"
  rm -rf "$dl" "$build"
}

# ---- main -----------------------------------------------------------------------------------------

for v in "${VERSIONS[@]}"; do
  if reports "$v" "$PREFIX/ruby-$v/bin/ruby"; then
    echo "ruby $v: already installed"
    continue
  fi
  start=$(now_ms)
  if tarball=$(cached_tarball "$v"); then
    if timed "ruby $v: verify $tarball" verify_tarball "$tarball"; then
      if ! install_from_cache "$v" "$tarball"; then
        echo "ruby $v: the cached build did not install; building from source instead" >&2
        install_from_source "$v"
      fi
    else
      echo "ruby $v: $tarball does not match SHA256SUMS; building from source instead" >&2
      install_from_source "$v"
    fi
  else
    install_from_source "$v"
  fi
  echo "ruby $v: installed at $PREFIX/ruby-$v in $(since "$start")"
done

# The gems the Rails fixture app needs, for each of these Rubies (same prefix, same versions)
only_args=()
for v in "${VERSIONS[@]}"; do only_args+=(--only "$v"); done
# Not fatal: the Rubies themselves are installed; the Rails tests skip (and name) a Ruby without them.
if ! bash "$(dirname "$0")/install-rails-gems.sh" "${only_args[@]}"; then
  echo "install-rubies: the Rails app's gems could not be built for every Ruby; the Rails tests will skip those (retry: npm run rails-gems)" >&2
fi
