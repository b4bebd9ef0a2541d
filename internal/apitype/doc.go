// Package apitype holds the admin API's wire types: every request and
// response body and header name the API and its client share. The API
// (package api, and the gateway for errors and invocation headers) writes
// them and package client reads them, so the client needs nothing else
// internal, and a field's JSON name is written in one place.
//
// The bodies are a contract: the CLI, scripts and clients of other
// versions read them, so a field renamed, reordered or dropped breaks
// them (internal/api/testdata/contract pins representative answers).
// Where an answer is a record exactly as the store keeps it, the type here
// is an alias of the record type (package record), said in its comment.
//
// It holds types and constants only: what builds or checks them (deploy
// validation and planning, usage summaries) stays with the code that owns
// the behaviour and imports this package.
package apitype
