# Shared by the soak scripts: a served sandbox in its own process and entraform pointed at it.
# Source it; it needs bash, jq and a built entraform (ENTRAFORM, default target/debug/entraform).

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
ENTRAFORM="${ENTRAFORM:-$ROOT/target/debug/entraform}"
export NO_COLOR=1
export EXO_PFX_PASSWORD=soak-password USAGE_REPORTS_PFX_PASSWORD=soak-password \
  SP_BACKUP_PFX_PASSWORD=soak-password

# serve STATE ARGS...: starts `sandbox serve` and sets SERVE_PID and SANDBOX (its JSON line).
serve() {
  local state="$1"; shift
  local line="$state.line"
  "$ENTRAFORM" sandbox serve --json --state "$state" "$@" >"$line" 2>/dev/null &
  SERVE_PID=$!
  for _ in $(seq 100); do
    [ -s "$line" ] && break
    sleep 0.1
  done
  SANDBOX="$(head -n1 "$line")"
}

stop() {
  kill "$SERVE_PID" 2>/dev/null || true
  wait "$SERVE_PID" 2>/dev/null || true
}

# ef ARGS...: entraform against the served sandbox, signed in as its bootstrap admin.
ef() {
  AZURE_CLIENT_ID="$(jq -r .client_id <<<"$SANDBOX")" \
  AZURE_CLIENT_SECRET="$(jq -r .client_secret <<<"$SANDBOX")" \
    "$ENTRAFORM" --graph-url "$(jq -r .graph_url <<<"$SANDBOX")" \
      --login-url "$(jq -r .authority_url <<<"$SANDBOX")" \
      --tenant "$(jq -r .tenant_id <<<"$SANDBOX")" "$@"
}

# copy_manifests DIR: the example manifests, as a user's repository holds them.
copy_manifests() {
  mkdir -p "$1/manifests"
  cp "$ROOT"/manifests/*.yaml "$1/manifests/"
}

now_ms() { date +%s%3N; }
