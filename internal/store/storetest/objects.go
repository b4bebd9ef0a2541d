package storetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store"
	"github.com/stratahq/strata/sdk/go/wire"
)

// objectsTests are the conformance tests of store.Objects, run by Run.
var objectsTests = []struct {
	name string
	fn   func(t *testing.T, s store.Store)
}{
	{"ObjectLeaseAcquireRenewRelease", testObjectLease},
	{"ObjectLeaseTokensOnlyGrow", testObjectLeaseTokens},
	{"ObjectLeaseConcurrentAcquire", testObjectLeaseConcurrent},
	{"ObjectCommitGetList", testObjectCommitGetList},
	{"ObjectCommitDeleteAllThenPut", testObjectDeleteAllThenPut},
	{"ObjectCommitLimits", testObjectLimits},
	{"ObjectCommitFencedWriteSkipsOnlyItsObject", testObjectFencing},
	{"ObjectCommitOneObjectTwoTokens", testObjectTwoTokens},
	{"ObjectCommitRacesTakeover", testObjectTakeoverRace},
	{"ObjectListBoundsAndDirections", testObjectListBounds},
	{"ObjectListPrefixIsBytes", testObjectListPrefixBytes},
	{"ObjectInfoAndObjectsList", testObjectInfoList},
	{"ObjectAlarms", testObjectAlarms},
	{"ObjectDeleteFencesAndRemoves", testObjectDelete},
	{"ObjectProjectsAreIsolated", testObjectProjects},
	{"ObjectRoutesRoundTrip", testObjectRoutes},
}

// objectID returns a fake object id (64 hex digits) that differs per name.
func objectID(name string) string { return Digest([]byte("object " + name)) }

func objKey(project, class, name string) record.ObjectKey {
	return record.ObjectKey{Project: project, Class: class, ID: objectID(name)}
}

// acquire takes key's lease for owner for a minute.
func acquire(t *testing.T, s store.Store, key record.ObjectKey, owner string) store.ObjectLease {
	t.Helper()
	l, err := s.ObjectLeaseAcquire(context.Background(), key, owner, time.Minute)
	require.NoError(t, err)
	return l
}

// objCommit commits writes and requires the whole commit and each write to
// succeed.
func objCommit(t *testing.T, s store.Store, writes ...store.ObjectWrite) {
	t.Helper()
	errs, err := s.ObjectCommit(context.Background(), writes, time.Minute)
	require.NoError(t, err)
	require.Len(t, errs, len(writes))
	for i, e := range errs {
		require.NoError(t, e, "write %d", i)
	}
}

// puts returns entries of alternating keys and values.
func puts(kv ...string) []record.ObjectEntry {
	out := make([]record.ObjectEntry, 0, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, record.ObjectEntry{Key: kv[i], Value: []byte(kv[i+1])})
	}
	return out
}

// entryKeys returns the keys of es, in order.
func entryKeys(es []record.ObjectEntry) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.Key
	}
	return out
}

func testObjectLease(t *testing.T, s store.Store) {
	ctx := context.Background()
	c := fakeClock(t, s)
	k := objKey("p", "Counter", "a")

	a := acquire(t, s, k, "node-a")
	require.Equal(t, "node-a", a.Owner)
	require.Positive(t, a.Token)
	require.Equal(t, t0.Add(time.Minute), a.Expires)

	// Another owner is refused while the lease lives, and told who holds it.
	_, err := s.ObjectLeaseAcquire(ctx, k, "node-b", time.Minute)
	require.ErrorIs(t, err, store.ErrLeaseHeld)
	var held *store.LeaseHeldError
	require.ErrorAs(t, err, &held)
	require.Equal(t, "node-a", held.Owner)
	require.True(t, held.Expires.Equal(t0.Add(time.Minute)), "expires %v", held.Expires)

	// Renewal moves the expiry, so B is still refused past the first one.
	c.Advance(50 * time.Second)
	require.NoError(t, s.ObjectLeaseRenew(ctx, k, a.Token, time.Minute))
	c.Advance(20 * time.Second)
	_, err = s.ObjectLeaseAcquire(ctx, k, "node-b", time.Minute)
	require.ErrorIs(t, err, store.ErrLeaseHeld)

	// Released, the lease is free at once.
	require.NoError(t, s.ObjectLeaseRelease(ctx, k, a.Token))
	b := acquire(t, s, k, "node-b")
	require.Greater(t, b.Token, a.Token)

	// A's token is stale now: renewing it is fenced, releasing it is a
	// no-op that leaves B's lease alone.
	require.ErrorIs(t, s.ObjectLeaseRenew(ctx, k, a.Token, time.Minute), store.ErrFenced)
	require.NoError(t, s.ObjectLeaseRelease(ctx, k, a.Token))
	_, err = s.ObjectLeaseAcquire(ctx, k, "node-a", time.Minute)
	require.ErrorIs(t, err, store.ErrLeaseHeld)

	// Expired, the lease goes to whoever asks.
	c.Advance(time.Minute)
	a2 := acquire(t, s, k, "node-a")
	require.Greater(t, a2.Token, b.Token)
	require.ErrorIs(t, s.ObjectLeaseRenew(ctx, k, b.Token, time.Minute), store.ErrFenced)
}

