// Package e2e holds end-to-end tests that build the real strata binary and
// drive it the way users do: `strata dev` in a copy of an example project,
// plain HTTP against its gateway, and the CLI against its admin API.
package e2e
