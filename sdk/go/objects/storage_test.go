package objects

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/sdk/go/wire"
)

// Each storage method sends the request the ABI documents.
func TestStorageRequests(t *testing.T) {
	ctx := context.Background()
	s := &Storage{}
	tests := []struct {
		name string
		do   func() error
		want wire.ObjectRequest
	}{
		{"get", func() error { _, _, err := s.Get(ctx, "k"); return err },
			wire.ObjectRequest{Op: wire.ObjectOpGet, Keys: []string{"k"}}},
		{"get many", func() error { _, err := s.GetMany(ctx, []string{"a", "b"}); return err },
			wire.ObjectRequest{Op: wire.ObjectOpGet, Keys: []string{"a", "b"}}},
		{"put", func() error { return s.Put(ctx, "k", []byte("v")) },
			wire.ObjectRequest{Op: wire.ObjectOpPut, Entries: []wire.ObjectEntry{{Key: "k", Value: []byte("v")}}}},
		{"put many", func() error { return s.PutMany(ctx, map[string][]byte{"a": []byte("1")}) },
			wire.ObjectRequest{Op: wire.ObjectOpPut, Entries: []wire.ObjectEntry{{Key: "a", Value: []byte("1")}}}},
		{"delete", func() error { _, err := s.Delete(ctx, "k"); return err },
			wire.ObjectRequest{Op: wire.ObjectOpDelete, Keys: []string{"k"}}},
		{"delete many", func() error { _, err := s.DeleteMany(ctx, []string{"a", "b"}); return err },
			wire.ObjectRequest{Op: wire.ObjectOpDelete, Keys: []string{"a", "b"}}},
		{"list", func() error {
			_, err := s.List(ctx, ListOptions{Prefix: "p", Start: "p1", End: "p9", Limit: 3, Reverse: true})
			return err
		}, wire.ObjectRequest{Op: wire.ObjectOpList, Prefix: "p", Start: "p1", End: "p9", Limit: 3, Reverse: true}},
		{"delete all", func() error { return s.DeleteAll(ctx) }, wire.ObjectRequest{Op: wire.ObjectOpDeleteAll}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newFakeHost(t)
			require.NoError(t, tt.do())
			require.Len(t, h.reqs, 1)
			require.Equal(t, tt.want, h.reqs[0])
		})
	}
}

// The methods read the host's answers: found and missing keys, empty
// values, counts, list order and bounds.
func TestStorageAnswers(t *testing.T) {
	ctx := context.Background()
	h := newFakeHost(t)
	s := &Storage{}
	require.NoError(t, s.PutMany(ctx, map[string][]byte{"a": []byte("1"), "b": []byte("2"), "c": []byte("3"), "empty": nil}))

	v, ok, err := s.Get(ctx, "a")
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, "1", string(v))
	v, ok, err = s.Get(ctx, "empty")
	require.NoError(t, err)
	require.True(t, ok)
	require.NotNil(t, v, "an empty value is not a missing one")
	_, ok, err = s.Get(ctx, "missing")
	require.NoError(t, err)
	require.False(t, ok)

	m, err := s.GetMany(ctx, []string{"a", "b", "missing"})
	require.NoError(t, err)
	require.Equal(t, map[string][]byte{"a": []byte("1"), "b": []byte("2")}, m)

	list, err := s.List(ctx, ListOptions{Start: "b", Reverse: true, Limit: 2})
	require.NoError(t, err)
	require.Equal(t, []Entry{{Key: "empty", Value: []byte{}}, {Key: "c", Value: []byte("3")}}, list)

	existed, err := s.Delete(ctx, "a")
	require.NoError(t, err)
	require.True(t, existed)
	existed, err = s.Delete(ctx, "a")
	require.NoError(t, err)
	require.False(t, existed)
	n, err := s.DeleteMany(ctx, []string{"b", "c", "nope"})
	require.NoError(t, err)
	require.Equal(t, 2, n)

	require.NoError(t, s.DeleteAll(ctx))
	require.Empty(t, h.data)

	// Empty batches make no host call.
	before := len(h.reqs)
	_, err = s.GetMany(ctx, nil)
	require.NoError(t, err)
	require.NoError(t, s.PutMany(ctx, nil))
	_, err = s.DeleteMany(ctx, nil)
	require.NoError(t, err)
	require.Len(t, h.reqs, before)
}

// The host's refusal comes back with the operation named.
func TestStorageHostError(t *testing.T) {
	h := newFakeHost(t)
	h.fail[wire.ObjectOpPut] = "storage is only available during an object event"
	err := (&Storage{}).Put(context.Background(), "k", []byte("v"))
	require.EqualError(t, err, `objects: put "k": storage is only available during an object event`)
}