// testObjectLeaseTokens: every acquisition gets a higher token, including
// the same owner taking its own live lease back (a restarted node fencing
// its previous incarnation) and acquisitions after a release, an expiry
// and ObjectDelete.
func testObjectLeaseTokens(t *testing.T, s store.Store) {
	ctx := context.Background()
	c := fakeClock(t, s)
	k := objKey("p", "Counter", "tokens")
	last := acquire(t, s, k, "n1").Token
	next := func(owner string) {
		t.Helper()
		l := acquire(t, s, k, owner)
		require.Greater(t, l.Token, last)
		last = l.Token
	}
	next("n1") // same owner, live lease
	require.NoError(t, s.ObjectLeaseRelease(ctx, k, last))
	next("n2") // after release
	c.Advance(2 * time.Minute)
	next("n3") // after expiry
	_, err := s.ObjectDelete(ctx, k)
	require.NoError(t, err)
	next("n3") // after delete
	require.ErrorIs(t, s.ObjectLeaseRenew(ctx, k, last-1, time.Minute), store.ErrFenced)
}

// testObjectLeaseConcurrent: of owners racing for a free lease exactly one
// wins; the others see it held.
func testObjectLeaseConcurrent(t *testing.T, s store.Store) {
	ctx := context.Background()
	k := objKey("p", "Counter", "race")
	const n = 8
	var wg sync.WaitGroup
	var mu sync.Mutex
	var winners []store.ObjectLease
	var helds int
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l, err := s.ObjectLeaseAcquire(ctx, k, fmt.Sprintf("node-%d", i), time.Minute)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				winners = append(winners, l)
			case errors.Is(err, store.ErrLeaseHeld):
				helds++
			default:
				t.Errorf("acquire: %v", err)
			}
		}()
	}
	wg.Wait()
	require.Len(t, winners, 1)
	require.Equal(t, n-1, helds)
}

func testObjectCommitGetList(t *testing.T, s store.Store) {
	ctx := context.Background()
	k := objKey("p", "Counter", "c")
	l := acquire(t, s, k, "n")

	// Nothing stored yet.
	es, err := s.ObjectGet(ctx, k, []string{"a"})
	require.NoError(t, err)
	require.Empty(t, es)
	_, err = s.ObjectInfo(ctx, k)
	require.ErrorIs(t, err, store.ErrNotFound)

	objCommit(t, s, store.ObjectWrite{Key: k, Token: l.Token, Puts: puts("b", "2", "a", "1", "c", "3", "empty", ""),
		Bytes: 12, Keys: 4})
	es, err = s.ObjectGet(ctx, k, []string{"c", "missing", "a", "empty"})
	require.NoError(t, err)
	require.Equal(t, []record.ObjectEntry{{Key: "a", Value: []byte("1")}, {Key: "c", Value: []byte("3")},
		{Key: "empty", Value: []byte{}}}, es)

	// Deletes then puts of one write: a key both deleted and put ends put;
	// a later put of a key in the same write wins.
	objCommit(t, s, store.ObjectWrite{Key: k, Token: l.Token, Deletes: []string{"a", "b", "nope"},
		Puts: puts("b", "x", "d", "4", "d", "5"), Bytes: 9, Keys: 4})
	es, err = s.ObjectList(ctx, store.ObjectListParams{Key: k})
	require.NoError(t, err)
	require.Equal(t, puts("b", "x", "c", "3", "d", "5", "empty", ""), es)

	// Writes of one batch apply in order.
	objCommit(t, s,
		store.ObjectWrite{Key: k, Token: l.Token, Puts: puts("e", "first"), Bytes: 1, Keys: 5},
		store.ObjectWrite{Key: k, Token: l.Token, Puts: puts("e", "second"), Deletes: []string{"b"}, Bytes: 2, Keys: 4})
	es, err = s.ObjectGet(ctx, k, []string{"b", "e"})
	require.NoError(t, err)
	require.Equal(t, puts("e", "second"), es)
	info, err := s.ObjectInfo(ctx, k)
	require.NoError(t, err)
	require.Equal(t, int64(2), info.Bytes)
	require.Equal(t, int64(4), info.Keys)
}

