#!/usr/bin/env bash
# Start a real, kubelet-less Kubernetes control plane for tests and write DIR/kubeconfig:
# etcd (Debian etcd-server 3.4) + kube-apiserver v1.20.2 (HTTPS on 127.0.0.1:PORT, token auth,
# RBAC; the kubeconfig user is in system:masters) + kube-controller-manager (deployment,
# replicaset, statefulset, namespace, garbage-collector and service-account controllers), from the
# binaries tests/env/setup.sh kube caches. No scheduler, no kubelet: pods stay Pending unless
# fake_kubelet.py runs (--fake-kubelet), or use replicas: 0.
#
# Usage: tests/env/start-kube.sh [--parent PID] [--fake-kubelet] DIR PORT
#   DIR     state directory (created; etcd data, certs, logs, *.pid, kubeconfig)
#   PORT    apiserver port; etcd gets two free loopback ports
#   --parent PID     run every daemon under with-parent.sh PID (they die when PID exits)
#   --fake-kubelet   also start fake_kubelet.py against the new cluster
# Ready in ~5-8 s. On success the last line of stdout is: KUBECONFIG=DIR/kubeconfig
# Stop with tests/env/stop-kube.sh DIR.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE="${MLRB_TEST_CACHE:-$HOME/.cache/mlrb-test}"
BIN="$CACHE/k8s/bin"

usage() { echo "usage: $0 [--parent PID] [--fake-kubelet] DIR PORT" >&2; exit 2; }
parent="" fake_kubelet=0
while [ $# -gt 0 ]; do
  case "$1" in
    --parent) [ $# -ge 2 ] || usage; parent=$2; shift 2 ;;
    --fake-kubelet) fake_kubelet=1; shift ;;
    -h | --help) usage ;;
    -*) usage ;;
    *) break ;;
  esac
