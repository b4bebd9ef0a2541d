// Package batch shares one store transaction between concurrent callers:
// the group commit that bounds throughput on a store that syncs every
// commit. The events engine batches queue sends with it and the flow
// engine batches execution starts and commits.
package batch