func testObjectDeleteAllThenPut(t *testing.T, s store.Store) {
	ctx := context.Background()
	k := objKey("p", "Counter", "da")
	l := acquire(t, s, k, "n")
	objCommit(t, s, store.ObjectWrite{Key: k, Token: l.Token, Puts: puts("a", "1", "b", "2"), Bytes: 4, Keys: 2})
	objCommit(t, s, store.ObjectWrite{Key: k, Token: l.Token, DeleteAll: true, Deletes: []string{"z"},
		Puts: puts("b", "new", "c", "3"), Bytes: 6, Keys: 2})
	es, err := s.ObjectList(ctx, store.ObjectListParams{Key: k})
	require.NoError(t, err)
	require.Equal(t, puts("b", "new", "c", "3"), es)

	objCommit(t, s, store.ObjectWrite{Key: k, Token: l.Token, DeleteAll: true})
	es, err = s.ObjectList(ctx, store.ObjectListParams{Key: k})
	require.NoError(t, err)
	require.Empty(t, es)
	info, err := s.ObjectInfo(ctx, k)
	require.NoError(t, err, "an object emptied was still written")
	require.Zero(t, info.Keys)
}

func testObjectLimits(t *testing.T, s store.Store) {
	ctx := context.Background()
	k := objKey("p", "Counter", "limits")
	l := acquire(t, s, k, "n")
	maxKey := strings.Repeat("k", wire.ObjectMaxKeyBytes)
	maxValue := make([]byte, wire.ObjectMaxValueBytes)
	objCommit(t, s, store.ObjectWrite{Key: k, Token: l.Token, Puts: []record.ObjectEntry{{Key: maxKey, Value: maxValue}}})
	es, err := s.ObjectGet(ctx, k, []string{maxKey})
	require.NoError(t, err)
	require.Len(t, es, 1)
	require.Len(t, es[0].Value, wire.ObjectMaxValueBytes)

	// One write over a limit fails the whole commit: the good write in
	// the same batch is not applied either.
	for name, bad := range map[string]record.ObjectEntry{
		"key":   {Key: maxKey + "k", Value: []byte("v")},
		"value": {Key: "v", Value: make([]byte, wire.ObjectMaxValueBytes+1)},
	} {
		_, err := s.ObjectCommit(ctx, []store.ObjectWrite{
			{Key: k, Token: l.Token, Puts: puts("good", "1")},
			{Key: k, Token: l.Token, Puts: []record.ObjectEntry{bad}},
		}, time.Minute)
		require.ErrorIs(t, err, store.ErrTooLarge, name)
	}
	_, err = s.ObjectCommit(ctx, []store.ObjectWrite{{Key: k, Token: l.Token, Deletes: []string{maxKey + "k"}}}, time.Minute)
	require.ErrorIs(t, err, store.ErrTooLarge)
	es, err = s.ObjectGet(ctx, k, []string{"good"})
	require.NoError(t, err)
	require.Empty(t, es)
}

