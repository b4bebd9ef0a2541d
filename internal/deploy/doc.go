// Package deploy owns what a deploy is once it leaves strata.yaml: the
// rules that make a Spec (apitype.Spec, the body the CLI sends to the admin
// API) valid (Validate: names, limits, module digests, routes, queues,
// topics, triggers, databases, KV namespaces, secret names, bindings,
// fetch allow-lists and workflows, which travel in their function's
// config), the event configuration a Spec implies (Events: user queues,
// one internal async queue per function, one queue per topic
// subscription, schedules), the binding resources it implies (Bindings),
// and the Plan that diffs a Spec against what is deployed and turns into
// one store.DeploymentApply call.
//
// It is pure computation: no I/O, no store calls, and no clock: the time a
// deploy happens is passed in (ApplyParams). The server reads
// the current State from the store, calls Compute, shows or applies the Plan.
// Package manifest uses the validators here so that a rule is written once
// and strata.yaml, the API and the JSON schema agree. Route syntax itself is
// package route's.
package deploy
