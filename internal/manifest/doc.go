// Package manifest reads strata.yaml, the file that describes a project:
// its name, its functions (Go source directories or prebuilt Wasm modules),
// their limits, environment, HTTP routes, event triggers (queue, topics,
// schedule) and bindings (databases, kv namespaces, secrets, the outbound
// fetch allow-list), and the project's queues, topics, databases, kv
// namespaces, secret names, workflows (each handed to the function that
// orchestrates it; a route may start one instead of invoking) and durable
// object classes (each handed to the function that defines it; a route may
// forward to an object, a binding may name a class) and Step Functions state
// machines (each read from an Amazon States Language file, JSON or YAML,
// and validated with package asl). Routes may also serve
// WebSockets. Secret values never appear in a manifest: database URLs refer
// to secrets as ${secret:NAME}.
//
// Parse reports every problem it finds, each with file:line:column and the
// dotted path of the offending key, and never panics on any input. The rules
// for names, limits, bindings, routes and schedules are package deploy's,
// package route's and package schedule's, so the manifest, the admin API
// and schema/strata.schema.json agree. A manifest is untrusted input: it is
// at most MaxSize bytes, nests at most MaxNesting levels (checked before the
// YAML parser runs), and its source, wasm and definition paths must lie inside the
// project directory once symbolic links are resolved.
//
// This package does not build modules or talk to a server: the CLI turns a
// Manifest into an apitype.Spec with Manifest.Spec once modules are uploaded.
package manifest