// testObjectFencing: A holds the lease, it expires, B takes the object
// over; A's commit is fenced (nothing of it lands) while a write of
// another object in the same batch applies, and B's commits go on.
func testObjectFencing(t *testing.T, s store.Store) {
	ctx := context.Background()
	c := fakeClock(t, s)
	k := objKey("p", "Counter", "fenced")
	other := objKey("p", "Counter", "other")
	a := acquire(t, s, k, "node-a")
	ao := acquire(t, s, other, "node-a")
	objCommit(t, s, store.ObjectWrite{Key: k, Token: a.Token, Puts: puts("n", "1"), Bytes: 2, Keys: 1})

	c.Advance(2 * time.Minute)
	b := acquire(t, s, k, "node-b")
	objCommit(t, s, store.ObjectWrite{Key: k, Token: b.Token, Puts: puts("n", "10"), Bytes: 3, Keys: 1})

	errs, err := s.ObjectCommit(ctx, []store.ObjectWrite{
		{Key: other, Token: ao.Token, Puts: puts("x", "1"), Bytes: 2, Keys: 1},
		{Key: k, Token: a.Token, Puts: puts("n", "2"), Deletes: []string{"n"}, DeleteAll: true, Bytes: 2, Keys: 1,
			SetAlarm: t0.Add(time.Hour)},
		{Key: other, Token: ao.Token, Puts: puts("y", "2"), Bytes: 4, Keys: 2},
	}, time.Minute)
	require.NoError(t, err)
	require.Len(t, errs, 3)
	require.NoError(t, errs[0])
	require.ErrorIs(t, errs[1], store.ErrFenced)
	require.NoError(t, errs[2])

	es, err := s.ObjectList(ctx, store.ObjectListParams{Key: k})
	require.NoError(t, err)
	require.Equal(t, puts("n", "10"), es, "the fenced write changed nothing")
	info, err := s.ObjectInfo(ctx, k)
	require.NoError(t, err)
	require.Equal(t, int64(3), info.Bytes)
	require.True(t, info.AlarmAt.IsZero())
	es, err = s.ObjectList(ctx, store.ObjectListParams{Key: other})
	require.NoError(t, err)
	require.Equal(t, puts("x", "1", "y", "2"), es, "the live object's writes applied")

	// The commit renewed the live leases: past the original expiry of
	// other's lease, another node is still refused.
	c.Advance(50 * time.Second)
	objCommit(t, s, store.ObjectWrite{Key: k, Token: b.Token, Puts: puts("n", "11")})
	c.Advance(50 * time.Second)
	_, err = s.ObjectLeaseAcquire(ctx, k, "node-c", time.Minute)
	require.ErrorIs(t, err, store.ErrLeaseHeld)

	// A commit naming an unknown object's token is fenced too.
	errs, err = s.ObjectCommit(ctx, []store.ObjectWrite{{Key: objKey("p", "Counter", "never"), Token: 1, Puts: puts("a", "1")}}, time.Minute)
	require.NoError(t, err)
	require.ErrorIs(t, errs[0], store.ErrFenced)
}

// testObjectTwoTokens: a batch naming one object with two tokens (its
// owner re-acquired it between two events) applies the writes of the
// current token and fences those of the old one.
func testObjectTwoTokens(t *testing.T, s store.Store) {
	ctx := context.Background()
	k := objKey("p", "Counter", "two")
	other := objKey("p", "Counter", "two-other")
	old := acquire(t, s, k, "n")
	cur := acquire(t, s, k, "n")
	lo := acquire(t, s, other, "n")
	errs, err := s.ObjectCommit(ctx, []store.ObjectWrite{
		{Key: k, Token: cur.Token, Puts: puts("cur", "1"), Bytes: 4, Keys: 1},
		{Key: k, Token: old.Token, Puts: puts("old", "1"), Bytes: 8, Keys: 2},
		{Key: other, Token: lo.Token, Puts: puts("o", "1"), Bytes: 2, Keys: 1},
	}, time.Minute)
	require.NoError(t, err)
	require.NoError(t, errs[0])
	require.ErrorIs(t, errs[1], store.ErrFenced)
	require.NoError(t, errs[2])
	es, err := s.ObjectList(ctx, store.ObjectListParams{Key: k})
	require.NoError(t, err)
	require.Equal(t, puts("cur", "1"), es)
	info, err := s.ObjectInfo(ctx, k)
	require.NoError(t, err)
	require.Equal(t, int64(1), info.Keys)
	es, err = s.ObjectList(ctx, store.ObjectListParams{Key: other})
	require.NoError(t, err)
	require.Equal(t, puts("o", "1"), es)
}