done
[ $# -eq 2 ] || usage
[[ $2 =~ ^[0-9]+$ ]] || usage
[ -z "$parent" ] || [[ $parent =~ ^[0-9]+$ ]] || usage
PORT=$2
for b in "$BIN/kube-apiserver" "$BIN/kube-controller-manager"; do
  [ -x "$b" ] || { echo "start-kube.sh: $b missing; run tests/env/setup.sh kube" >&2; exit 1; }
done
command -v etcd >/dev/null || { echo "start-kube.sh: etcd missing; run tests/env/setup.sh kube" >&2; exit 1; }

mkdir -p "$1"
DIR=$(cd "$1" && pwd)
if [ -f "$DIR/etcd.pid" ] && kill -0 "$(cat "$DIR/etcd.pid")" 2>/dev/null; then
  echo "start-kube.sh: a cluster is already running in $DIR; stop-kube.sh it first" >&2
  exit 1
fi
rm -rf "$DIR/etcd" "$DIR/certs"
rm -f "$DIR"/*.pid "$DIR"/*.log "$DIR/kubeconfig" "$DIR/tokens.csv"
mkdir -p "$DIR/etcd" "$DIR/certs"
chmod 700 "$DIR/etcd"

ok=0
cleanup() { [ "$ok" -eq 1 ] || "$HERE/stop-kube.sh" "$DIR" >/dev/null 2>&1 || true; }
trap cleanup EXIT

t0=$(date +%s.%N)
since() { awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }
fail() {
  echo "start-kube.sh: $1" >&2
  [ -z "${2:-}" ] || tail -n 30 "$DIR/$2.log" >&2
  exit 1
}

# launch NAME CMD...: start CMD in its own process group, logging to DIR/NAME.log; DIR/NAME.pid
# gets its pid (== pgid). With --parent, CMD runs under with-parent.sh (pid in NAME.wrapper.pid).
launch() {
  local name=$1 i; shift
  if [ -n "$parent" ]; then
    WITH_PARENT_PIDFILE="$DIR/$name.pid" setsid "$HERE/with-parent.sh" "$parent" "$@" \
      </dev/null >"$DIR/$name.log" 2>&1 &
    echo $! >"$DIR/$name.wrapper.pid"
    for ((i = 0; i < 50; i++)); do [ -s "$DIR/$name.pid" ] && return 0; sleep 0.02; done
    fail "$name: with-parent.sh did not start it" "$name"
  else
    setsid "$@" </dev/null >"$DIR/$name.log" 2>&1 &
    echo $! >"$DIR/$name.pid"
  fi
}

# wait_until NAME SECONDS CMD...: poll CMD every 0.1 s; fail early if NAME's process died.
wait_until() {
  local name=$1 secs=$2 i; shift 2
  for ((i = 0; i < secs * 10; i++)); do
    "$@" >/dev/null 2>&1 && return 0
    kill -0 "$(cat "$DIR/$name.pid")" 2>/dev/null || fail "$name exited" "$name"
    sleep 0.1
  done
  fail "$name not ready after $secs s" "$name"
}

# Two free loopback ports for etcd (client, peer).
free_ports() {
  python3 -c '
import socket
ss = [socket.socket() for _ in range(2)]
for s in ss: s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in ss))'
}

# etcd: retry with fresh ports if another process grabbed one in between.
for attempt in 1 2 3; do
  read -r EPORT PPORT < <(free_ports)
  launch etcd etcd --name mlrb-test --data-dir "$DIR/etcd" \
    --listen-client-urls "http://127.0.0.1:$EPORT" --advertise-client-urls "http://127.0.0.1:$EPORT" \
    --listen-peer-urls "http://127.0.0.1:$PPORT" --initial-advertise-peer-urls "http://127.0.0.1:$PPORT" \
    --initial-cluster "mlrb-test=http://127.0.0.1:$PPORT" --unsafe-no-fsync
  if (wait_until etcd 15 curl -sf "http://127.0.0.1:$EPORT/health"); then break; fi
  [ "$attempt" -lt 3 ] || fail "etcd did not start" etcd
  "$HERE/stop-kube.sh" "$DIR" >/dev/null 2>&1 || true
  rm -rf "$DIR/etcd" && mkdir -m 700 "$DIR/etcd"
done
echo "$EPORT" >"$DIR/etcd.port"
t_etcd=$(since)

openssl genrsa -out "$DIR/certs/sa.key" 2048 2>/dev/null
openssl rsa -in "$DIR/certs/sa.key" -pubout -out "$DIR/certs/sa.pub" 2>/dev/null
TOKEN=$(openssl rand -hex 16)
echo "$TOKEN,admin,admin,system:masters" >"$DIR/tokens.csv"
chmod 600 "$DIR/tokens.csv"

launch apiserver "$BIN/kube-apiserver" --etcd-servers="http://127.0.0.1:$EPORT" \
  --bind-address=127.0.0.1 --secure-port="$PORT" --insecure-port=0 --cert-dir="$DIR/certs" \
  --token-auth-file="$DIR/tokens.csv" --authorization-mode=RBAC \
  --service-account-issuer=https://kubernetes.default.svc \
  --service-account-key-file="$DIR/certs/sa.pub" \
  --service-account-signing-key-file="$DIR/certs/sa.key" \
  --service-cluster-ip-range=10.0.0.0/24 --disable-admission-plugins=ServiceAccount
wait_until apiserver 60 curl -skf -H "Authorization: Bearer $TOKEN" "https://127.0.0.1:$PORT/readyz"
t_api=$(since)

(umask 077 && cat >"$DIR/kubeconfig") <<EOF
apiVersion: v1
kind: Config
clusters:
- name: mlrb-test
  cluster:
    server: https://127.0.0.1:$PORT
    insecure-skip-tls-verify: true
users:
- name: admin
  user:
    token: $TOKEN
contexts:
- name: mlrb-test
  context:
    cluster: mlrb-test
    user: admin
    namespace: default
current-context: mlrb-test
EOF

launch kcm "$BIN/kube-controller-manager" --kubeconfig="$DIR/kubeconfig" --leader-elect=false \
  --controllers=deployment,replicaset,statefulset,namespace,garbagecollector,serviceaccount-token,serviceaccount \
  --service-account-private-key-file="$DIR/certs/sa.key" --port=0 --secure-port=0
# The service-account controller creating "default/default" shows the controllers are running.
wait_until kcm 30 curl -skf -H "Authorization: Bearer $TOKEN" \
  "https://127.0.0.1:$PORT/api/v1/namespaces/default/serviceaccounts/default"
t_kcm=$(since)

if [ "$fake_kubelet" -eq 1 ]; then
  launch fake_kubelet python3 "$HERE/fake_kubelet.py" --kubeconfig "$DIR/kubeconfig"
  sleep 0.3
  kill -0 "$(cat "$DIR/fake_kubelet.pid")" 2>/dev/null || fail "fake_kubelet exited" fake_kubelet
fi

ok=1
echo "kube: etcd ${t_etcd} s, apiserver ${t_api} s, controller-manager ${t_kcm} s (port $PORT, dir $DIR)"
echo "KUBECONFIG=$DIR/kubeconfig"
