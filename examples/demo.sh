#!/usr/bin/env bash
# `make demo`: plumbline's core loop on a local control plane, end to end.
# Git repo -> plumb diff -> plumb sync -> a new commit -> plumb diff -> plumb sync -> status, history;
# then seed 04: a live fix captured into Git, and a release that goes green and then fails its
# verification window, rolled back whole (config and image) by the controller; then plumbline
# installed into the cluster and an App applied with kubectl.
# Everything it makes lives in .demo/ (deleted at the start of each run) and in the local control
# plane (`plumb local down` removes it).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PLUMB="$ROOT/.venv/bin/plumb"
DEMO="$ROOT/.demo"

bold=$'\e[1m'; dim=$'\e[2m'; cyan=$'\e[36m'; reset=$'\e[0m'
[ -t 1 ] || { bold=""; dim=""; cyan=""; reset=""; }
step() { printf '\n%s==> %s%s\n' "$bold$cyan" "$*" "$reset"; }
run() { printf '%s$ %s%s\n' "$dim" "$*" "$reset"; "$@"; }
# diff/status exit 1 when there are changes (like diff(1)); that is news here, not failure.
run_changes() { printf '%s$ %s%s\n' "$dim" "$*" "$reset"; "$@" || [ $? -eq 1 ]; }

step "1. A local Kubernetes control plane (etcd, kube-apiserver, kube-controller-manager)"
run "$PLUMB" local up
KUBECONFIG="$("$ROOT/.venv/bin/python" -c 'from plumbline.local import local_dir; print(local_dir() / "kubeconfig")')"
KUBECTL="$("$ROOT/.venv/bin/python" -c 'from plumbline import toolchain; print(toolchain.binary("kubectl"))')"
export KUBECONFIG
# A previous demo's objects would make this one show "unchanged": start from an empty namespace.
"$KUBECTL" delete namespace guestbook --ignore-not-found --wait=true >/dev/null

step "2. A Git repository holding the guestbook app (plain YAML)"
# A previous demo's users (examples/traffic.py, step 13) stop with it.
if [ -f "$DEMO/traffic.pid" ]; then kill "$(cat "$DEMO/traffic.pid")" 2>/dev/null || true; fi
rm -rf "$DEMO" && mkdir -p "$DEMO/repo/apps"
cp examples/plumbline.yaml "$DEMO/plumbline.yaml"
cp -r examples/guestbook "$DEMO/repo/apps/guestbook"
export PLUMBLINE_CONFIG="$DEMO/plumbline.yaml" PLUMBLINE_STORE="$DEMO/plumbline.db" PLUMBLINE_ACTOR="demo@$(hostname)"
g() { git -C "$DEMO/repo" -c user.name="Demo" -c user.email="demo@example.com" "$@"; }
g init -q -b main && g add . && g commit -qm "guestbook: first version"
run git -C "$DEMO/repo" log --oneline --stat

step "3. The app, as plumbline sees it"
run "$PLUMB" apps

step "4. What would a sync do? (server-side dry run; nothing is written)"
run_changes "$PLUMB" diff guestbook

step "5. Sync: dry-run everything, then apply in waves (Namespace, ConfigMap, Service, Deployment)"
run "$PLUMB" sync guestbook
run_changes "$PLUMB" status

step "6. A new commit: bump the image and add a setting"
sed -i 's/image: nginx:1.27/image: nginx:1.28/' "$DEMO/repo/apps/guestbook/deployment.yaml"
printf '  CACHE_TTL_SECONDS: "30"\n' >> "$DEMO/repo/apps/guestbook/configmap.yaml"
g commit -qam "guestbook: nginx 1.28, cache TTL"
run git -C "$DEMO/repo" log --oneline -1

step "7. The diff shows exactly the two changes"
run_changes "$PLUMB" diff guestbook

step "8. Sync again, then status and history"
run "$PLUMB" sync guestbook
run_changes "$PLUMB" status
run "$PLUMB" history guestbook

step "9. Seed 04: during an incident someone adds a Service and points DB_HOST at it, live, never in Git"
run "$KUBECTL" -n guestbook create service clusterip pgbouncer-primary --tcp=80:6432
run "$KUBECTL" -n guestbook patch configmap guestbook-env --type merge \
  -p '{"data":{"DB_HOST":"pgbouncer-primary.guestbook.svc.cluster.local"}}'

step "10. A routine commit touches only the image. What would the sync do?"
sed -i 's/image: nginx:1.28/image: nginx:1.29/' "$DEMO/repo/apps/guestbook/deployment.yaml"
g commit -qam "guestbook: nginx 1.29"
run_changes "$PLUMB" diff guestbook
printf '%s(the image is the commit; DB_HOST would silently undo the live fix: a drift-revert)%s\n' "$dim" "$reset"

step "11. plumbline refuses to revert the live edit silently"
run_changes "$PLUMB" sync guestbook

step "12. Capture the live fix into Git instead, on a new branch"
run "$PLUMB" capture guestbook --write --branch capture/db-host
run git -C "$DEMO/repo" log --oneline -1 capture/db-host
run "$PLUMB" sync guestbook --revision capture/db-host
printf '%s(DB_HOST kept; the image commit applied. What can still not be rebuilt from Git?)%s\n' "$dim" "$reset"
run_changes "$PLUMB" drift guestbook

step "13. Git catches up (the capture merged), and the guestbook gets a verification window"
g merge -q --ff-only capture/db-host
# The demo's users: a real Prometheus scraping their request counters (examples/traffic.py). A Ready
# Pod of nginx:1.30 whose DB_SSLMODE the database does not accept fails half its requests.
rm -f "$DEMO/prometheus.url"
"$ROOT/.venv/bin/python" examples/traffic.py --url-file "$DEMO/prometheus.url" --bad-image nginx:1.30 \
  --key DB_SSLMODE --good-value disable 2>"$DEMO/traffic.log" &
