// Package api is the admin HTTP API (JSON) the CLI and the console use:
// blob upload, deploy with plan, function and version listing, rollback,
// direct invoke, logs (with follow), usage, and workflow executions
// (start, list, history, signal, cancel, terminate, restart: flow.go).
// Every endpoint requires an admin token; the token's SHA-256 is what the
// store keeps.
//
// It applies deploys (plan → compile → one store transaction → sync the
// invoker and the routes) but leaves planning itself to package deploy and
// running functions to the gateway and invoker. Deploys and rollbacks of a
// project run one at a time; compiles run outside the node-wide deploy
// lock (locks.go has the lock order).
package api
