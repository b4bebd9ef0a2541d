package sqlstore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store"
	"github.com/stratahq/strata/sdk/go/wire"
)

// ObjectQueries are the statements on durable objects: entries, info
// (totals and alarm) and leases. Keys are byte strings compared bytewise;
// the dialects store them as BLOB or bytea.
type ObjectQueries interface {
	// ObjectLeaseAcquire gives owner the lease until until when there is
	// none, it expired at now, or owner holds it, with the token one
	// higher; ok false when another owner holds it. Race-free against
	// concurrent acquirers: one upsert (PostgreSQL), or statements in the
	// single writer's transaction (SQLite).
	ObjectLeaseAcquire(ctx context.Context, key record.ObjectKey, owner string, now, until time.Time) (token int64, ok bool, err error)
	// ObjectLeaseGet returns the lease row (store.ErrNotFound: none).
	ObjectLeaseGet(ctx context.Context, key record.ObjectKey) (store.ObjectLease, error)
	// ObjectLeaseRenew sets the expiry of the lease whose token is token
	// and reports whether there was one.
	ObjectLeaseRenew(ctx context.Context, key record.ObjectKey, token int64, until time.Time) (bool, error)
	// ObjectLeaseRelease expires the lease at now if token is still its.
	ObjectLeaseRelease(ctx context.Context, key record.ObjectKey, token int64, now time.Time) error
	// ObjectLeaseBump raises the token by one and expires the lease.
	ObjectLeaseBump(ctx context.Context, key record.ObjectKey, now time.Time) error

	// ObjectGet returns the entries of keys that exist, by key.
	ObjectGet(ctx context.Context, key record.ObjectKey, keys []string) ([]record.ObjectEntry, error)
	// ObjectList returns the entries of one key range.
	ObjectList(ctx context.Context, r ObjectRange) ([]record.ObjectEntry, error)

	// ObjectFence renews to until the lease of each of fences whose token
	// is still the object's, and reports which: live[i] for fences[i].
	// A stale token fails nothing (on PostgreSQL a failed statement
	// would abort the transaction, and the other objects' writes).
	ObjectFence(ctx context.Context, fences []ObjectFence, until time.Time) (live []bool, err error)
	// ObjectApply runs the statements of applies, in order.
	ObjectApply(ctx context.Context, applies []ObjectApply) error

	// ObjectInfo returns an object's info row (store.ErrNotFound: none).
	ObjectInfo(ctx context.Context, key record.ObjectKey) (*record.ObjectInfo, error)
	// ObjectsList returns up to p.Limit info rows of p.Project (of
	// p.Class unless empty) after (p.AfterClass, p.AfterID), by class then
	// id in byte order.
	ObjectsList(ctx context.Context, p ObjectsPage) ([]record.ObjectInfo, error)
	// ObjectDeleteData deletes an object's entries and info row and
	// reports whether either existed.
	ObjectDeleteData(ctx context.Context, key record.ObjectKey) (bool, error)

	// ObjectAlarmsDue returns up to limit alarms with NextAt <= now,
	// earliest first.
	ObjectAlarmsDue(ctx context.Context, now time.Time, limit int) ([]record.ObjectAlarm, error)
	// ObjectAlarmDone clears the alarm if its At is at.
	ObjectAlarmDone(ctx context.Context, key record.ObjectKey, at time.Time) error
	// ObjectAlarmRetry sets attempts and NextAt of the alarm if its At is
	// at.
	ObjectAlarmRetry(ctx context.Context, key record.ObjectKey, at time.Time, attempts int, next time.Time) error
}

// ObjectPipeline is implemented by a backend's read Queries (Driver.Read)
// when it can run a commit in fewer round trips than InTx with one
// statement at a time: PostgreSQL pipelines the fence and the writes.
// Backends without it (SQLite, in process) take the InTx path; both write
// the same.
type ObjectPipeline interface {
	// ObjectCommitPipelined runs, in one transaction, ObjectFence of
	// fences and then ObjectApply of what apply returns for the fences
	// found live.
	ObjectCommitPipelined(ctx context.Context, fences []ObjectFence, until time.Time, apply func(live []bool) []ObjectApply) error
}

