#!/usr/bin/env bash
# Issue 12's soak: against `sandbox serve --replication-delay-ms 2000 --throttle 200
# --fail-rate 0.1`, `apply` of the example manifests followed at once by
# `plan --detailed-exitcode` exits 0, and `test-login` at once after apply signs in; one run per
# seed. Usage: tests/soak/replication.sh [RUNS=20] [DELAY_MS=2000]
set -uo pipefail
source "$(dirname "$0")/lib.sh"
RUNS="${1:-20}"; DELAY="${2:-2000}"
failed=0
printf '%-5s %-6s %-6s %-6s %-8s %s\n' seed apply plan login seconds note
for seed in $(seq "$RUNS"); do
  dir="$(mktemp -d)"; copy_manifests "$dir"; cd "$dir"
  serve "$dir/tenant.json" --replication-delay-ms "$DELAY" --throttle 200 --fail-rate 0.1 --seed "$seed"
  start=$(now_ms)
  ef apply --auto-approve manifests >apply.out 2>apply.err; apply=$?
  ef plan --detailed-exitcode manifests >plan.out 2>plan.err; plan=$?
  ef test-login --app exo-v2-app --scope https://graph.microsoft.com/.default manifests \
    >login.out 2>login.err; login=$?
  secs=$(( ($(now_ms) - start) / 1000 ))
  note=""
  grep -q "waiting for Entra ID to show" apply.err && note="apply waited;"
  grep -q "waiting for the key to replicate" login.err && note="$note login waited;"
  if [ "$apply" != 0 ] || [ "$plan" != 0 ] || [ "$login" != 0 ]; then
    failed=$((failed + 1)); note="$note kept in $dir"
  fi
  printf '%-5s %-6s %-6s %-6s %-8s %s\n' "$seed" "$apply" "$plan" "$login" "$secs" "$note"
  stop; cd /; [ "$apply$plan$login" = 000 ] && rm -rf "$dir"
done
echo "$((RUNS - failed)) of $RUNS runs: apply, plan --detailed-exitcode and test-login all exited 0"
[ "$failed" = 0 ]
