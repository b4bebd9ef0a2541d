// Package lambda translates between Strata's triggers and the event
// shapes of AWS Lambda, for functions deployed with events: lambda: API
// Gateway HTTP API (payload format 2.0) requests and responses, SQS
// message batches and EventBridge scheduled events. It is pure: it builds
// and reads JSON, and knows nothing of queues, routes or invocations
// beyond the values it is handed.
//
// It does not decide which functions take these shapes (the invoker asks
// the version's configuration), nor how a batch's failures are settled
// (package events).
package lambda