// testObjectTakeoverRace is a hammer: node A commits to an object in a
// loop while node B takes it over (the clock jumps past A's lease until B
// wins) and writes. A commit of A's that is in flight when B acquires is
// ordered wholly before the takeover (the fence's row lock), so B's write
// is never overwritten, and once A is fenced it stays fenced.
func testObjectTakeoverRace(t *testing.T, s store.Store) {
	ctx := context.Background()
	c := fakeClock(t, s)
	k := objKey("p", "Counter", "takeover")
	a := acquire(t, s, k, "node-a")

	const commits = 200
	done := make(chan error, 1)
	go func() {
		fenced := false
		for i := range commits {
			errs, err := s.ObjectCommit(ctx, []store.ObjectWrite{{Key: k, Token: a.Token,
				Puts: puts("v", fmt.Sprintf("a%03d", i)), Bytes: 5, Keys: 1}}, time.Minute)
			switch {
			case err != nil:
				done <- err
				return
			case errs[0] == nil && fenced:
				done <- errors.New("a commit succeeded after an earlier one was fenced")
				return
			case errs[0] != nil:
				if !errors.Is(errs[0], store.ErrFenced) {
					done <- errs[0]
					return
				}
				fenced = true
			}
		}
		done <- nil
	}()

	var b store.ObjectLease
	for {
		c.Advance(2 * time.Minute)
		l, err := s.ObjectLeaseAcquire(ctx, k, "node-b", time.Hour)
		if err == nil {
			b = l
			break
		}
		require.ErrorIs(t, err, store.ErrLeaseHeld)
	}
	objCommit(t, s, store.ObjectWrite{Key: k, Token: b.Token, Puts: puts("v", "b"), Bytes: 2, Keys: 1})
	require.NoError(t, <-done)
	es, err := s.ObjectGet(ctx, k, []string{"v"})
	require.NoError(t, err)
	require.Equal(t, puts("v", "b"), es, "a write of the old owner landed after the takeover")
}

func testObjectListBounds(t *testing.T, s store.Store) {
	ctx := context.Background()
	k := objKey("p", "Counter", "list")
	l := acquire(t, s, k, "n")
	objCommit(t, s, store.ObjectWrite{Key: k, Token: l.Token, Puts: puts("a", "", "b", "", "ba", "", "bb", "", "c", "", "d", "")})
	list := func(p store.ObjectListParams) []string {
		t.Helper()
		p.Key = k
		es, err := s.ObjectList(ctx, p)
		require.NoError(t, err)
		return entryKeys(es)
	}
	for _, tt := range []struct {
		name string
		p    store.ObjectListParams
		want []string
	}{
		{"all", store.ObjectListParams{}, []string{"a", "b", "ba", "bb", "c", "d"}},
		{"all reversed", store.ObjectListParams{Reverse: true}, []string{"d", "c", "bb", "ba", "b", "a"}},
		{"limit", store.ObjectListParams{Limit: 2}, []string{"a", "b"}},
		{"limit reversed", store.ObjectListParams{Limit: 2, Reverse: true}, []string{"d", "c"}},
		{"start inclusive", store.ObjectListParams{Start: "ba"}, []string{"ba", "bb", "c", "d"}},
		{"end exclusive", store.ObjectListParams{End: "bb"}, []string{"a", "b", "ba"}},
		{"start and end", store.ObjectListParams{Start: "b", End: "c"}, []string{"b", "ba", "bb"}},
		{"start and end reversed limited", store.ObjectListParams{Start: "b", End: "c", Reverse: true, Limit: 2}, []string{"bb", "ba"}},
		{"prefix", store.ObjectListParams{Prefix: "b"}, []string{"b", "ba", "bb"}},
		{"prefix reversed", store.ObjectListParams{Prefix: "b", Reverse: true}, []string{"bb", "ba", "b"}},
		{"prefix and start", store.ObjectListParams{Prefix: "b", Start: "ba"}, []string{"ba", "bb"}},
		{"prefix and end", store.ObjectListParams{Prefix: "b", End: "bb"}, []string{"b", "ba"}},
		{"start after end", store.ObjectListParams{Start: "c", End: "b"}, []string{}},
		{"prefix matching nothing", store.ObjectListParams{Prefix: "z"}, []string{}},
	} {
		require.Equal(t, tt.want, list(tt.p), tt.name)
	}
}

