// Package storetest is the one conformance suite every store.Store backend
// must pass. It specifies the contract's behaviour (errors, ordering,
// atomicity, concurrency, round-tripping) as tests; a backend's own test file
// calls Run with a function that opens a fresh, empty store per subtest.
// The events, KV and secrets tests need a replaceable clock: backends
// implement ClockSetter.
// ScheduleFireRace and ReceiveRace are exported so that a backend can also
// run them across several handles on one database (several nodes).
// Benchmarks (Bench*) are called from each backend's bench_test.go.
// It owns no backend and imports none.
package storetest
