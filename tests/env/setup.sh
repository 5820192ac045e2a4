#!/usr/bin/env bash
# Install (once) the real components mlrb's integration tests run against, and cache them in
# ${MLRB_TEST_CACHE:-$HOME/.cache/mlrb-test}. Idempotent: a part that is already installed prints
# one "<part> <version>: cached" line and is skipped; a part that installs prints its timing.
#
#   mlflow      venv $CACHE/mlflow with mlflow[auth]==3.17.2, ~850 MB           (1.5-4.5 min)
#   dvc         venv $CACHE/dvc with dvc==3.67.1, symlink $CACHE/bin/dvc         (0.5-2.5 min)
#   prometheus  Debian package `prometheus` (2.42, with promtool), only if either is missing    (~15 s)
#   kube        etcd-server from apt if `etcd` is missing; kube-apiserver and
#               kube-controller-manager v1.20.2 built from Debian's source package
#               into $CACHE/k8s/bin, ~210 MB (10-20 min on 2 cores, needs ~2.5 GB meanwhile)
#   podman      Debian package `podman` (4.3), only if `podman` is missing; builds the image
#               in deploy/image (FROM scratch: no container runtime needed)        (~30 s)
#   cargo-deny  `cargo install --locked cargo-deny` into $CACHE/cargo-deny, symlink
#               $CACHE/bin/cargo-deny; CI's dependency policy (deny.toml)        (4-8 min)
# All cached: ~0.3 s. See tests/env/README.md.
#
# Usage: tests/env/setup.sh [all|mlflow|dvc|prometheus|kube|podman|cargo-deny]...   (default: all)
# Needs root for the apt parts (Debian 12). Concurrent runs serialize on $CACHE/.setup.lock.
set -euo pipefail

CACHE="${MLRB_TEST_CACHE:-$HOME/.cache/mlrb-test}"
MLFLOW_VERSION=3.17.2
DVC_VERSION=3.67.1
CARGO_DENY_VERSION=0.20.2
KUBE_VERSION=v1.20.2
# Debian bookworm's `kubernetes` source package: upstream 1.20.2 (with vendor/) despite its name.
KUBE_ORIG=kubernetes_1.20.5+really1.20.2.orig.tar.gz
KUBE_SRCDIR=kubernetes-1.20.2
# Build recipe id, stamped next to the binaries; a different stamp (or none) means rebuild.
KUBE_BUILD="$KUBE_VERSION go1.19 reflect2-1.0.2"
export DEBIAN_FRONTEND=noninteractive

usage() { echo "usage: $0 [all|mlflow|dvc|prometheus|kube|podman|cargo-deny]..." >&2; exit 2; }

parts=()
for arg in "${@:-all}"; do
  case "$arg" in
    all) parts+=(mlflow dvc prometheus kube podman cargo-deny) ;;
    mlflow | dvc | prometheus | kube | podman | cargo-deny) parts+=("$arg") ;;
    -h | --help) usage ;;
    *) echo "unknown part: $arg" >&2; usage ;;
  esac
done

mkdir -p "$CACHE/bin"
exec 9>"$CACHE/.setup.lock"
if ! flock -n 9; then
  echo "another setup.sh holds $CACHE/.setup.lock; waiting..." >&2
  flock 9
fi

now() { date +%s.%N; }
# elapsed START -> "12.3"
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
die() { echo "setup.sh: $*" >&2; exit 1; }

APT_UPDATED=0
apt_install() {
  [ "$(id -u)" -eq 0 ] || die "installing $* needs root (apt-get)"
  local log="$CACHE/apt.log"
  if [ "$APT_UPDATED" -eq 0 ]; then
    apt-get update -q >"$log" 2>&1 || { tail -n 20 "$log" >&2; die "apt-get update failed"; }
    APT_UPDATED=1
  fi
  apt-get install -y -q --no-install-recommends "$@" >"$log" 2>&1 ||
    { tail -n 20 "$log" >&2; die "apt-get install $* failed"; }
}

# True when another process (e.g. an earlier, unlocked install) is running pip from venv $1.
pip_running_in() { pgrep -f "^$1/bin/python[0-9.]* .*pip install" >/dev/null 2>&1; }

