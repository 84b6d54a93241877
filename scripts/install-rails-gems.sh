#!/usr/bin/env bash
# Makes the extra Rubies (/opt/rubies/ruby-<version>, as install-rubies.sh installs them) able to boot
# the Rails 6.1 fixture app (fixtures/ruby/rails) with Debian's Rails. Run as root on Debian 12 with
# Debian's ruby-rails installed; install-rubies.sh runs it after the Rubies are in place.
#
# Debian's pure-Ruby gems (rails, rack, loofah, ...) are used where Debian put them: a Ruby finds them
# with GEM_PATH=/usr/share/rubygems-integration/all: (the trailing colon keeps its own gems too). What
# Debian has only for its own Ruby 3.1 is built here for each Ruby and installed as gems into that Ruby's
# own gem folder (/opt/rubies/ruby-<version>/lib/ruby/gems/<abi>), never into Debian's paths:
#   - the bundled gems Rails loads that these Rubies lack (they are installed without their bundled
#     gems, which would need the network): minitest, and racc from 3.3 on, bigdecimal, base64 and
#     mutex_m from 3.4 on; from the .bundle/ folder of the upstream tarball in the Ruby's Debian
#     source package (the one install-rubies.sh builds from);
#   - the native extension gems, from Debian's source packages (Debian's patches applied): nokogiri (the
#     version Debian's Ruby 3.1 has, on system libxml2/libxslt) and sqlite3 (on system SQLite; see
#     NATIVE_SOURCE for which version and why);
#   - mini_portile2, which nokogiri's extconf.rb loads: packed from Debian's ruby-mini-portile2.
# A Ruby that already has all of them is left alone (a check of well under a second).
#
# Options: --only VERSION (may be repeated) does only those versions.
set -euo pipefail

NAME=install-rails-gems
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib/install-common.sh
. "$HERE/lib/install-common.sh"

PREFIX=${COWSCOPE_RUBIES_PREFIX:-/opt/rubies}
# Debian's arch-independent gems (ruby-rails and its dependencies)
DEBIAN_GEMS=/usr/share/rubygems-integration/all

# Bundled gems (name, then the Ruby version from which on it is a bundled gem rather than a default one)
# that the app loads: ActiveSupport's gemspec asks for minitest, it requires bigdecimal, base64 and
# mutex_m; nokogiri's CSS parser is a racc one.
BUNDLED=(minitest:3.0 racc:3.3 bigdecimal:3.4 base64:3.4 mutex_m:3.4)

# Native extension gems: gem -> "source package, suite, Debian version prefix, extconf options".
# nokogiri: bookworm's, the version Debian's Ruby 3.1 has. sqlite3: Debian's mirror does not serve the
# sources of bookworm's 1.4.2 (nor trixie's 1.7.3), so the 2.x of sid (2.9.6 when this was written);
# Debian's ActiveRecord 6.1 asks for no particular sqlite3 version, and the app's calls work on 2.x.
declare -A NATIVE_SOURCE=(
  [nokogiri]="ruby-nokogiri bookworm 1.13.10+dfsg- --use-system-libraries"
  [sqlite3]="ruby-sqlite3 sid 2. --enable-system-libraries"
)
NATIVE=(nokogiri sqlite3)
# Debian packages the builds need: apt-get source and dpkg-source, the C libraries' headers, and the gems
# that come from Debian as they are
BUILD_DEPS=(build-essential dpkg-dev xz-utils pkg-config libsqlite3-dev libxml2-dev libxslt1-dev zlib1g-dev ruby-mini-portile2 ruby-rails)

only=()
while [ $# -gt 0 ]; do
  case "$1" in
    --only) [ $# -ge 2 ] || { echo "$NAME: --only needs a version" >&2; exit 2; }
            only+=("$2"); shift 2 ;;
    --only=*) only+=("${1#--only=}"); shift ;;
    -h|--help) sed -n '2,20p' "$0" | sed -E 's/^# ?//'; exit 0 ;;
    *) echo "$NAME: unknown argument: $1" >&2; exit 2 ;;
  esac
