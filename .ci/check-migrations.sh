#!/usr/bin/env bash
# Fails when schema/ and drizzle/ disagree: drizzle-kit generates into a copy of drizzle/, and
# any new or changed file there means schema/ changed without `npm run db:generate`.
set -euo pipefail
cd "$(dirname "$0")/.."
# drizzle-kit only accepts a relative --out, so the scratch copy lives (git-ignored) in the repo.
scratch=.ci/.drizzle-check
rm -rf "$scratch"
trap 'rm -rf "$scratch"' EXIT
cp -r drizzle "$scratch"
if ! output=$(npx drizzle-kit generate --dialect postgresql --schema ./schema/index.ts --out "$scratch" 2>&1) ||
  grep -q 'Error' <<<"$output"; then
  echo "$output" >&2
  echo "drizzle-kit generate failed" >&2
  exit 1
fi
if ! diff -r drizzle "$scratch" >/dev/null; then
  echo "schema/ and drizzle/ disagree: run \`npm run db:generate\` and commit the migration" >&2
  diff -r drizzle "$scratch" | head -40 >&2 || true
  exit 1
fi
echo "schema/ and drizzle/ agree"