# venv_ok VENV CHECK_CMD PACKAGE VERSION: does VENV/bin/CHECK_CMD --version report VERSION?
# `mlflow --version` alone takes ~6 s, so a stamp remembers a successful check; it is trusted
# only while the installed package metadata still says VERSION (~0.1 s).
venv_ok() {
  local venv=$1 check=$2 pkg=$3 version=$4 stamp="$1/.mlrb-test-ok"
  [ -x "$venv/bin/$check" ] || return 1
  if [ "$(cat "$stamp" 2>/dev/null)" = "$version" ] &&
    [ "$("$venv/bin/python" -c 'import importlib.metadata as m, sys; print(m.version(sys.argv[1]))' \
      "$pkg" 2>/dev/null)" = "$version" ]; then
    return 0
  fi
  "$venv/bin/$check" --version 2>/dev/null | grep -qF "$version" || return 1
  echo "$version" >"$stamp"
}

# venv_install NAME VERSION CHECK_CMD PIP_SPEC...: (re)create $CACHE/NAME unless CHECK_CMD
# already reports VERSION. NAME is also the Python package name.
venv_install() {
  local name=$1 version=$2 check=$3; shift 3
  local venv="$CACHE/$name" t waited=0
  if venv_ok "$venv" "$check" "$name" "$version"; then
    echo "$name $version: cached"; return 0
  fi
  # Never clobber a venv that something else is still installing into; wait for it instead.
  while pip_running_in "$venv"; do
    [ "$waited" -eq 0 ] && echo "$name: another pip install is running in $venv; waiting..." >&2
    waited=$((waited + 1))
    [ "$waited" -le 1800 ] || die "$name: gave up waiting for the other install in $venv"
    sleep 1
  done
  if [ "$waited" -gt 0 ] && venv_ok "$venv" "$check" "$name" "$version"; then
    echo "$name $version: cached (after waiting ${waited}s for another install)"; return 0
  fi
  t=$(now)
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "$@"
  venv_ok "$venv" "$check" "$name" "$version" ||
    die "$name: installed, but '$venv/bin/$check --version' does not report $version"
  echo "$name $version: installed in $(elapsed "$t") s"
}

setup_mlflow() {
  venv_install mlflow "$MLFLOW_VERSION" mlflow "mlflow[auth]==$MLFLOW_VERSION"
}

setup_dvc() {
  # Separate venv: dvc and mlflow fight over shared dependencies.
  DVC_NO_ANALYTICS=1 venv_install dvc "$DVC_VERSION" dvc "dvc==$DVC_VERSION"
  ln -sfn "$CACHE/dvc/bin/dvc" "$CACHE/bin/dvc"
}

setup_prometheus() {
  local t ver
  # GNU time measures the peak memory of one mlrb run (tests/it/limits.rs).
  [ -x /usr/bin/time ] || apt_install time
  # promtool (`mlrb export` tests check rules files with it) comes in the same package.
  if ! command -v prometheus >/dev/null || ! command -v promtool >/dev/null; then
    t=$(now)
    apt_install prometheus
    # On a systemd host the package starts a system prometheus on :9090; tests run their own.
    if [ -d /run/systemd/system ]; then systemctl disable --now prometheus >/dev/null 2>&1 || true; fi
    ver=$(prometheus --version 2>&1 | awk 'NR == 1 { print $3 }')
    echo "prometheus $ver: installed in $(elapsed "$t") s"
  else
    ver=$(prometheus --version 2>&1 | awk 'NR == 1 { print $3 }')
    echo "prometheus $ver: cached"
  fi
}

setup_podman() {
  local t
  if ! command -v podman >/dev/null; then
    t=$(now)
    apt_install podman
    echo "podman $(podman --version | awk '{ print $3 }'): installed in $(elapsed "$t") s"
  else
    echo "podman $(podman --version | awk '{ print $3 }'): cached"
  fi
}

setup_cargo-deny() {
  local root="$CACHE/cargo-deny" t
  if [ -x "$root/bin/cargo-deny" ] &&
    "$root/bin/cargo-deny" --version 2>/dev/null | grep -qF " $CARGO_DENY_VERSION"; then
    echo "cargo-deny $CARGO_DENY_VERSION: cached"
  else
    command -v cargo >/dev/null || die "cargo-deny: cargo is missing (install Rust: https://rustup.rs)"
    t=$(now)
    # cargo builds in a temporary target dir and removes it; only the binary stays.
    cargo install --quiet --locked --force --root "$root" --version "$CARGO_DENY_VERSION" cargo-deny ||
      die "cargo-deny: cargo install failed"
    echo "cargo-deny $CARGO_DENY_VERSION: installed in $(elapsed "$t") s"
  fi
  ln -sfn "$root/bin/cargo-deny" "$CACHE/bin/cargo-deny"
}

