// Package storetest is the one conformance suite every store.Store backend
// must pass. It specifies the contract's behaviour (errors, ordering,
// atomicity, concurrency, round-tripping) as tests; a backend's own test file
// calls Run with a function that opens a fresh, empty store per subtest.
// It owns no backend and imports none.
package storetest
