// Package registry holds the function versions this node serves: for
// each function its active version, compiled, with a warm pool of
// instances. Prepare compiles a version before a deploy writes it (so a
// broken module rejects the deploy and the first request never pays
// compilation); Sync makes what is served match the store after deploys,
// rollbacks and other nodes' changes (the replaced pool drains its
// in-flight invocations, then closes); Load is a start's first Sync,
// bringing versions up several at once, each serving as soon as it is
// ready. Compiled modules are shared by versions with equal code and
// configuration and closed when no pool uses them.
//
// It is separate from internal/invoke because it changes on a different
// clock: the registry moves when something is deployed, the invocation
// pipeline runs on every request and only looks a function up (Lookup).
// Deploys (the admin API), the node's sync loop and the workflow index
// use the registry without running anything. It does not admit or run
// invocations (internal/invoke does, within the limits it hands the
// registry's pools, PoolLimits), nor decide what is deployed (the admin
// API applies plans to the store; the registry follows the store).
package registry