// testObjectListPrefixBytes: keys are byte strings. A prefix holding '%'
// and '_' matches only itself (no LIKE), and keys with bytes above 0x7f
// (including invalid UTF-8 and 0xff) order bytewise on both backends.
func testObjectListPrefixBytes(t *testing.T, s store.Store) {
	ctx := context.Background()
	k := objKey("p", "Counter", "bytes")
	l := acquire(t, s, k, "n")
	keys := []string{"a%", "a%b", "a_", "a_b", "ab", "aXb", "\x7f", "\x80", "é", "\xff", "\xff\xff", "\xff\xffz", "\x00nul"}
	var es []record.ObjectEntry
	for _, key := range keys {
		es = append(es, record.ObjectEntry{Key: key, Value: []byte(key)})
	}
	objCommit(t, s, store.ObjectWrite{Key: k, Token: l.Token, Puts: es})
	list := func(p store.ObjectListParams) []string {
		t.Helper()
		p.Key = k
		got, err := s.ObjectList(ctx, p)
		require.NoError(t, err)
		for _, e := range got {
			require.Equal(t, e.Key, string(e.Value))
		}
		return entryKeys(got)
	}
	require.Equal(t, []string{"\x00nul", "a%", "a%b", "aXb", "a_", "a_b", "ab", "\x7f", "\x80", "é", "\xff", "\xff\xff", "\xff\xffz"},
		list(store.ObjectListParams{}))
	require.Equal(t, []string{"a%", "a%b"}, list(store.ObjectListParams{Prefix: "a%"}))
	require.Equal(t, []string{"a_", "a_b"}, list(store.ObjectListParams{Prefix: "a_"}))
	require.Equal(t, []string{"\xff", "\xff\xff", "\xff\xffz"}, list(store.ObjectListParams{Prefix: "\xff"}))
	require.Equal(t, []string{"\xff\xffz", "\xff\xff"}, list(store.ObjectListParams{Prefix: "\xff\xff", Reverse: true}))
	require.Equal(t, []string{"\x80", "é"}, list(store.ObjectListParams{Start: "\x80", End: "\xff"}))
	got, err := s.ObjectGet(ctx, k, []string{"\xff\xff", "\x00nul", "é"})
	require.NoError(t, err)
	require.Equal(t, []string{"\x00nul", "é", "\xff\xff"}, entryKeys(got))
}

func testObjectInfoList(t *testing.T, s store.Store) {
	ctx := context.Background()
	c := fakeClock(t, s)
	ka := objKey("p", "Counter", "a")
	kb := objKey("p", "Counter", "b")
	kr := objKey("p", "Room", "r")
	la, lb, lr := acquire(t, s, ka, "n"), acquire(t, s, kb, "n"), acquire(t, s, kr, "n")
	objCommit(t, s,
		store.ObjectWrite{Key: ka, Token: la.Token, Name: "alpha", Puts: puts("k", "vv"), Bytes: 3, Keys: 1},
		store.ObjectWrite{Key: kb, Token: lb.Token, Puts: puts("k", "v"), Bytes: 2, Keys: 1},
		store.ObjectWrite{Key: kr, Token: lr.Token, Puts: puts("k", "v"), Bytes: 2, Keys: 1})

	c.Advance(time.Second)
	// A later write without a name keeps the name; totals follow the writer.
	objCommit(t, s, store.ObjectWrite{Key: ka, Token: la.Token, Puts: puts("k2", "v"), Bytes: 6, Keys: 2})
	info, err := s.ObjectInfo(ctx, ka)
	require.NoError(t, err)
	require.Equal(t, ka, info.Key)
	require.Equal(t, "alpha", info.Name)
	require.Equal(t, int64(6), info.Bytes)
	require.Equal(t, int64(2), info.Keys)
	require.Equal(t, t0, info.CreatedAt)
	require.Equal(t, t0.Add(time.Second), info.UpdatedAt)
	require.Equal(t, time.UTC, info.CreatedAt.Location())

	all, err := s.ObjectsList(ctx, store.ObjectsListParams{Project: "p"})
	require.NoError(t, err)
	want := []record.ObjectKey{ka, kb, kr}
	if ka.ID > kb.ID {
		want = []record.ObjectKey{kb, ka, kr}
	}
	keysOf := func(infos []record.ObjectInfo) []record.ObjectKey {
		out := make([]record.ObjectKey, len(infos))
		for i, in := range infos {
			out[i] = in.Key
		}
		return out
	}
	require.Equal(t, want, keysOf(all))

	// Paging by cursor, and by class.
	page, err := s.ObjectsList(ctx, store.ObjectsListParams{Project: "p", Limit: 1})
	require.NoError(t, err)
	require.Equal(t, want[:1], keysOf(page))
	page, err = s.ObjectsList(ctx, store.ObjectsListParams{Project: "p", After: want[0].String(), Limit: 1})
	require.NoError(t, err)
	require.Equal(t, want[1:2], keysOf(page))
	page, err = s.ObjectsList(ctx, store.ObjectsListParams{Project: "p", After: want[1].String()})
	require.NoError(t, err)
	require.Equal(t, want[2:], keysOf(page))
	page, err = s.ObjectsList(ctx, store.ObjectsListParams{Project: "p", Class: "Room"})
	require.NoError(t, err)
	require.Equal(t, []record.ObjectKey{kr}, keysOf(page))
	page, err = s.ObjectsList(ctx, store.ObjectsListParams{Project: "other"})
	require.NoError(t, err)
	require.Empty(t, page)
}

