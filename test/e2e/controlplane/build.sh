#!/usr/bin/env bash
# Builds kube-apiserver, kube-scheduler, kube-controller-manager and kubectl from Debian's `kubernetes`
# source package and makes sure etcd is installed, for the end-to-end tests
# under test/e2e.
#
# Everything is kept outside the repository, in
#   ${PLACEMENT_WEBHOOK_CACHE:-$HOME/.cache/placement-webhook}
#     bin/            kube-apiserver, kube-scheduler, kube-controller-manager, kubectl and the .stamp file
#     build/          downloaded source package and the unpacked tree
#     build.log       output of the last `make`
#
# The script is idempotent: when the binaries exist and the stamp records the
# same source version and patch level it only checks etcd and exits.
#
# Needs root (or password-less sudo) for apt; reaches only the Debian mirrors
# configured in /etc/apt. Runs non-interactively.
set -euo pipefail

CACHE_DIR="${PLACEMENT_WEBHOOK_CACHE:-$HOME/.cache/placement-webhook}"
BIN_DIR="$CACHE_DIR/bin"
BUILD_ROOT="$CACHE_DIR/build"
BUILD_LOG="$CACHE_DIR/build.log"
STAMP="$BIN_DIR/.stamp"
BINARIES=(kube-apiserver kube-scheduler kube-controller-manager kubectl)
SRC_PACKAGE=kubernetes
DEB_SRC_LIST=/etc/apt/sources.list.d/placement-webhook-deb-src.sources
# Bump when the way the tree is patched or built changes.
PATCH_ID="vendor/github.com/modern-go/reflect2 replaced by golang-github-modern-go-reflect2-dev; CGO_ENABLED=0; v2"
BUILD_DEPS=(golang-go rsync jq golang-github-modern-go-reflect2-dev dpkg-dev xz-utils ca-certificates make)
REFLECT2_SRC=/usr/share/gocode/src/github.com/modern-go/reflect2

export DEBIAN_FRONTEND=noninteractive
export LC_ALL=C

log() { printf 'controlplane: %s\n' "$*"; }
die() { printf 'controlplane: error: %s\n' "$*" >&2; exit 1; }

if [ "$(id -u)" -eq 0 ]; then
  SUDO=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  SUDO=(sudo -n)
else
  SUDO=(__no_root__)
fi

as_root() {
  if [ "${SUDO[0]:-}" = "__no_root__" ]; then
    die "need root or password-less sudo to run: $*"
  fi
  "${SUDO[@]}" "$@"
}

APT_UPDATED=0
apt_update() {
  if [ "$APT_UPDATED" -eq 0 ] || [ "${1:-}" = "force" ]; then
    log "apt-get update"
    as_root apt-get update -q </dev/null >/dev/null
    APT_UPDATED=1
  fi
}

is_installed() {
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

ensure_packages() {
  local missing=() p
  for p in "$@"; do
    is_installed "$p" || missing+=("$p")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    apt_update
    log "apt-get install ${missing[*]}"
    as_root apt-get install -y -q --no-install-recommends \
      -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
      "${missing[@]}" </dev/null >/dev/null
  fi
}

ensure_etcd() {
  ensure_packages etcd-server
  local etcd
  etcd="$(command -v etcd || true)"
  [ -n "$etcd" ] || die "etcd-server is installed but etcd is not on PATH"
  # The package starts a system etcd on 127.0.0.1:2379; the tests run their
  # own instances on free ports, so that one is harmless, but it is not needed.
  log "etcd: $etcd ($("$etcd" --version 2>/dev/null | head -n1))"
}

# Highest version of the source package known to apt, empty when no deb-src
# entries are configured.
source_version() {
  { apt-cache showsrc --only-source "$SRC_PACKAGE" 2>/dev/null || true; } \
    | awk '/^Version:/ { print $2 }' \
    | sort -V | tail -n1
}

# 1:1.20.5+really1.20.2-1.1+deb12u1 -> 1.20.2 ; 1.20.2+dfsg-1 -> 1.20.2
upstream_version() {
  local v="$1"
  v="${v#*:}"
  v="${v%-*}"
  case "$v" in
    *+really*) v="${v##*+really}" ;;
  esac
  v="${v%%[+~]*}"
  printf '%s\n' "$v"
}

