#!/usr/bin/env bash
# Issue 13's throttling soak: `apply` of the example manifests converges on its first run under
# `--throttle 15`, and under `--throttle 30 --fail-rate 0.2`, then `plan --detailed-exitcode`
# exits 0. Usage: tests/soak/throttle.sh [SEEDS=3]
set -uo pipefail
source "$(dirname "$0")/lib.sh"
SEEDS="${1:-3}"
failed=0; runs=0
printf '%-28s %-5s %-6s %-6s %s\n' faults seed apply plan seconds
for faults in "--throttle 15" "--throttle 30 --fail-rate 0.2"; do
  for seed in $(seq "$SEEDS"); do
    runs=$((runs + 1))
    dir="$(mktemp -d)"; copy_manifests "$dir"; cd "$dir"
    # shellcheck disable=SC2086
    serve "$dir/tenant.json" $faults --seed "$seed"
    start=$(now_ms)
    ef apply --auto-approve manifests >apply.out 2>apply.err; apply=$?
    ef plan --detailed-exitcode manifests >plan.out 2>plan.err; plan=$?
    secs=$(( ($(now_ms) - start) / 1000 ))
    [ "$apply$plan" = 00 ] || failed=$((failed + 1))
    printf '%-28s %-5s %-6s %-6s %s\n' "$faults" "$seed" "$apply" "$plan" "$secs"
    stop; cd /; [ "$apply$plan" = 00 ] && rm -rf "$dir"
  done
done
echo "$((runs - failed)) of $runs runs converged"
[ "$failed" = 0 ]