// Too long keys and too large values fail before any host call, with the
// limit in the message.
func TestStorageLimits(t *testing.T) {
	ctx := context.Background()
	h := newFakeHost(t)
	s := &Storage{}
	long := strings.Repeat("k", wire.ObjectMaxKeyBytes+1)
	big := make([]byte, wire.ObjectMaxValueBytes+1)

	err := s.Put(ctx, "k", big)
	require.ErrorIs(t, err, ErrValueTooLarge)
	require.Contains(t, err.Error(), "131073 bytes, more than 131072")
	require.ErrorIs(t, s.PutMany(ctx, map[string][]byte{"k": big}), ErrValueTooLarge)
	require.ErrorIs(t, s.Put(ctx, long, nil), ErrKeyTooLong)
	_, _, err = s.Get(ctx, long)
	require.ErrorIs(t, err, ErrKeyTooLong)
	_, err = s.GetMany(ctx, []string{"a", long})
	require.ErrorIs(t, err, ErrKeyTooLong)
	_, err = s.Delete(ctx, long)
	require.ErrorIs(t, err, ErrKeyTooLong)
	_, err = s.List(ctx, ListOptions{Prefix: long})
	require.ErrorIs(t, err, ErrKeyTooLong)
	_, err = s.List(ctx, ListOptions{Limit: -1})
	require.Error(t, err)
	require.Empty(t, h.reqs, "no limit violation reaches the host")

	// At the limits exactly, the host is called.
	require.NoError(t, s.Put(ctx, strings.Repeat("k", wire.ObjectMaxKeyBytes), make([]byte, wire.ObjectMaxValueBytes)))
	require.Len(t, h.reqs, 1)
}

func TestTransactionCommits(t *testing.T) {
	ctx := context.Background()
	h := newFakeHost(t)
	s := &Storage{}
	require.NoError(t, s.Put(ctx, "gone", []byte("x")))
	err := s.Transaction(ctx, func(tx *Txn) error {
		require.NoError(t, tx.Put(ctx, "tx1", []byte("a")))
		require.NoError(t, tx.PutMany(ctx, map[string][]byte{"tx2": []byte("b")}))
		v, ok, err := tx.Get(ctx, "tx1")
		require.NoError(t, err)
		require.True(t, ok, "a transaction reads its own writes")
		require.Equal(t, "a", string(v))
		_, err = tx.Delete(ctx, "gone")
		require.NoError(t, err)
		list, err := tx.List(ctx, ListOptions{Prefix: "tx"})
		require.NoError(t, err)
		require.Len(t, list, 2)
		require.Empty(t, h.data["tx1"], "nothing is visible outside before the commit")
		return nil
	})
	require.NoError(t, err)
	require.Equal(t, map[string][]byte{"tx1": []byte("a"), "tx2": []byte("b")}, h.data)
	require.Equal(t, []string{"put", "tx_begin", "put", "put", "get", "delete", "list", "tx_commit"}, h.ops())
	for _, r := range h.reqs[2:] {
		require.Equal(t, "tx1", r.TxID, "%s carries the transaction", r.Op)
	}
}

func TestTransactionRollsBack(t *testing.T) {
	ctx := context.Background()
	boom := errors.New("boom")
	tests := []struct {
		name    string
		fn      func(tx *Txn) error
		wantErr error
		panics  bool
	}{
		{"error", func(tx *Txn) error { _ = tx.Put(ctx, "k", []byte("v")); return boom }, boom, false},
		{"panic", func(tx *Txn) error { _ = tx.Put(ctx, "k", []byte("v")); panic(boom) }, nil, true},
		{"rollback", func(tx *Txn) error {
			_ = tx.Put(ctx, "k", []byte("v"))
			tx.Rollback()
			require.ErrorIs(t, tx.Put(ctx, "k2", nil), ErrTxDone)
			return nil
		}, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newFakeHost(t)
			run := func() error { return (&Storage{}).Transaction(ctx, tt.fn) }
			if tt.panics {
				require.PanicsWithValue(t, boom, func() { _ = run() })
			} else {
				require.ErrorIs(t, run(), tt.wantErr)
			}
			require.Empty(t, h.data)
			require.Equal(t, []string{"tx_begin", "put", "tx_rollback"}, h.ops())
			require.Equal(t, "tx1", h.last().TxID)
			require.Empty(t, h.txs, "the host forgot the transaction")
		})
	}
}

// A Txn kept past its function fails instead of writing outside the
// transaction.
func TestTransactionUseAfterEnd(t *testing.T) {
	ctx := context.Background()
	newFakeHost(t)
	var kept *Txn
	require.NoError(t, (&Storage{}).Transaction(ctx, func(tx *Txn) error { kept = tx; return nil }))
	require.ErrorIs(t, kept.Put(ctx, "k", nil), ErrTxDone)
	_, _, err := kept.Get(ctx, "k")
	require.ErrorIs(t, err, ErrTxDone)
}

func TestTransactionBeginFails(t *testing.T) {
	h := newFakeHost(t)
	h.fail[wire.ObjectOpTxBegin] = "no"
	called := false
	err := (&Storage{}).Transaction(context.Background(), func(*Txn) error { called = true; return nil })
	require.EqualError(t, err, "objects: begin transaction: no")
	require.False(t, called)
}
