// Package events runs Strata's event-driven functions: it feeds every queue
// that has a consumer function (user queues, the async queue of each
// function, and each function's topic subscriptions) to that function,
// acknowledges or fails what was delivered, and fires schedules. Sending,
// publishing and async invokes go through it so the consumer on this node
// wakes at once.
//
// Events reach functions as CloudEvents 1.0 over HTTP: one event in binary
// mode (ce-* headers, the data as the body), a batch in JSON batch mode
// (application/cloudevents-batch+json). Async invokes and async routes are
// delivered as the original HTTP request.
//
// Delivery is at least once: a message is deleted only after the function
// succeeded, and a node that dies mid-delivery leaves it to reappear after
// its visibility timeout. The store guarantees each schedule fire is
// recorded once, before it runs.
package events
