// Package record holds the records Strata keeps: functions and their
// versions, routes, usage and log lines, tokens, queues and messages,
// bindings, and workflow executions. It is to the store what rivertype is
// to River: packages that handle a Version or a Route import this and not
// the storage contract (internal/store), which holds the interface, the
// parameters of its operations and its errors.
//
// It imports nothing of Strata's, so every layer may import it.
package record
