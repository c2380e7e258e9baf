#!/usr/bin/env bash
# Daily drift and certificate check for a host without a CI system, run by a systemd timer
# (entraform-drift.timer) or cron (entraform-drift.cron). Setup: examples/cron/README.md.
#
# Exit codes: 0 nothing to do (silent); 2 drift or a certificate due; 1 entraform could not
# check. On 1 or 2 the report is logged (syslog/journal), printed, and mailed when
# ENTRAFORM_MAILTO is set.
#
# Environment (drift.env):
#   AZURE_TENANT_ID                the tenant
#   AZURE_CLIENT_ID                the read-only github-reader app (manifests/github-oidc-deployer.yaml)
#   AZURE_CLIENT_CERTIFICATE_PATH  PEM with its certificate and private key, mode 0600
#   ENTRAFORM_MANIFESTS            the manifests folder, in a clone of the repository
#   ENTRAFORM_MAILTO               optional: mail the report here (needs `mail`, e.g. bsd-mailx)
# The working directory (/var/lib/entraform) keeps the last plan.txt and certs.txt.
set -uo pipefail

# Check what main says now; a stale clone would report drift that was already merged.
if ! git -C "$ENTRAFORM_MANIFESTS" pull --ff-only --quiet; then
  echo "warning: could not update $ENTRAFORM_MANIFESTS; checking the copy on disk" >&2
fi

entraform plan --detailed-exitcode "$ENTRAFORM_MANIFESTS" > plan.txt 2>&1 && plan=0 || plan=$?
entraform certs "$ENTRAFORM_MANIFESTS" > certs.txt 2>&1 && certs=0 || certs=$?

if [ "$plan" -eq 0 ] && [ "$certs" -eq 0 ]; then
  exit 0
fi
if [ "$plan" -eq 1 ] || [ "$certs" -eq 1 ]; then
  status=1
  subject="entraform: the drift check failed on $(hostname)"
else
  status=2
  subject="entraform: the tenant drifted or certificates are due ($(hostname))"
fi

report() {
  echo "$subject"
  echo
  echo "== entraform plan --detailed-exitcode (exit $plan)"
  cat plan.txt
  echo
  echo "== entraform certs (exit $certs)"
  cat certs.txt
  echo
  echo "Drift: apply (or change the manifests). Certificates due: apply. See docs/drift-and-rotation.md."
}

logger -t entraform-drift -p user.warning \
  "$subject: plan exit $plan, certs exit $certs; details in $PWD/plan.txt and $PWD/certs.txt" || true
if [ -n "${ENTRAFORM_MAILTO:-}" ] && command -v mail > /dev/null; then
  report | mail -s "$subject" "$ENTRAFORM_MAILTO"
fi
report
exit "$status"
