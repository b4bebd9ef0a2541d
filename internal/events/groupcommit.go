package events

import (
	"context"

	"github.com/stratahq/strata/internal/batch"
	"github.com/stratahq/strata/internal/store"
)

// groupCommit stores concurrent sends in shared transactions
// (internal/batch): a lone send commits at once; under load, one durable
// commit serves many sends, which is what bounds throughput on a store
// that syncs every commit. MessageSend is all or nothing, so when a batch
// fails (one message for a queue that no longer exists, say) each message
// is retried alone and only the bad ones fail.
type groupCommit struct {
	b batch.Batcher[store.MessageSendParams, store.MessageSendResult]
}

func newGroupCommit(st Store) *groupCommit {
	g := &groupCommit{}
	g.b.Run = func(ctx context.Context, ms []store.MessageSendParams) ([]store.MessageSendResult, []error) {
		return batch.AllOrEach(ctx, ms, st.MessageSend)
	}
	return g
}

// send stores m durably, possibly together with other concurrent sends,
// and returns once it is committed (or failed).
func (g *groupCommit) send(ctx context.Context, m store.MessageSendParams) (store.MessageSendResult, error) {
	return g.b.Do(ctx, m)
}