done
VERSIONS=("${RUBY_VERSIONS[@]}")
if [ ${#only[@]} -gt 0 ]; then
  for v in "${only[@]}"; do
    [ -n "${RUBY_SRC_PACKAGE[$v]:-}" ] || { echo "$NAME: unknown version $v (known: ${VERSIONS[*]})" >&2; exit 2; }
  done
  VERSIONS=("${only[@]}")
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/install-rails-gems.XXXXXX")
on_exit() {
  local status=$?
  rm -rf "$WORK"
  [ "$status" -eq 0 ] || echo "$NAME: failed" >&2
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- what a Ruby has ------------------------------------------------------------------------------

# bundled_needed VERSION: the bundled gems of BUNDLED that a Ruby of VERSION needs
bundled_needed() {
  local entry
  for entry in "${BUNDLED[@]}"; do
    if [ "$(printf '%s\n' "${entry#*:}" "$1" | sort -V | head -n 1)" = "${entry#*:}" ]; then echo "${entry%%:*}"; fi
  done
}

# has_gem RUBY NAME: can RUBY activate gem NAME from its own gem folders (no GEM_PATH)?
has_gem() { env -u GEM_PATH -u GEM_HOME "$1" -e "gem '$2'" 2>/dev/null; }

# boots_rails RUBY: does RUBY load Rails and the native extensions the app needs?
boots_rails() {
  env -u GEM_HOME GEM_PATH="$DEBIAN_GEMS:" "$1" -W0 -e \
    '%w[rails active_record sqlite3 nokogiri bigdecimal racc/cparse].each { |l| require l }' 2>/dev/null
}

# ---- installing -----------------------------------------------------------------------------------

# gem_install RUBY GEMFILE [EXTCONF OPTION...]: installs GEMFILE into RUBY's own gem folder, without
# documentation or dependency resolution (the dependencies are installed here or come from Debian).
gem_install() {
  local ruby=$1 file=$2; shift 2
  local args=(--local --ignore-dependencies --no-document "$file")
  [ $# -eq 0 ] || args+=(-- "$@")
  # the extension builds run make: both cores, at low priority (other work shares the machine)
  env -u GEM_PATH -u GEM_HOME MAKEFLAGS="-j$(nproc)" nice "$(dirname "$ruby")/gem" install "${args[@]}"
}

# pack RUBY GEMSPEC DIR: packs the unpacked gem DIR into $WORK/gems/ and prints the .gem's path
pack() {
  mkdir -p "$WORK/gems"
  "$1" "$HERE/pack-gem.rb" "$2" "$3" "$WORK/gems" 2>/dev/null | tail -n 1
}

# download_source PACKAGE SUITE PREFIX: downloads and unpacks (with Debian's patches) the newest version
# of source PACKAGE that starts with PREFIX into $WORK/src-PACKAGE; prints that folder.
download_source() {
  local pkg=$1 suite=$2 prefix=$3 debver dl=$WORK/dl-$1 out=$WORK/src-$1
  [ -d "$out" ] && { echo "$out"; return 0; }
  debver=$(source_version "$pkg" "$suite" "$prefix")
  [ -n "$debver" ] || { echo "$NAME: $suite has no $pkg $prefix*" >&2; return 1; }
  mkdir -p "$dl"
  if id _apt >/dev/null 2>&1; then chown _apt "$dl"; fi
  logged "$WORK/download-$pkg.log" in_dir "$dl" apt-get "${APT_OPTS[@]}" source --download-only --only-source "$pkg=$debver" >&2 || return 1
  logged "$WORK/unpack-$pkg.log" dpkg-source -x "$dl/${pkg}_${debver#*:}.dsc" "$out" >&2 || return 1
  echo "$out"
}

# ruby_bundle VERSION: the .bundle/ folder of the upstream tarball in VERSION's Debian source package,
# unpacked (only that folder) into $WORK; prints its path.
ruby_bundle() {
  local v=$1 pkg=${RUBY_SRC_PACKAGE[$1]} debver dl=$WORK/dl-ruby-$1 out=$WORK/ruby-$1 orig
  [ -d "$out/.bundle" ] && { echo "$out/.bundle"; return 0; }
  debver=$(source_version "$pkg" "${RUBY_SRC_SUITE[$v]}" "$v-")
  [ -n "$debver" ] || { echo "$NAME: ${RUBY_SRC_SUITE[$v]} has no $pkg $v" >&2; return 1; }
  mkdir -p "$out"
  orig=$(download_orig "$pkg" "$debver" "$dl") || return 1
  tar -xf "$orig" -C "$out" --strip-components=1 --wildcards '*/.bundle/*' >&2 || return 1
  echo "$out/.bundle"
}

# install_bundled RUBY VERSION NAME: installs bundled gem NAME from VERSION's source tarball
install_bundled() {
  local ruby=$1 v=$2 name=$3 bundle dir spec file
  bundle=$(ruby_bundle "$v") || return 1
  dir=$(find "$bundle/gems" -maxdepth 1 -name "$name-[0-9]*" -print -quit)
  [ -n "$dir" ] || { echo "$NAME: the Ruby $v source tarball has no bundled gem $name" >&2; return 1; }
  # an installed-form gemspec in .bundle/specifications, or (gems with an extension, which are built
  # at install) the gem's own one in its folder
  spec=$bundle/specifications/$(basename "$dir").gemspec
  [ -f "$spec" ] || spec=$dir/$(basename "$dir").gemspec
  file=$(pack "$ruby" "$spec" "$dir") && [ -f "$file" ] || return 1
  logged "$WORK/install-$v-$name.log" gem_install "$ruby" "$file"
}

# install_mini_portile RUBY: installs Debian's mini_portile2 (pure Ruby) into RUBY's gem folder
install_mini_portile() {
  local spec file
  spec=$(find "$DEBIAN_GEMS/specifications" -name 'mini_portile2-*.gemspec' -print -quit)
  [ -n "$spec" ] || { echo "$NAME: no mini_portile2 in $DEBIAN_GEMS (apt-get install ruby-mini-portile2)" >&2; return 1; }
  file=$(pack "$1" "$spec" "$DEBIAN_GEMS/gems/$(basename "$spec" .gemspec)") && [ -f "$file" ] || return 1
  logged "$WORK/install-mini_portile2.log" gem_install "$1" "$file"
}

# install_native RUBY VERSION NAME: builds and installs native gem NAME from its Debian source package
install_native() {
  local ruby=$1 v=$2 name=$3 pkg suite prefix opts src file
  read -r pkg suite prefix opts <<<"${NATIVE_SOURCE[$name]}"
  src=$(download_source "$pkg" "$suite" "$prefix") || return 1
  file=$(pack "$ruby" "$src/$name.gemspec" "$src") && [ -f "$file" ] || return 1
  # shellcheck disable=SC2086 # opts: extconf options, one word each
  logged "$WORK/install-$v-$name.log" gem_install "$ruby" "$file" $opts
}

install_for() {
  local v=$1 ruby=$PREFIX/ruby-$1/bin/ruby name suites
  timed "rails gems for $v: build dependencies" apt_install_missing "${BUILD_DEPS[@]}"
  suites=$(for name in "${NATIVE[@]}"; do read -r _ s _ <<<"${NATIVE_SOURCE[$name]}"; echo "$s"; done
           printf '%s\n' "${RUBY_SRC_SUITE[@]}")
  setup_private_apt $(sort -u <<<"$suites")
  for name in $(bundled_needed "$v"); do
    has_gem "$ruby" "$name" || timed "ruby $v: bundled gem $name" install_bundled "$ruby" "$v" "$name"
  done
  has_gem "$ruby" mini_portile2 || timed "ruby $v: mini_portile2 (Debian's)" install_mini_portile "$ruby"
  for name in "${NATIVE[@]}"; do
    has_gem "$ruby" "$name" || timed "ruby $v: $name (Debian's source package ${NATIVE_SOURCE[$name]%% *})" install_native "$ruby" "$v" "$name"
  done
  boots_rails "$ruby" || { echo "$NAME: $ruby still cannot load Rails and its extensions" >&2; return 1; }
}

# ---- main -----------------------------------------------------------------------------------------

for v in "${VERSIONS[@]}"; do
  ruby=$PREFIX/ruby-$v/bin/ruby
  if ! reports "$v" "$ruby"; then
    echo "$NAME: no Ruby $v at $PREFIX/ruby-$v (install it first: scripts/install-rubies.sh)" >&2
    exit 1
  fi
  if boots_rails "$ruby"; then
    echo "rails gems for $v: already installed"
    continue
  fi
  start=$(now_ms)
  install_for "$v"
  echo "rails gems for $v: installed in $(since "$start")"
done
