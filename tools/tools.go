//go:build tools

// Package tools pins the code generators the build runs (make generate) in a
// module of their own, so their dependencies stay out of Strata's go.mod.
package tools

import _ "github.com/sqlc-dev/sqlc/cmd/sqlc"