// ObjectRange is one listing: the entries of Key with keys in [From, End),
// at most Limit, descending when Reverse. One range of the primary key.
type ObjectRange struct {
	Key       record.ObjectKey
	From, End string
	Limit     int
	Reverse   bool
}

// ObjectsPage is one page of ObjectsList.
type ObjectsPage struct {
	Project, Class      string
	AfterClass, AfterID string
	Limit               int
}

// ObjectFence is the lease check of one object in a commit.
type ObjectFence struct {
	Key   record.ObjectKey
	Token int64
}

// ObjectApply is one store.ObjectWrite as statements: DeleteAll, Deletes,
// Puts (keys distinct, so one upsert statement may carry them all), then
// the info row.
type ObjectApply struct {
	Key       record.ObjectKey
	DeleteAll bool
	Deletes   []string // empty when DeleteAll
	Puts      []record.ObjectEntry
	Name      string // "": keep the recorded name
	Bytes     int64
	Keys      int64
	// AlarmChange replaces the alarm with AlarmAt (zero: none), attempts
	// reset; otherwise the alarm is left as it is.
	AlarmChange bool
	AlarmAt     time.Time
	Now         time.Time
}

// objectKeysEnd is greater than every valid key: a key is at most
// ObjectMaxKeyBytes bytes, so it sorts before this longer run of 0xff. It
// ends a range that has no upper bound.
var objectKeysEnd = strings.Repeat("\xff", wire.ObjectMaxKeyBytes+1)

// objectPrefixEnd is the least byte string above every string starting
// with prefix: prefix with trailing 0xff bytes dropped and the last byte
// incremented, or objectKeysEnd when there is none.
func objectPrefixEnd(prefix string) string {
	for i := len(prefix) - 1; i >= 0; i-- {
		if prefix[i] != 0xff {
			return prefix[:i] + string([]byte{prefix[i] + 1})
		}
	}
	return objectKeysEnd
}

// objectsDefaultLimit is ObjectsListParams.Limit when 0.
const objectsDefaultLimit = 100

// objectLeaseTries bounds ObjectLeaseAcquire's retries when the lease it
// failed to take changed before it could be read (it expired or was
// released meanwhile).
const objectLeaseTries = 3

func checkObjectKey(k record.ObjectKey) error {
	if k.Project == "" || k.Class == "" || k.ID == "" {
		return fmt.Errorf("object %q of project %q: project, class and id are required", k.String(), k.Project)
	}
	return nil
}

// ObjectLeaseAcquire gives owner the object's lease (store.Objects).
func (s *Store) ObjectLeaseAcquire(ctx context.Context, key record.ObjectKey, owner string, ttl time.Duration) (store.ObjectLease, error) {
	defer s.op("ObjectLeaseAcquire", time.Now())
	if err := checkObjectKey(key); err != nil {
		return store.ObjectLease{}, err
	}
	if owner == "" || ttl <= 0 {
		return store.ObjectLease{}, fmt.Errorf("acquire object %s: an owner and a positive ttl are required", key)
	}
	for try := 0; ; try++ {
		now := s.nowUTC()
		until := now.Add(ttl).Truncate(time.Microsecond)
		var token int64
		var ok bool
		err := s.d.Write(ctx, func(q Queries) (err error) {
			token, ok, err = q.ObjectLeaseAcquire(ctx, key, owner, now, until)
			return err
		})
		if err != nil {
			return store.ObjectLease{}, fmt.Errorf("acquire object %s: %w", key, err)
		}
		if ok {
			return store.ObjectLease{Owner: owner, Token: token, Expires: until}, nil
		}
		l, err := s.d.Read().ObjectLeaseGet(ctx, key)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return store.ObjectLease{}, fmt.Errorf("acquire object %s: %w", key, err)
		}
		// The lease may have changed between the two statements; report
		// it held only if it still is, else take another turn.
		if err == nil && l.Owner != owner && l.Expires.After(now) || try+1 == objectLeaseTries {
			return store.ObjectLease{}, fmt.Errorf("acquire object %s: %w", key, &store.LeaseHeldError{Owner: l.Owner, Expires: l.Expires})
		}
	}
}

