#!/usr/bin/env bash
# Installs Cloudflare's workerd (pinned in package.json) into
# bench/peers/workerd/node_modules for Strata's benchmark harness.
# Only the npm registry is contacted; no browser or other download.
set -euo pipefail
cd "$(dirname "$0")"
if ! command -v npm >/dev/null 2>&1; then
  echo "install.sh: npm not found; install Node.js 18+ first" >&2
  exit 1
fi
if [ -f package-lock.json ]; then
  npm ci --no-audit --no-fund
else
  npm install --no-audit --no-fund
fi
# The workerd package ships the native binary in a per-platform optional
# dependency; its postinstall script only speeds up start-up, so the binary
# works even when npm declines to run install scripts.
./node_modules/.bin/workerd --version
