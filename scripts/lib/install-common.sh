# Helpers shared by the install scripts (install-rubies.sh, install-rails-gems.sh, install-pythons.sh): timing and logging,
# Debian packages, and a private apt configuration for Debian source packages. Sourced, not run.
# The including script sets WORK (its scratch folder, removed on exit) and NAME (its name, for messages).

# The extra Rubies (chruby's layout, /opt/rubies/ruby-<version>), and the Debian source package and
# suite that carry each one's upstream tarball.
RUBY_VERSIONS=(3.3.8 3.4.5)
declare -A RUBY_SRC_PACKAGE=([3.3.8]=ruby3.3 [3.4.5]=ruby3.4)
declare -A RUBY_SRC_SUITE=([3.3.8]=trixie [3.4.5]=experimental)

# ---- timing and logging ---------------------------------------------------------------------------

# (EPOCHREALTIME is "seconds.microseconds", with the locale's decimal separator)
now_ms() { echo $(( ${EPOCHREALTIME//[!0-9]/} / 1000 )); }
since() { local ms=$(( $(now_ms) - $1 )); printf '%d.%d s' $(( ms / 1000 )) $(( ms % 1000 / 100 )); }

# timed LABEL COMMAND...: runs COMMAND and prints how long it took. Returns COMMAND's failure
# explicitly, so that it also works where bash ignores `set -e` (inside `if`, `||`).
timed() {
  local label=$1 start; shift
  start=$(now_ms)
  echo "$label ..."
  if ! "$@"; then
    echo "$label: FAILED after $(since "$start")" >&2
    return 1
  fi
  echo "$label: $(since "$start")"
}

# logged LOG COMMAND...: runs a chatty COMMAND (apt, configure, make) with its output in LOG, and shows
# the end of LOG only if it fails.
logged() {
  local log=$1; shift
  if ! "$@" >"$log" 2>&1; then
    echo "--- last lines of $(basename "$log") ---" >&2
    tail -n 40 "$log" >&2
    return 1
  fi
}

# in_dir DIR COMMAND...: runs COMMAND in DIR (a subshell, so the script's own directory stays put).
in_dir() ( cd "$1" && shift && "$@" )

# reports VERSION RUBY: does RUBY run and say that it is VERSION?
reports() {
  local out
  out=$("$2" -v 2>/dev/null) || return 1
  [[ "$out" == "ruby $1 "* ]]
}

# apt_install_missing PACKAGE...: installs those of the Debian packages that are not installed yet.
apt_install_missing() {
  local missing=() p
  for p in "$@"; do
    [ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)" = installed ] || missing+=("$p")
  done
  [ ${#missing[@]} -gt 0 ] || return 0
  echo "installing Debian packages: ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get update -q &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
}

# debian_mirror: the Debian archive the system already uses, the URI of each enabled apt source for
# the system's own release (deb822 .sources files, then one-line .list files).
debian_mirror() {
  local codename f
  # shellcheck source=/dev/null
  codename=$(. /etc/os-release && echo "$VERSION_CODENAME")
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    # one stanza per paragraph; "Suites: bookworm bookworm-updates" matches, bookworm-security not
    awk -v want="$codename" '
      function flush() { if (enabled && uri != "" && (" " suites " ") ~ (" " want " ")) print uri
                         uri = ""; suites = ""; enabled = 1 }
      BEGIN { enabled = 1 }
      /^[ \t]*#/ { next }
      /^[ \t]*$/ { flush(); next }
      tolower($1) == "uris:"    { uri = $2 }
      tolower($1) == "suites:"  { $1 = ""; suites = $0 }
      tolower($1) == "enabled:" { enabled = (tolower($2) != "no") }
      END { flush() }' "$f"
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    # deb [options] URI SUITE COMPONENTS...
    sed -E 's/\[[^]]*\]//' "$f" | awk -v want="$codename" '$1 == "deb" && $3 == want { print $2 }'
  done
}

# setup_private_apt SUITE...: an apt configuration of our own in $WORK that only knows the deb-src lines we
# need, on the system's own mirror; the system's sources, lists and caches stay untouched. Sets
# APT_OPTS for apt-get and apt-cache.
APT_OPTS=()
setup_private_apt() {
  [ ${#APT_OPTS[@]} -eq 0 ] || return 0
  local mirror keyring=/usr/share/keyrings/debian-archive-keyring.gpg opts="" suites="$*" suite
  mirror=$(debian_mirror | head -n 1)
  [ -n "$mirror" ] || { echo "$NAME: found no Debian mirror in /etc/apt/sources.list{,.d}" >&2; return 1; }
  [ -f "$keyring" ] && opts="[signed-by=$keyring] "
  for suite in $suites; do
    echo "deb-src ${opts}${mirror} $suite main"
  done >"$WORK/sources.list"
  mkdir -p "$WORK/lists/partial" "$WORK/cache"
  # apt downloads as its unprivileged _apt user where that user can write
  chmod 755 "$WORK"
  if id _apt >/dev/null 2>&1; then chown _apt "$WORK/lists/partial"; fi
  APT_OPTS=(-o "Dir::Etc::SourceList=$WORK/sources.list" -o Dir::Etc::SourceParts=/dev/null
            -o "Dir::State::Lists=$WORK/lists" -o "Dir::Cache=$WORK/cache")
  timed "apt-get update (private: $suites sources from $mirror)" \
    logged "$WORK/apt-update.log" apt-get "${APT_OPTS[@]}" update
}


# source_version PACKAGE SUITE PREFIX: the newest Debian version of source PACKAGE in SUITE that starts
# with PREFIX (e.g. ruby3.4 experimental "3.4.5-" -> 3.4.5-1~exp1), as the private apt configuration
# knows it. By suite: another suite may list a newer one whose files the mirror does not serve.
source_version() {
  apt-cache "${APT_OPTS[@]}" madison "$1" 2>/dev/null |
    awk -F'|' -v suite="$2" -v prefix="$3" '
      { version = $2; gsub(/ /, "", version); split($3, where, " ") }
      where[2] == suite "/main" && where[3] == "Sources" && index(version, prefix) == 1 { print version }' |
    sort -V | tail -n 1
}

# download_orig PACKAGE DEBVERSION DIR: downloads the source package into DIR (download only: Debian's
# patches and packaging are not used; apt checks every file against the signed Sources index) and
# prints the path of its upstream tarball (.orig.tar.*).
download_orig() {
  local pkg=$1 debver=$2 dl=$3 orig
  mkdir -p "$dl"
  if id _apt >/dev/null 2>&1; then chown _apt "$dl"; fi
  timed "download $pkg=$debver" logged "$WORK/download-$pkg.log" \
    in_dir "$dl" apt-get "${APT_OPTS[@]}" source --download-only --only-source "$pkg=$debver" >&2 || return 1
  orig=$(find "$dl" -maxdepth 1 -name "${pkg}_*.orig.tar.*" ! -name '*.asc' -print -quit)
  [ -n "$orig" ] || { echo "$NAME: $pkg $debver has no .orig.tar.*" >&2; return 1; }
  echo "$orig"
}
