#!/usr/bin/env bash
# Builds the Temporal CLI, which embeds Temporal's development server
# (`temporal server start-dev`), from its Go module into
# bench/peers/temporal/bin/temporal for Strata's benchmark harness.
# Only the Go module proxy is contacted; nothing prebuilt is downloaded.
#
# The version is pinned: v1.5.1 is the newest release whose go.mod has no
# replace directive. Later releases (v1.9.x) replace
# github.com/temporalio/cli/cliext with a nested directory that the module
# zip does not carry and the proxy does not serve as a module, so
# `go install …@version` refuses them. v1.5.1 embeds go.temporal.io/server
# v1.29.1 and needs Go 1.25 or newer.
set -euo pipefail
cd "$(dirname "$0")"
version="${TEMPORAL_CLI_VERSION:-v1.5.1}"
if ! command -v go >/dev/null 2>&1; then
  echo "install.sh: go not found" >&2
  exit 1
fi
# A module built with `go install` reports itself as 0.0.0-DEV, so the
# installed version is kept in a stamp file beside the binary.
if [ -x bin/temporal ] && [ "$(cat bin/VERSION 2>/dev/null)" = "$version" ]; then
  bin/temporal --version
  exit 0
fi
mkdir -p bin
rm -f bin/VERSION
# The CLI is large (the whole Temporal server); building it takes several
# minutes on two cores.
GOBIN="$PWD/bin" GOFLAGS=-buildvcs=false go install "github.com/temporalio/cli/cmd/temporal@${version}"
echo "$version" > bin/VERSION
bin/temporal --version
