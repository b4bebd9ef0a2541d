// Package dispatch is where SDK packages that serve their own kind of
// invocation plug into package strata's serve path without an import
// cycle: strata imports dispatch, and so does the package that installs
// the hook (sdk/go/objects), so neither imports the other.
//
// A hook is consulted only when it is set and the request carries its
// header, so a function that does not import the package pays one nil
// check per invocation.
package dispatch

import "net/http"

// Object serves durable object events: requests carrying
// wire.ObjectEventHeader. objects.Register sets it; nil in a function
// that defines no object class. Set it from init only: strata reads it
// without a lock.
var Object http.Handler

// Default serves the requests of a function that registers no handler of
// its own with package strata: package flow sets it when a workflow or an
// activity is registered, so a function may still register its own
// handler (wrapping flow.Handler) without that counting as a second one.
// Set it from init only.
var Default http.Handler
