// Package manifest reads strata.yaml, the file that describes a project:
// its name, its functions (Go source directories or prebuilt Wasm modules),
// their limits, environment, HTTP routes and event triggers (queue, topics,
// schedule), and the project's queues and topics.
//
// Parse reports every problem it finds, each with file:line:column and the
// dotted path of the offending key, and never panics on any input. The rules
// for names, limits, routes and schedules are package deploy's, package
// route's and package schedule's, so
// the manifest, the admin API and schema/strata.schema.json agree.
//
// This package does not build modules or talk to a server: the CLI turns a
// Manifest into a deploy.Spec with Manifest.Spec once modules are uploaded.
package manifest
