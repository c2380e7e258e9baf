#!/usr/bin/env bash
# Issue 13's soak: two `apply --auto-approve` of the same app from two folders at the same
# moment against one served sandbox. Never both "Apply complete!" unless the tenant is what both
# printed (each complete run's PFX signs in); afterwards one apply and one
# `plan --detailed-exitcode` from one folder exit 0, and every PFX a manifest names signs in or
# plan reports it as drift. Usage: tests/soak/concurrent.sh [RUNS=10] [DELAY_MS=1000]
set -uo pipefail
source "$(dirname "$0")/lib.sh"
RUNS="${1:-10}"; DELAY="${2:-1000}"
failed=0
printf '%-4s %-10s %-10s %-8s %s\n' run a b after note
for run in $(seq "$RUNS"); do
  dir="$(mktemp -d)"
  for side in a b; do mkdir -p "$dir/$side"; cp "$ROOT/manifests/exchange-online-app.yaml" "$dir/$side/"; done
  serve "$dir/tenant.json" --replication-delay-ms "$DELAY" --seed "$run"
  (cd "$dir/a" && ef apply --auto-approve exchange-online-app.yaml >apply.out 2>apply.err; echo $? >apply.rc) &
  pa=$!
  (cd "$dir/b" && ef apply --auto-approve exchange-online-app.yaml >apply.out 2>apply.err; echo $? >apply.rc) &
  pb=$!
  wait "$pa" "$pb"
  bad=""
  declare -A said
  for side in a b; do
    if grep -q "Apply complete!" "$dir/$side/apply.err"; then
      said[$side]=complete
      # What a complete run printed is in the tenant: its PFX signs in.
      (cd "$dir/$side" && ef test-login --app exo-v2-app --scope https://graph.microsoft.com/.default \
        exchange-online-app.yaml >login.out 2>login.err) || bad="$bad $side-complete-but-its-key-is-gone"
    else
      said[$side]="failed($(cat "$dir/$side/apply.rc"))"
    fi
  done
  [ "${said[a]}" = complete ] && [ "${said[b]}" = complete ] && bad="$bad both-complete"
  (cd "$dir/a" && ef apply --auto-approve exchange-online-app.yaml >again.out 2>again.err) || bad="$bad follow-up-apply"
  (cd "$dir/a" && ef plan --detailed-exitcode exchange-online-app.yaml >again-plan.out 2>&1) || bad="$bad follow-up-plan"
  after=ok
  for side in a b; do
    (cd "$dir/$side" && ef plan --detailed-exitcode exchange-online-app.yaml >final.out 2>final.err); code=$?
    if [ "$code" = 2 ]; then
      grep -q "which is not one of the app's keys" "$dir/$side/final.out" || bad="$bad $side-plan-2-without-drift"
      after="$after,$side:drift"
    elif [ -f "$dir/$side/secrets/Exo_V2_App.pfx" ]; then
      (cd "$dir/$side" && ef test-login --app exo-v2-app --scope https://graph.microsoft.com/.default \
        exchange-online-app.yaml >final-login.out 2>final-login.err) || bad="$bad $side-pfx-cannot-sign-in"
    fi
  done
  [ -n "$bad" ] && failed=$((failed + 1))
  printf '%-4s %-10s %-10s %-8s %s\n' "$run" "${said[a]}" "${said[b]}" "$after" "${bad:-}${bad:+ (kept in $dir)}"
  stop; [ -z "$bad" ] && rm -rf "$dir"
  unset said
done
echo "$((RUNS - failed)) of $RUNS runs kept every promise"
[ "$failed" = 0 ]
