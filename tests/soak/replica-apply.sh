#!/usr/bin/env bash
# Issue 17's measurement: one `apply --auto-approve` of N new apps (each with
# Exchange.ManageAsApp, the Exchange Administrator role and a certificate) against a served
# sandbox with injected latency and replication delay; prints the wall time. Not a test: it
# asserts only that the apply succeeded. Usage:
#   tests/soak/replica-apply.sh [APPS=1000] [LATENCY_MS=20] [REPLICATION_MS=2000]
set -uo pipefail
source "$(dirname "$0")/lib.sh"
APPS="${1:-1000}"; LATENCY="${2:-20}"; DELAY="${3:-2000}"
dir="$(mktemp -d)"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$dir/key.pem" -out "$dir/scale.cer" \
  -outform DER -subj /CN=scale -days 365 2>/dev/null
for i in $(seq 0 $((APPS - 1))); do
  printf -- '---\napiVersion: entraform/v1\nkind: Application\nmetadata:\n  name: replica-app-%05d\nspec:\n  displayName: Replica App %05d\n  apiPermissions:\n    - api: Office 365 Exchange Online\n      application: [Exchange.ManageAsApp]\n  directoryRoles: [Exchange Administrator]\n  certificates:\n    - name: shared\n      file: scale.cer\n' "$i" "$i"
done >"$dir/apps.yaml"
serve "$dir/tenant.json" --latency-ms "$LATENCY" --replication-delay-ms "$DELAY"
start=$(date +%s.%N)
ef -q apply --auto-approve "$dir/apps.yaml" >"$dir/apply.out" 2>"$dir/apply.err"
rc=$?
end=$(date +%s.%N)
stop
printf 'apps=%s latency=%sms replication=%sms exit=%s wall=%.1fs\n' \
  "$APPS" "$LATENCY" "$DELAY" "$rc" "$(echo "$end - $start" | bc)"
[ "$rc" -eq 0 ] || { cat "$dir/apply.err" >&2; exit 1; }
rm -rf "$dir"
