// Package route owns Strata's HTTP route syntax and the matcher the gateway
// uses to pick a function for a request.
//
// A route is "[METHOD ]PATH". METHOD is one of GET HEAD POST PUT PATCH DELETE
// OPTIONS or "*" (any method; also what an omitted method means). PATH starts
// with "/" and is made of segments: literals, "{name}" parameters that match
// one non-empty segment, and, as the last segment only, a catch-all
// "{name...}" (or an unnamed "*") that matches the rest of the path. The
// platform reserves "/_strata" and everything under it.
//
// Two routes clash when they have the same method and the same shape, where
// the shape ignores parameter names: "/u/{id}" and "/u/{name}" are one route.
// A route with method "*" does not clash with a specific method on the same
// shape: the specific method wins when matching.
//
// Across projects, routes are kept apart by their claims (Claim): a route
// with a parameter or catch-all claims its literal prefix and everything
// under it, an all-literal route its one path. Any two routes that can
// match one request have overlapping claims, so package deploy refuses a
// route whose claim overlaps another project's.
//
// This package parses and matches; it does not know about projects, stores
// or deploys. Package deploy and package manifest validate routes with Parse
// so that the rules live in one place.
package route