TRAFFIC=$!
echo "$TRAFFIC" >"$DEMO/traffic.pid"
trap 'kill "$TRAFFIC" 2>/dev/null || true' EXIT # if the demo fails; it stays up once it succeeds
for _ in $(seq 240); do [ -s "$DEMO/prometheus.url" ] && break; sleep 0.5; done
[ -s "$DEMO/prometheus.url" ] || { cat "$DEMO/traffic.log"; echo "Prometheus did not start"; exit 1; }
# spec.verification, appended to the App (the last document): after each sync the app must be
# Healthy, then stay so for 10 s while the 5xx ratio stays under 5 %; otherwise roll back.
cat >>"$DEMO/plumbline.yaml" <<EOF
  verification:
    window: 10s
    interval: 1s
    onFailure: rollback
    prometheus: {url: "$(cat "$DEMO/prometheus.url")"}
    checks:
      - name: error-ratio
        query: 'sum(guestbook_requests_total{code="500"}) / sum(guestbook_requests_total)'
        failWhen: {op: ">", threshold: 0.05}
EOF
run tail -n 10 "$DEMO/plumbline.yaml"
printf '  DB_SSLMODE: disable\n' >>"$DEMO/repo/apps/guestbook/configmap.yaml"
g commit -qam "guestbook: say DB_SSLMODE"
printf '%s(the controller syncs it, waits until it is Healthy, then verifies it for 10 s)%s\n' "$dim" "$reset"
run "$PLUMB" controller --once

step "14. Seed 04: a release brings nginx 1.30 and, from an old template, a DB_SSLMODE the database refuses"
sed -i 's/image: nginx:1.29/image: nginx:1.30/' "$DEMO/repo/apps/guestbook/deployment.yaml"
sed -i 's/DB_SSLMODE: .*/DB_SSLMODE: verify-full/' "$DEMO/repo/apps/guestbook/configmap.yaml"
g commit -qam "guestbook: nginx 1.30"
run git -C "$DEMO/repo" show --stat --oneline HEAD
printf '%s(green at rollout: the Pods become Ready; then the 5xx come, and the window fails)%s\n' "$dim" "$reset"
run_changes "$PLUMB" controller --once
printf '%s(config and image rolled back together to the last verified revision; the app is held there)%s\n' \
  "$dim" "$reset"
run_changes "$PLUMB" status guestbook
run "$PLUMB" history guestbook --limit 3
run "$PLUMB" audit guestbook --limit 7

step "15. The next poll: Git still names the failed commit, and it is not applied again"
run "$PLUMB" controller --once

step "16. The fix: nginx 1.30 with DB_SSLMODE as the database wants it. A new commit ends the hold"
sed -i 's/DB_SSLMODE: .*/DB_SSLMODE: disable/' "$DEMO/repo/apps/guestbook/configmap.yaml"
g commit -qam "guestbook: nginx 1.30, DB_SSLMODE disable again"
run "$PLUMB" controller --once
run_changes "$PLUMB" status guestbook

step "17. plumbline in the cluster: its CRDs, RBAC and Instance installed; an App applied with kubectl"
# The controller runs here, not as the installed Deployment (its image cannot be built on this
# machine), but as the cluster would run it: configuration and state read from the cluster only.
run "$PLUMB" install --apply --namespaces guestbook-in-cluster
cat >"$DEMO/app-in-cluster.yaml" <<EOF
apiVersion: plumbline.dev/v1alpha1
kind: App
metadata: {name: guestbook-in-cluster, namespace: plumbline-system}
spec:
  source: {repoURL: $DEMO/repo, targetRevision: main, path: apps/guestbook}
  destination: {namespace: guestbook-in-cluster}
  syncOptions: {createNamespace: true}
  mode: sync
EOF
run "$KUBECTL" apply -f "$DEMO/app-in-cluster.yaml"
run "$PLUMB" --config cluster:plumbline-system controller --once
printf '%s(history and audit are Secrets in plumbline-system now, not a local file: the store line says so)%s\n' \
  "$dim" "$reset"
run "$KUBECTL" get apps -A
run_changes "$PLUMB" --config cluster:plumbline-system status guestbook-in-cluster

printf '\n%sDone.%s The control plane is still running: KUBECONFIG=%s\n' "$bold" "$reset" "$KUBECONFIG"
printf 'Try a live edit, then ask plumbline:  %s edit configmap guestbook-env -n guestbook; %s diff guestbook\n' \
  "$KUBECTL" "PLUMBLINE_CONFIG=$PLUMBLINE_CONFIG $PLUMB"
printf 'Stop it with: %s local down\n' "$PLUMB"
trap - EXIT
printf 'Prometheus and the demo'"'"'s users keep running for the controller (pid %s; stop them with kill %s)\n' \
  "$TRAFFIC" "$TRAFFIC"
# The dashboard (plumb ui, 127.0.0.1 only): the same facts in a browser. A previous demo's is reused.
if ! "$ROOT/.venv/bin/python" -c 'import socket; socket.create_connection(("127.0.0.1", 8470), 1)' 2>/dev/null; then
  nohup "$PLUMB" ui --no-browser --listen 127.0.0.1:8470 >"$DEMO/ui.log" 2>&1 &
  printf 'Dashboard started (pid %s; stop it with kill %s)\n' "$!" "$!"
fi
printf '%sDashboard:%s http://127.0.0.1:8470/\n' "$bold" "$reset"