stamp_content() {
  printf 'source=%s %s\npatch=%s\n' "$SRC_PACKAGE" "$1" "$PATCH_ID"
}

binaries_present() {
  local b
  for b in "${BINARIES[@]}"; do
    [ -x "$BIN_DIR/$b" ] || return 1
  done
}

# Adds deb-src stanzas mirroring every enabled `deb` entry (deb822 *.sources
# files and one-line *.list files), unless apt already knows the source package.
ensure_deb_src() {
  if [ -n "$(source_version)" ]; then
    return 0
  fi
  log "adding deb-src entries ($DEB_SRC_LIST)"
  local tmp f
  tmp="$(mktemp)"
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    [ "$f" = "$DEB_SRC_LIST" ] && continue
    awk '
      function flush(   i) {
        if (n > 0 && has_deb && !has_src && enabled) {
          print "Types: deb-src"
          for (i = 1; i <= n; i++) print lines[i]
          print ""
        }
        n = 0; has_deb = 0; has_src = 0; enabled = 1
      }
      BEGIN { n = 0; enabled = 1 }
      /^[[:space:]]*$/ { flush(); next }
      /^#/ { next }
      /^Types:/ {
        for (i = 2; i <= NF; i++) {
          if ($i == "deb") has_deb = 1
          if ($i == "deb-src") has_src = 1
        }
        next
      }
      /^Enabled:/ { if (tolower($2) == "no") enabled = 0 }
      { lines[++n] = $0 }
      END { flush() }
    ' "$f" >>"$tmp"
  done
  local lists=()
  [ -f /etc/apt/sources.list ] && lists+=(/etc/apt/sources.list)
  for f in /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] && lists+=("$f")
  done
  if [ "${#lists[@]}" -gt 0 ]; then
    local one_line
    one_line="$(sed -n 's/^[[:space:]]*deb[[:space:]]/deb-src /p' "${lists[@]}")"
    if [ -n "$one_line" ]; then
      # One-line entries go to a .list file next to the deb822 one.
      printf '%s\n' "$one_line" | as_root tee "${DEB_SRC_LIST%.sources}.list" >/dev/null
    fi
  fi
  if [ -s "$tmp" ]; then
    as_root install -m 0644 "$tmp" "$DEB_SRC_LIST"
  fi
  rm -f "$tmp"
  apt_update force
  [ -n "$(source_version)" ] || die "apt does not know the source package '$SRC_PACKAGE' even with deb-src entries"
}

# ---------------------------------------------------------------------------

expected_version="$(source_version)"
if binaries_present && [ -f "$STAMP" ]; then
  if [ -z "$expected_version" ]; then
    # No deb-src entries here (yet): trust the stamp as long as the patch
    # level matches.
    expected_version="$(sed -n 's/^source=[^ ]* //p' "$STAMP")"
  fi
  if [ "$(cat "$STAMP")" = "$(stamp_content "$expected_version")" ]; then
    log "binaries up to date in $BIN_DIR ($SRC_PACKAGE $expected_version)"
    ensure_etcd
    exit 0
  fi
  log "stamp differs from $SRC_PACKAGE $expected_version, rebuilding"
fi

start_time=$SECONDS

ensure_packages "${BUILD_DEPS[@]}"
ensure_etcd
ensure_deb_src
src_version="$(source_version)"
upstream="$(upstream_version "$src_version")"
log "source package $SRC_PACKAGE $src_version (upstream $upstream)"

[ -d "$REFLECT2_SRC" ] || die "$REFLECT2_SRC is missing (golang-github-modern-go-reflect2-dev)"

mkdir -p "$BUILD_ROOT" "$BIN_DIR"
download_dir="$BUILD_ROOT/download"
src_dir="$BUILD_ROOT/$SRC_PACKAGE-$upstream"

dsc_version_of() { sed -n 's/^Version: //p' "$1" | head -n1; }

dsc=""
for f in "$download_dir"/"${SRC_PACKAGE}"_*.dsc; do
  [ -f "$f" ] || continue
  if [ "$(dsc_version_of "$f")" = "$src_version" ]; then dsc="$f"; fi
