// Package gateway is Strata's HTTP ingress: it matches requests to function
// routes (after resolving "." and ".." path segments), enforces body and
// time limits, turns HTTP requests into guest requests (without the
// X-Strata-* and Ce-* headers only the platform may set) and guest
// responses back into HTTP (refusing a guest's 1xx status with 502), starts workflow executions
// for routes that name a workflow (through a WorkflowStarter), serves the
// health (liveness) and ready (readiness: 503 while the node loads its
// deployed functions) endpoints and mounts the admin API. It holds the one mapping from
// errors to HTTP status (Status and WriteError), which the admin API uses
// too.
package gateway