// ObjectLeaseRenew extends a held lease (store.Objects).
func (s *Store) ObjectLeaseRenew(ctx context.Context, key record.ObjectKey, token int64, ttl time.Duration) error {
	defer s.op("ObjectLeaseRenew", time.Now())
	until := s.nowUTC().Add(ttl).Truncate(time.Microsecond)
	var ok bool
	err := s.d.Write(ctx, func(q Queries) (err error) {
		ok, err = q.ObjectLeaseRenew(ctx, key, token, until)
		return err
	})
	if err != nil {
		return fmt.Errorf("renew lease of object %s: %w", key, err)
	}
	if !ok {
		return fmt.Errorf("renew lease of object %s token %d: %w", key, token, store.ErrFenced)
	}
	return nil
}

// ObjectLeaseRelease ends a held lease (store.Objects).
func (s *Store) ObjectLeaseRelease(ctx context.Context, key record.ObjectKey, token int64) error {
	defer s.op("ObjectLeaseRelease", time.Now())
	now := s.nowUTC()
	if err := s.d.Write(ctx, func(q Queries) error { return q.ObjectLeaseRelease(ctx, key, token, now) }); err != nil {
		return fmt.Errorf("release lease of object %s: %w", key, err)
	}
	return nil
}

// ObjectGet returns the entries of the keys that exist (store.Objects).
func (s *Store) ObjectGet(ctx context.Context, key record.ObjectKey, keys []string) ([]record.ObjectEntry, error) {
	defer s.op("ObjectGet", time.Now())
	if len(keys) == 0 {
		return nil, nil
	}
	es, err := s.d.Read().ObjectGet(ctx, key, keys)
	if err != nil {
		return nil, fmt.Errorf("get %d keys of object %s: %w", len(keys), key, err)
	}
	return nonNilValues(es), nil
}

// nonNilValues makes every value of es non-nil: an empty value is a value.
func nonNilValues(es []record.ObjectEntry) []record.ObjectEntry {
	for i := range es {
		if es[i].Value == nil {
			es[i].Value = []byte{}
		}
	}
	return es
}

// ObjectList pages an object's entries (store.Objects): one range of the
// primary key, [max(Prefix, Start), min(prefix end, End)). A prefix is a
// range rather than LIKE, which would read '%' and '_' in keys as
// wildcards and compare by collation.
func (s *Store) ObjectList(ctx context.Context, p store.ObjectListParams) ([]record.ObjectEntry, error) {
	defer s.op("ObjectList", time.Now())
	if p.Limit < 0 {
		return nil, fmt.Errorf("list object %s: negative limit %d", p.Key, p.Limit)
	}
	r := ObjectRange{Key: p.Key, From: max(p.Prefix, p.Start), End: objectKeysEnd, Limit: p.Limit, Reverse: p.Reverse}
	if p.Prefix != "" {
		r.End = objectPrefixEnd(p.Prefix)
	}
	if p.End != "" {
		r.End = min(r.End, p.End)
	}
	if r.From >= r.End {
		return nil, nil
	}
	es, err := s.d.Read().ObjectList(ctx, r)
	if err != nil {
		return nil, fmt.Errorf("list object %s: %w", p.Key, err)
	}
	return nonNilValues(es), nil
}

// checkObjectWrites checks the sizes of every key and value before any I/O:
// one over its limit fails the whole commit (store.ErrTooLarge).
func checkObjectWrites(writes []store.ObjectWrite) error {
	for _, w := range writes {
		if err := checkObjectKey(w.Key); err != nil {
			return err
		}
		if !w.SetAlarm.IsZero() && w.DeleteAlarm {
			return fmt.Errorf("object %s: a write both sets and deletes the alarm", w.Key)
		}
		for _, k := range w.Deletes {
			if len(k) > wire.ObjectMaxKeyBytes {
				return fmt.Errorf("object %s: key of %d bytes is over the limit of %d: %w", w.Key, len(k), wire.ObjectMaxKeyBytes, store.ErrTooLarge)
			}
		}
		for _, e := range w.Puts {
			if len(e.Key) > wire.ObjectMaxKeyBytes {
				return fmt.Errorf("object %s: key of %d bytes is over the limit of %d: %w", w.Key, len(e.Key), wire.ObjectMaxKeyBytes, store.ErrTooLarge)
			}
			if len(e.Value) > wire.ObjectMaxValueBytes {
				return fmt.Errorf("object %s key %q: value of %d bytes is over the limit of %d: %w", w.Key, e.Key, len(e.Value), wire.ObjectMaxValueBytes, store.ErrTooLarge)
			}
		}
	}
	return nil
}

