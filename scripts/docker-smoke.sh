#!/usr/bin/env bash
# No Docker engine runs on the CI machines, so this reproduces what the Dockerfile does, step by
# step, in a temp folder: the build stage (npm ci, build, prune to production dependencies), the
# runtime stage (only package.json, node_modules and dist; the example config as
# /etc/runwarden/runwarden.yaml; the image's environment), then starts the daemon the way the
# ENTRYPOINT does, checks the HEALTHCHECK command, and stops it with SIGTERM.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
pid=""

echo "smoke: build stage"
mkdir -p "$work/build" "$work/app/etc" "$work/state" "$work/backups" "$work/data"
cp "$repo/package.json" "$repo/package-lock.json" "$repo/tsconfig.json" "$work/build/"
cp -r "$repo/src" "$work/build/src"
(cd "$work/build" && npm ci --prefer-offline --no-audit --no-fund --loglevel=error && npm run build --silent && npm prune --omit=dev --no-audit --no-fund --loglevel=error)

echo "smoke: runtime stage"
cp "$work/build/package.json" "$work/app/"
cp -r "$work/build/node_modules" "$work/build/dist" "$work/app/"
cp "$repo/config/runwarden.example.yaml" "$work/app/etc/runwarden.yaml"
if [ -d "$work/app/node_modules/typescript" ] || [ -d "$work/app/node_modules/vitest" ]; then
  echo "smoke: FAIL: development dependencies reached the runtime image"; exit 1
fi

port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
cd "$work/app"
env -i PATH="$PATH" HOME="$work" NODE_ENV=production METADATA_SERVER_DETECTION=none \
  RUNWARDEN_SERVER_ADDRESS="127.0.0.1:$port" RUNWARDEN_STATE_DIR="$work/state" \
  RUNWARDEN_BACKUP_DIR="$work/backups" RUNWARDEN_BACKUP_SOURCES_DATA_DIR="$work/data" RUNWARDEN_LOG_FORMAT=json \
  node --max-semi-space-size=4 --v8-pool-size=1 dist/cli/main.js daemon --config "$work/app/etc/runwarden.yaml" >"$work/daemon.log" 2>&1 &
pid=$!

healthy=""
for _ in $(seq 1 100); do
  # The image's HEALTHCHECK command, with the environment the daemon has.
  if env -i PATH="$PATH" HOME="$work" RUNWARDEN_SERVER_ADDRESS="127.0.0.1:$port" \
    node dist/cli/main.js healthcheck --config "$work/app/etc/runwarden.yaml" >/dev/null 2>&1; then healthy=yes; break; fi
  sleep 0.1
done
[ -n "$healthy" ] || { echo "smoke: FAIL: /healthz never answered"; cat "$work/daemon.log"; exit 1; }
echo "smoke: healthcheck passed"

kill -TERM "$pid"
status=0; wait "$pid" || status=$?
pid=""
[ "$status" -eq 0 ] || { echo "smoke: FAIL: daemon exited $status on SIGTERM"; cat "$work/daemon.log"; exit 1; }
echo "smoke: OK (production install, start, healthcheck, SIGTERM exit 0)"