func testObjectAlarms(t *testing.T, s store.Store) {
	ctx := context.Background()
	c := fakeClock(t, s)
	k1 := objKey("p", "Counter", "alarm1")
	k2 := objKey("q", "Counter", "alarm2")
	l1, l2 := acquire(t, s, k1, "n"), acquire(t, s, k2, "n")
	at1, at2 := t0.Add(10*time.Second), t0.Add(5*time.Second)
	objCommit(t, s,
		store.ObjectWrite{Key: k1, Token: l1.Token, SetAlarm: at1},
		store.ObjectWrite{Key: k2, Token: l2.Token, SetAlarm: at2})

	due, err := s.ObjectAlarmsDue(ctx, t0.Add(4*time.Second), 10)
	require.NoError(t, err)
	require.Empty(t, due)
	due, err = s.ObjectAlarmsDue(ctx, t0.Add(10*time.Second), 10)
	require.NoError(t, err)
	require.Equal(t, []record.ObjectAlarm{{Key: k2, At: at2, NextAt: at2}, {Key: k1, At: at1, NextAt: at1}}, due,
		"earliest first, across projects")
	due, err = s.ObjectAlarmsDue(ctx, t0.Add(time.Hour), 1)
	require.NoError(t, err)
	require.Len(t, due, 1)
	info, err := s.ObjectInfo(ctx, k1)
	require.NoError(t, err)
	require.Equal(t, at1, info.AlarmAt)

	// A failed run retries later; a retry or done for another At is ignored.
	require.NoError(t, s.ObjectAlarmRetry(ctx, k2, at2, 1, t0.Add(time.Minute)))
	require.NoError(t, s.ObjectAlarmRetry(ctx, k2, at1, 5, t0.Add(time.Hour)))
	require.NoError(t, s.ObjectAlarmDone(ctx, k2, at1))
	due, err = s.ObjectAlarmsDue(ctx, t0.Add(time.Minute), 10)
	require.NoError(t, err)
	require.Equal(t, []record.ObjectAlarm{{Key: k1, At: at1, NextAt: at1}, {Key: k2, At: at2, Attempts: 1, NextAt: t0.Add(time.Minute)}}, due)

	// An alarm set again while the old one ran survives the old one's Done,
	// with its attempts reset.
	c.Advance(time.Second)
	at2b := t0.Add(2 * time.Minute)
	objCommit(t, s, store.ObjectWrite{Key: k2, Token: l2.Token, SetAlarm: at2b})
	require.NoError(t, s.ObjectAlarmDone(ctx, k2, at2))
	due, err = s.ObjectAlarmsDue(ctx, t0.Add(time.Hour), 10)
	require.NoError(t, err)
	require.Equal(t, []record.ObjectAlarm{{Key: k1, At: at1, NextAt: at1}, {Key: k2, At: at2b, NextAt: at2b}}, due)

	// Done removes the alarm; a write without an alarm change keeps it;
	// DeleteAlarm removes it.
	require.NoError(t, s.ObjectAlarmDone(ctx, k1, at1))
	objCommit(t, s, store.ObjectWrite{Key: k2, Token: l2.Token, Puts: puts("a", "b"), Bytes: 2, Keys: 1})
	due, err = s.ObjectAlarmsDue(ctx, t0.Add(time.Hour), 10)
	require.NoError(t, err)
	require.Equal(t, []record.ObjectAlarm{{Key: k2, At: at2b, NextAt: at2b}}, due)
	objCommit(t, s, store.ObjectWrite{Key: k2, Token: l2.Token, DeleteAlarm: true, Bytes: 2, Keys: 1})
	due, err = s.ObjectAlarmsDue(ctx, t0.Add(time.Hour), 10)
	require.NoError(t, err)
	require.Empty(t, due)
	info, err = s.ObjectInfo(ctx, k1)
	require.NoError(t, err)
	require.True(t, info.AlarmAt.IsZero())
}

