// Package naming owns the one rule for the names of projects, functions,
// workflows, queues, topics, schedules, databases and kv namespaces: a
// lowercase letter followed by up to 62 lowercase letters, digits or '-'.
//
// `strata new`, the manifest parser and the deploy validation in front of
// the store all call Check, so a name that one accepts the others accept
// too. The rule is strict because a name becomes a directory, a Go module
// path, a YAML key, a URL segment and a store key. Suggest turns a rejected
// name into one the rule accepts ("my_app" → "my-app") for error messages.
//
// It does not own other identifiers with rules of their own: binding names,
// secret names, environment variable keys and route parameters.
package naming