// ObjectCommit applies writes in one transaction (store.Objects): one fence
// per distinct object (the lease check and renewal), then the statements of
// each write whose object's fence held. Fences go first, in key order, so
// that two commits over the same objects lock their leases in one order.
func (s *Store) ObjectCommit(ctx context.Context, writes []store.ObjectWrite, leaseTTL time.Duration) ([]error, error) {
	defer s.op("ObjectCommit", time.Now())
	if len(writes) == 0 {
		return nil, nil
	}
	if err := checkObjectWrites(writes); err != nil {
		return nil, fmt.Errorf("commit %d object writes: %w", len(writes), err)
	}
	now := s.nowUTC()
	until := now.Add(leaseTTL).Truncate(time.Microsecond)

	// One fence per (object, token): a batch naming one object with two
	// tokens (a writer that re-acquired between events) checks both.
	fences := make([]ObjectFence, 0, len(writes))
	for _, w := range writes {
		fences = append(fences, ObjectFence{Key: w.Key, Token: w.Token})
	}
	slices.SortFunc(fences, compareFences)
	fences = slices.Compact(fences)
	fenceOf := func(w store.ObjectWrite) int {
		i, _ := slices.BinarySearchFunc(fences, ObjectFence{Key: w.Key, Token: w.Token}, compareFences)
		return i
	}

	errs := make([]error, len(writes))
	apply := func(live []bool) []ObjectApply {
		applies := make([]ObjectApply, 0, len(writes))
		for i, w := range writes {
			if !live[fenceOf(w)] {
				errs[i] = fmt.Errorf("commit object %s token %d: %w", w.Key, w.Token, store.ErrFenced)
				continue
			}
			applies = append(applies, objectApply(w, now))
		}
		return applies
	}
	var err error
	if pl, ok := s.d.Read().(ObjectPipeline); ok {
		err = pl.ObjectCommitPipelined(ctx, fences, until, apply)
	} else {
		err = s.d.InTx(ctx, func(q Queries) error {
			live, err := q.ObjectFence(ctx, fences, until)
			if err != nil {
				return fmt.Errorf("fence: %w", err)
			}
			return q.ObjectApply(ctx, apply(live))
		})
	}
	if err != nil {
		return nil, fmt.Errorf("commit %d object writes: %w", len(writes), err)
	}
	return errs, nil
}

func compareFences(a, b ObjectFence) int {
	return cmp.Or(cmp.Compare(a.Key.Project, b.Key.Project), cmp.Compare(a.Key.Class, b.Key.Class),
		cmp.Compare(a.Key.ID, b.Key.ID), cmp.Compare(a.Token, b.Token))
}

// objectApply is w as statements: deletes are dropped under DeleteAll,
// puts of one key collapse to the last (a later put of a key replaces an
// earlier one, and one upsert may touch a row once), and the alarm change
// is resolved.
func objectApply(w store.ObjectWrite, now time.Time) ObjectApply {
	a := ObjectApply{Key: w.Key, DeleteAll: w.DeleteAll, Name: w.Name, Bytes: w.Bytes, Keys: w.Keys, Now: now}
	if !w.DeleteAll {
		a.Deletes = w.Deletes
	}
	a.Puts = objectPuts(w.Puts)
	switch {
	case !w.SetAlarm.IsZero():
		a.AlarmChange, a.AlarmAt = true, w.SetAlarm.UTC().Truncate(time.Microsecond)
	case w.DeleteAlarm:
		a.AlarmChange = true
	}
	return a
}

// objectPuts is puts with one entry per key, the last, and no nil value
// (nil would bind as NULL): puts itself when it is so already, else a copy,
// never writing into the caller's slice.
func objectPuts(puts []record.ObjectEntry) []record.ObjectEntry {
	clean := true
	var last map[string]int
	if len(puts) > 1 {
		last = make(map[string]int, len(puts))
		for i, e := range puts {
			last[e.Key] = i
		}
		clean = len(last) == len(puts)
	}
	for _, e := range puts {
		clean = clean && e.Value != nil
	}
	if clean {
		return puts
	}
	out := make([]record.ObjectEntry, 0, len(puts))
	for i, e := range puts {
		if last != nil && last[e.Key] != i {
			continue
		}
		if e.Value == nil {
			e.Value = []byte{}
		}
		out = append(out, e)
	}
	return out
}

