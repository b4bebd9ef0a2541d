package events

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store"
)

func TestGroupCommitSharesTransactionsAndIsolatesFailures(t *testing.T) {
	e := setup(t, []record.QueueConfig{{Name: "q", Project: "p", Kind: record.QueueUser, VisibilityTimeout: time.Second}}, nil, nil)
	counting := &countingStore{Store: e.st}
	g := newGroupCommit(counting)
	var wg sync.WaitGroup
	errs := make([]error, 200)
	for i := range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			q := "q"
			if i%50 == 7 {
				q = "missing" // fails alone, not with its batch
			}
			_, errs[i] = g.send(context.Background(), store.MessageSendParams{Queue: q, Body: []byte(fmt.Sprint(i))})
		}()
	}
	wg.Wait()
	failed := 0
	for i, err := range errs {
		if i%50 == 7 {
			if !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("send %d to a missing queue: %v", i, err)
			}
			failed++
		} else if err != nil {
			t.Fatalf("send %d failed with its batch: %v", i, err)
		}
	}
	if s := stats(t, e.st, "q"); s.Visible != int64(200-failed) {
		t.Fatalf("stored %d, want %d", s.Visible, 200-failed)
	}
	t.Logf("200 concurrent sends with 4 bad ones took %d MessageSend calls", counting.calls())

	// Without bad messages, concurrent sends share commits.
	before := counting.calls()
	for i := range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := g.send(context.Background(), store.MessageSendParams{Queue: "q", Body: []byte(fmt.Sprint(i))}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	t.Logf("200 concurrent good sends took %d MessageSend calls", counting.calls()-before)
	if s := stats(t, e.st, "q"); s.Visible != int64(400-failed) {
		t.Fatalf("stored %d, want %d", s.Visible, 400-failed)
	}
}

type countingStore struct {
	store.Store
	mu sync.Mutex
	n  int
}

func (c *countingStore) MessageSend(ctx context.Context, m []store.MessageSendParams) ([]store.MessageSendResult, error) {
	c.mu.Lock()
	c.n++
	c.mu.Unlock()
	return c.Store.MessageSend(ctx, m)
}

func (c *countingStore) calls() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}