done
if [ -z "$dsc" ]; then
  log "downloading source package into $download_dir"
  rm -rf "$download_dir"
  mkdir -p "$download_dir"
  (cd "$download_dir" && apt-get source -q --download-only "$SRC_PACKAGE=$src_version" </dev/null >/dev/null 2>"$download_dir/apt-get-source.err") \
    || { cat "$download_dir/apt-get-source.err" >&2; die "apt-get source failed"; }
  for f in "$download_dir"/"${SRC_PACKAGE}"_*.dsc; do
    [ -f "$f" ] && [ "$(dsc_version_of "$f")" = "$src_version" ] && dsc="$f"
  done
  [ -n "$dsc" ] || die "no .dsc for $SRC_PACKAGE $src_version in $download_dir"
else
  log "using downloaded $(basename "$dsc")"
fi

log "unpacking into $src_dir"
rm -rf "$src_dir"
dpkg-source --no-check -x "$dsc" "$src_dir" >/dev/null
# dpkg-source copies the upstream tarball next to the tree; one copy is enough.
find "$BUILD_ROOT" -maxdepth 1 -type f -name "${SRC_PACKAGE}_*.orig.tar.*" -delete

log "patching vendor/github.com/modern-go/reflect2 with $(dpkg-query -W -f='${Package} ${Version}' golang-github-modern-go-reflect2-dev)"
vendored="$src_dir/vendor/github.com/modern-go/reflect2"
[ -d "$vendored" ] || die "unexpected source layout: $vendored does not exist"
# Keep the vendored LICENSE (same project, same license); replace the code.
find "$vendored" -mindepth 1 -maxdepth 1 ! -name LICENSE -exec rm -rf {} +
# Package sources only: no tests, no nested test packages.
find -L "$REFLECT2_SRC" -maxdepth 1 -type f \( -name '*.go' -o -name '*.s' \) \
  ! -name '*_test.go' -exec cp -L {} "$vendored/" \;
ls "$vendored"/*.go >/dev/null 2>&1 || die "no Go files copied from $REFLECT2_SRC"

log "building ${BINARIES[*]} (make log: $BUILD_LOG)"
build_status=0
(
  cd "$src_dir"
  export CGO_ENABLED=0
  export GOFLAGS="${GOFLAGS:-}"
  export GOTOOLCHAIN=local
  export KUBE_GIT_VERSION="v$upstream"
  export KUBE_GIT_TREE_STATE=clean
  export KUBE_GIT_MAJOR="${upstream%%.*}"
  minor="${upstream#*.}"
  export KUBE_GIT_MINOR="${minor%%.*}"
  targets=""
  for b in "${BINARIES[@]}"; do targets="$targets cmd/$b"; done
  make WHAT="${targets# }"
) >"$BUILD_LOG" 2>&1 </dev/null || build_status=$?
if [ "$build_status" -ne 0 ]; then
  printf 'controlplane: make failed (exit %s); last lines of %s:\n' "$build_status" "$BUILD_LOG" >&2
  tail -n 60 "$BUILD_LOG" >&2
  exit 1
fi

out_dir="$src_dir/_output/bin"
[ -d "$out_dir" ] || out_dir="$src_dir/_output/local/bin/linux/$(go env GOARCH)"
for b in "${BINARIES[@]}"; do
  [ -x "$out_dir/$b" ] || die "make succeeded but $out_dir/$b is missing"
  install -m 0755 "$out_dir/$b" "$BIN_DIR/$b.new"
  mv -f "$BIN_DIR/$b.new" "$BIN_DIR/$b"
done
stamp_content "$src_version" >"$STAMP"

log "built in $((SECONDS - start_time))s"
for b in "${BINARIES[@]}"; do
  case "$b" in
    kubectl) v="$("$BIN_DIR/$b" version --client --short 2>/dev/null || "$BIN_DIR/$b" version --client 2>/dev/null | head -n1)" ;;
    *) v="$("$BIN_DIR/$b" --version 2>/dev/null)" ;;
  esac
  log "$BIN_DIR/$b: $v"
done
# The unpacked tree (with the Go build cache under _output) is large; keep
# only the downloaded source package.
if [ "${PLACEMENT_WEBHOOK_KEEP_BUILD:-}" != "1" ]; then
  rm -rf "$src_dir"
fi
