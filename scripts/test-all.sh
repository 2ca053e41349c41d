#!/usr/bin/env bash
# The whole test suite, as the README names it (`npm run test:all`) and .ci/run runs it:
# typecheck, lint, unit + component tests, integration tests against real components (Trino, moto),
# the packaged template against the recorded one, infrastructure checks, then one closing line
# "N passed, N failed" over every vitest test.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${root}"
mkdir -p .cache
rm -f .cache/vitest-unit.json .cache/vitest-integration.json .cache/vitest-cloud.json
status=0
step() {
  echo "==> $*"
  if ! "$@"; then
    echo "FAILED: $*"
    status=1
  fi
}
step npx tsc --noEmit
step npx biome check .
step npx vitest run --project unit --coverage.enabled --reporter=default --reporter=json --outputFile.json=.cache/vitest-unit.json
step npx vitest run --project integration --reporter=default --reporter=json --outputFile.json=.cache/vitest-integration.json
step npx vitest run --project cloud --reporter=default --reporter=json --outputFile.json=.cache/vitest-cloud.json
# The packaged CloudFormation template against the recorded one (test/fixtures/osls-package/).
step npm run --silent check:package
if [ -f scripts/check-infra.sh ]; then
  step bash scripts/check-infra.sh
fi
node scripts/summarize-tests.mjs .cache/vitest-unit.json .cache/vitest-integration.json .cache/vitest-cloud.json || status=1
exit "${status}"
