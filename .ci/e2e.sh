#!/usr/bin/env bash
# End-to-end suite against a real kube-apiserver, kube-scheduler and kube-controller-manager built from Debian's
# kubernetes source package (cached outside the repository; the first run builds them).
set -uo pipefail
cd "$(dirname "$0")/.."
reports=${1:-.tmp/ci}
mkdir -p "$reports"
if ! bash test/e2e/controlplane/build.sh; then
  echo '{"numPassedTests":0,"numFailedTests":1,"testResults":[]}' > "$reports/e2e.json"
  exit 1
fi
npx vitest run -c vitest.e2e.config.ts --reporter=default --reporter=json --outputFile.json="$reports/e2e.json"