func testObjectDelete(t *testing.T, s store.Store) {
	ctx := context.Background()
	k := objKey("p", "Counter", "del")
	l := acquire(t, s, k, "n")
	objCommit(t, s, store.ObjectWrite{Key: k, Token: l.Token, Name: "n", Puts: puts("a", "1"), SetAlarm: t0, Bytes: 2, Keys: 1})

	ok, err := s.ObjectDelete(ctx, k)
	require.NoError(t, err)
	require.True(t, ok)
	_, err = s.ObjectInfo(ctx, k)
	require.ErrorIs(t, err, store.ErrNotFound)
	es, err := s.ObjectList(ctx, store.ObjectListParams{Key: k})
	require.NoError(t, err)
	require.Empty(t, es)
	due, err := s.ObjectAlarmsDue(ctx, t0.Add(time.Hour), 10)
	require.NoError(t, err)
	require.Empty(t, due)

	// The live owner is fenced: its next commit writes nothing back.
	errs, err := s.ObjectCommit(ctx, []store.ObjectWrite{{Key: k, Token: l.Token, Puts: puts("a", "2")}}, time.Minute)
	require.NoError(t, err)
	require.ErrorIs(t, errs[0], store.ErrFenced)
	require.ErrorIs(t, s.ObjectLeaseRenew(ctx, k, l.Token, time.Minute), store.ErrFenced)
	_, err = s.ObjectInfo(ctx, k)
	require.ErrorIs(t, err, store.ErrNotFound)

	// The lease is free (no wait for its expiry) and its token higher.
	l2 := acquire(t, s, k, "other")
	require.Greater(t, l2.Token, l.Token)

	ok, err = s.ObjectDelete(ctx, k)
	require.NoError(t, err)
	require.False(t, ok, "nothing was left to delete")
	ok, err = s.ObjectDelete(ctx, objKey("p", "Counter", "never"))
	require.NoError(t, err)
	require.False(t, ok)
}

// testObjectProjects: the same class and id in two projects are two
// objects: storage, info, leases and deletes never cross.
func testObjectProjects(t *testing.T, s store.Store) {
	ctx := context.Background()
	ka, kb := objKey("a", "Counter", "same"), objKey("b", "Counter", "same")
	la := acquire(t, s, ka, "node-a")
	lb := acquire(t, s, kb, "node-b") // a's lease does not hold b's object
	objCommit(t, s,
		store.ObjectWrite{Key: ka, Token: la.Token, Puts: puts("k", "from a"), Bytes: 7, Keys: 1},
		store.ObjectWrite{Key: kb, Token: lb.Token, Puts: puts("k", "from b", "only-b", "1"), Bytes: 14, Keys: 2})

	es, err := s.ObjectList(ctx, store.ObjectListParams{Key: ka})
	require.NoError(t, err)
	require.Equal(t, puts("k", "from a"), es)
	es, err = s.ObjectGet(ctx, ka, []string{"k", "only-b"})
	require.NoError(t, err)
	require.Equal(t, puts("k", "from a"), es)
	info, err := s.ObjectInfo(ctx, kb)
	require.NoError(t, err)
	require.Equal(t, int64(2), info.Keys)
	list, err := s.ObjectsList(ctx, store.ObjectsListParams{Project: "a"})
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.Equal(t, ka, list[0].Key)

	// a's token means nothing to b's object even when the numbers match.
	if la.Token == lb.Token {
		require.NoError(t, s.ObjectLeaseRelease(ctx, kb, la.Token+1))
	}
	ok, err := s.ObjectDelete(ctx, ka)
	require.NoError(t, err)
	require.True(t, ok)
	es, err = s.ObjectList(ctx, store.ObjectListParams{Key: kb})
	require.NoError(t, err)
	require.Len(t, es, 2)
	objCommit(t, s, store.ObjectWrite{Key: kb, Token: lb.Token, Puts: puts("k", "still b")})
}

// testObjectRoutes: the object and WebSocket fields of routes survive a
// deploy and RouteList.
func testObjectRoutes(t *testing.T, s store.Store) {
	ctx := context.Background()
	routes := []record.Route{
		{Method: "GET", Path: "/counter/{name}", Function: "objs", Object: "Counter", ObjectParam: "name"},
		{Method: "GET", Path: "/ws", Function: "objs", WebSocket: true},
		{Method: "GET", Path: "/room/{id}/ws", Function: "objs", Object: "Room", ObjectParam: "id", WebSocket: true},
	}
	deploy(t, s, store.DeploymentApplyParams{
		Project:     "p",
		NewVersions: []store.NewVersionParams{{Function: "objs", ModuleSHA256: module("objs"), Config: cfg(record.KindReactor)}},
		Routes:      routes,
	})
	got, err := s.RouteList(ctx)
	require.NoError(t, err)
	byPath := map[string]record.Route{}
	for _, r := range got {
		byPath[r.Path] = r
	}
	require.Len(t, byPath, len(routes))
	for _, r := range routes {
		r.Project = "p"
		require.Equal(t, r, byPath[r.Path])
	}
}