enable_deb_src() {
  if grep -rqsE '^(Types:.*deb-src|deb-src )' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    return 0
  fi
  cat >/etc/apt/sources.list.d/mlrb-test-deb-src.sources <<'EOF'
# Added by mlrb tests/env/setup.sh kube: source packages, to build kube-apiserver.
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  APT_UPDATED=0
}

setup_kube() {
  local bin="$CACHE/k8s/bin" src="$CACHE/k8s/src" t tb
  if ! command -v etcd >/dev/null; then
    t=$(now)
    apt_install etcd-server
    if [ -d /run/systemd/system ]; then systemctl disable --now etcd >/dev/null 2>&1 || true; fi
    echo "etcd $(etcd --version 2>/dev/null | awk '/etcd Version/ { print $3 }'): installed in $(elapsed "$t") s"
  fi
  if [ -x "$bin/kube-apiserver" ] && [ -x "$bin/kube-controller-manager" ] &&
    [ "$(cat "$bin/.build" 2>/dev/null)" = "$KUBE_BUILD" ]; then
    echo "kube $KUBE_VERSION: cached"; return 0
  fi
  t=$(now)
  [ "$(id -u)" -eq 0 ] || die "kube: needs root (apt-get)"
  enable_deb_src
  apt_install golang-1.19-go golang-github-modern-go-reflect2-dev make rsync ca-certificates
  rm -rf "$src"
  mkdir -p "$src" "$bin"
  (
    cd "$src"
    # Full upstream tree including vendor/: after this download the build needs no network.
    apt-get source --download-only -q kubernetes >"$src/source.log" 2>&1 || true
    [ -f "$KUBE_ORIG" ] || { tail -20 "$src/source.log" >&2; die "kube: apt-get source did not fetch $KUBE_ORIG"; }
    tar xzf "$KUBE_ORIG"
    cd "$KUBE_SRCDIR"
    # Kubernetes 1.20 vendors reflect2 v1.0.1, whose map iteration corrupts memory when built
    # with Go >= 1.18 (the apiserver then panics on binding/patch requests: nil pointer in
    # reflect2.Type2). Swap in reflect2 v1.0.2 (the upstream fix) from Debian's package.
    local r2=/usr/share/gocode/src/github.com/modern-go/reflect2
    rm -f vendor/github.com/modern-go/reflect2/*.go vendor/github.com/modern-go/reflect2/*.s
    cp "$r2"/*.go "$r2"/*.s vendor/github.com/modern-go/reflect2/
    # Build the way debian/rules does: GOPATH symlink + `make WHAT=...`, Debian's Go 1.19, offline.
    # GOCACHE inside the tree so the ~1 GB build cache goes away with it.
    export PATH=/usr/lib/go-1.19/bin:$PATH GOPATH=$PWD/.go GOCACHE=$PWD/.gocache \
      CGO_ENABLED=0 GOPROXY=off
    mkdir -p .go/src/k8s.io
    ln -sfn ../../.. .go/src/k8s.io/kubernetes
    tb=$(now)
    # KUBE_GIT_VERSION stamps the version without a git checkout.
    KUBE_GIT_VERSION=$KUBE_VERSION KUBE_GIT_TREE_STATE=clean \
      make WHAT="cmd/kube-apiserver cmd/kube-controller-manager" GOLDFLAGS="-s -w" \
      >"$src/build.log" 2>&1 || { tail -40 "$src/build.log" >&2; die "kube: build failed"; }
    echo "kube: compiled in $(elapsed "$tb") s" >&2
    cp -f _output/bin/kube-apiserver _output/bin/kube-controller-manager "$bin/"
  )
  rm -rf "$src" # ~2 GB of build tree; keep only the two binaries (~210 MB)
  "$bin/kube-apiserver" --version | grep -qF "$KUBE_VERSION" || die "kube: built binary is not $KUBE_VERSION"
  echo "$KUBE_BUILD" >"$bin/.build"
  echo "kube $KUBE_VERSION: installed in $(elapsed "$t") s"
}

t_all=$(now)
done_parts=" "
for p in "${parts[@]}"; do
  case "$done_parts" in *" $p "*) continue ;; esac
  done_parts+="$p "
  "setup_$p"
done
echo "setup.sh: done in $(elapsed "$t_all") s (cache: $CACHE; add $CACHE/bin to PATH for dvc and cargo-deny)"