// ObjectInfo returns what the store knows of an object (store.Objects).
func (s *Store) ObjectInfo(ctx context.Context, key record.ObjectKey) (*record.ObjectInfo, error) {
	defer s.op("ObjectInfo", time.Now())
	info, err := s.d.Read().ObjectInfo(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return nil, &store.NotFoundError{Kind: "object", Name: key.String(), More: "in project " + key.Project}
	}
	if err != nil {
		return nil, fmt.Errorf("get object %s: %w", key, err)
	}
	return info, nil
}

// ObjectsList lists a project's objects by class then id (store.Objects).
func (s *Store) ObjectsList(ctx context.Context, p store.ObjectsListParams) ([]record.ObjectInfo, error) {
	defer s.op("ObjectsList", time.Now())
	pg := ObjectsPage{Project: p.Project, Class: p.Class, Limit: p.Limit}
	if pg.Limit <= 0 {
		pg.Limit = objectsDefaultLimit
	}
	if p.After != "" {
		// Ids hold no '/', classes may: the cursor splits at the last.
		i := strings.LastIndexByte(p.After, '/')
		if i < 0 {
			return nil, fmt.Errorf("list objects of project %s: cursor %q is not class/id", p.Project, p.After)
		}
		pg.AfterClass, pg.AfterID = p.After[:i], p.After[i+1:]
	}
	infos, err := s.d.Read().ObjectsList(ctx, pg)
	if err != nil {
		return nil, fmt.Errorf("list objects of project %s: %w", p.Project, err)
	}
	return infos, nil
}

// ObjectDelete removes an object's entries, alarm and info, and fences any
// live instance by bumping its lease token, in one transaction
// (store.Objects). The lease row stays, so later tokens stay higher.
func (s *Store) ObjectDelete(ctx context.Context, key record.ObjectKey) (bool, error) {
	defer s.op("ObjectDelete", time.Now())
	if err := checkObjectKey(key); err != nil {
		return false, err
	}
	now := s.nowUTC()
	var existed bool
	err := s.d.InTx(ctx, func(q Queries) (err error) {
		if err := q.ObjectLeaseBump(ctx, key, now); err != nil {
			return err
		}
		existed, err = q.ObjectDeleteData(ctx, key)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("delete object %s: %w", key, err)
	}
	return existed, nil
}

// ObjectAlarmsDue returns due alarms, earliest first (store.Objects).
func (s *Store) ObjectAlarmsDue(ctx context.Context, now time.Time, limit int) ([]record.ObjectAlarm, error) {
	defer s.op("ObjectAlarmsDue", time.Now())
	if limit <= 0 {
		return nil, nil
	}
	as, err := s.d.Read().ObjectAlarmsDue(ctx, now.UTC(), limit)
	if err != nil {
		return nil, fmt.Errorf("list due object alarms: %w", err)
	}
	return as, nil
}

// ObjectAlarmDone removes the alarm that ran, if unchanged (store.Objects).
func (s *Store) ObjectAlarmDone(ctx context.Context, key record.ObjectKey, at time.Time) error {
	defer s.op("ObjectAlarmDone", time.Now())
	at = at.UTC().Truncate(time.Microsecond)
	if err := s.d.Write(ctx, func(q Queries) error { return q.ObjectAlarmDone(ctx, key, at) }); err != nil {
		return fmt.Errorf("finish alarm of object %s: %w", key, err)
	}
	return nil
}

// ObjectAlarmRetry records a failed run of the alarm, if unchanged
// (store.Objects).
func (s *Store) ObjectAlarmRetry(ctx context.Context, key record.ObjectKey, at time.Time, attempts int, next time.Time) error {
	defer s.op("ObjectAlarmRetry", time.Now())
	at = at.UTC().Truncate(time.Microsecond)
	next = next.UTC().Truncate(time.Microsecond)
	if err := s.d.Write(ctx, func(q Queries) error { return q.ObjectAlarmRetry(ctx, key, at, attempts, next) }); err != nil {
		return fmt.Errorf("retry alarm of object %s: %w", key, err)
	}
	return nil
}
