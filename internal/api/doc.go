// Package api is the admin HTTP API (JSON) the CLI and the console use:
// blob upload, deploy with plan, function and version listing, rollback,
// direct invoke, logs (with follow), usage, and workflow executions
// (start, list, history, signal, cancel, terminate, restart: flow.go).
// Every endpoint requires a token; the token's SHA-256 is what the store
// keeps. An admin token reaches every project; a project-scoped one only
// the routes registered with handleScoped, on its own project (auth.go is
// the one place this is decided). Tokens are created, listed and revoked
// here (auth.go); a node re-checks a token after TokenCacheTTL, so a
// revocation reaches every node within it. The request and response
// bodies are package apitype's, which the client shares.
//
// It applies deploys (plan → compile → one store transaction → sync the
// invoker and the routes) but leaves planning itself to package deploy and
// running functions to the gateway and invoker. Deploys and rollbacks of a
// project run one at a time; compiles run outside the node-wide deploy
// lock (locks.go has the lock order).
package api
