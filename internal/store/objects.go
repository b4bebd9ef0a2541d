package store

import (
	"context"
	"errors"
	"time"

	"github.com/stratahq/strata/internal/record"
)

// ErrFenced: a commit or renewal carried a lease token that is no longer
// the object's (another owner took the object over). Nothing of that
// object's write was applied.
var ErrFenced = errors.New("object lease lost (fenced)")

// ErrLeaseHeld: another owner holds the object's lease and it has not
// expired. ObjectLeaseAcquire wraps it in a *LeaseHeldError naming the
// owner.
var ErrLeaseHeld = errors.New("object lease held by another owner")

// LeaseHeldError says who holds an object's lease and until when.
type LeaseHeldError struct {
	Owner   string
	Expires time.Time
}

func (e *LeaseHeldError) Error() string {
	return "object lease held by " + e.Owner + " until " + e.Expires.UTC().Format(time.RFC3339Nano)
}

// Is makes errors.Is(err, ErrLeaseHeld) hold.
func (e *LeaseHeldError) Is(target error) bool { return target == ErrLeaseHeld }

// ObjectLease is a lease on one object: while it is unexpired only Owner
// may commit the object's writes, and every commit names Token, so an
// owner whose lease was taken over (a higher token) can never commit.
type ObjectLease struct {
	Owner   string
	Token   int64
	Expires time.Time
}

// ObjectWrite is what one object event wrote, committed atomically: either
// all of it lands or none. Ops apply in this order: DeleteAll, Deletes,
// Puts, then the alarm change.
type ObjectWrite struct {
	Key   record.ObjectKey
	Token int64 // the lease token the writer holds; ErrFenced if it is no longer the object's
	// Name, when set, is recorded as the object's name (reached by name).
	Name      string
	DeleteAll bool
	Deletes   []string
	Puts      []record.ObjectEntry
	// Bytes and Keys are the object's storage after this write (the
	// writer tracks them; the store records them for listing and limits).
	Bytes, Keys int64
	// SetAlarm replaces the object's alarm (attempts reset to 0);
	// DeleteAlarm removes it. At most one is set.
	SetAlarm    time.Time
	DeleteAlarm bool
}

// ObjectListParams pages an object's storage in key order.
type ObjectListParams struct {
	Key     record.ObjectKey
	Prefix  string // keys starting with it
	Start   string // first key, inclusive ("" : from the first)
	End     string // key to stop before, exclusive ("" : to the last)
	Limit   int    // 0: no limit
	Reverse bool   // descending key order
}

// ObjectsListParams pages the objects of a project.
type ObjectsListParams struct {
	Project string
	Class   string // "" for every class
	After   string // "class/id" of the last object of the previous page
	Limit   int    // 0: 100
}

// Objects is the storage of durable objects: their entries, leases and
// alarms. Part of Store; both backends implement it and storetest
// specifies it. Every method is scoped by the project in its key.
type Objects interface {
	// ObjectLeaseAcquire gives owner the object's lease until now+ttl
	// with a token higher than any before: when the object has no lease,
	// when it expired, or when owner already holds it (a restart of the
	// same node takes its objects back at once, fencing its own previous
	// incarnation). Otherwise *LeaseHeldError.
	ObjectLeaseAcquire(ctx context.Context, key record.ObjectKey, owner string, ttl time.Duration) (ObjectLease, error)
	// ObjectLeaseRenew extends a held lease to now+ttl; ErrFenced when
	// token is no longer the object's.
	ObjectLeaseRenew(ctx context.Context, key record.ObjectKey, token int64, ttl time.Duration) error
	// ObjectLeaseRelease ends a held lease (expires it now); a token that
	// is no longer the object's is not an error.
	ObjectLeaseRelease(ctx context.Context, key record.ObjectKey, token int64) error

	// ObjectGet returns the entries of the keys that exist, in key order.
	ObjectGet(ctx context.Context, key record.ObjectKey, keys []string) ([]record.ObjectEntry, error)
	// ObjectList returns entries in key order (reversed with Reverse).
	ObjectList(ctx context.Context, p ObjectListParams) ([]record.ObjectEntry, error)
	// ObjectCommit applies writes in one transaction, in order. Each
	// write's lease token is checked in that transaction (and the lease
	// renewed to now+leaseTTL); a write whose token is stale is skipped
	// and its entry in errs is ErrFenced, the others apply. err is a
	// failure of the whole commit (nothing applied).
	ObjectCommit(ctx context.Context, writes []ObjectWrite, leaseTTL time.Duration) (errs []error, err error)

	// ObjectInfo returns what the store knows of an object; an object
	// never written is ErrNotFound.
	ObjectInfo(ctx context.Context, key record.ObjectKey) (*record.ObjectInfo, error)
	// ObjectsList lists a project's objects by class then id.
	ObjectsList(ctx context.Context, p ObjectsListParams) ([]record.ObjectInfo, error)
	// ObjectDelete removes an object's entries, alarm and info (admin),
	// and reports whether it existed. It bumps the lease token, so a live
	// instance of it can no longer commit.
	ObjectDelete(ctx context.Context, key record.ObjectKey) (bool, error)

	// ObjectAlarmsDue returns up to limit alarms whose NextAt is at or
	// before now, earliest first, across every project.
	ObjectAlarmsDue(ctx context.Context, now time.Time, limit int) ([]record.ObjectAlarm, error)
	// ObjectAlarmDone removes the alarm after a successful run, if it is
	// still the one that ran (its At unchanged): an alarm the handler set
	// again stays.
	ObjectAlarmDone(ctx context.Context, key record.ObjectKey, at time.Time) error
	// ObjectAlarmRetry records a failed run of the alarm due at at: its
	// attempts become attempts and it runs next at next. An alarm that
	// changed meanwhile is left alone.
	ObjectAlarmRetry(ctx context.Context, key record.ObjectKey, at time.Time, attempts int, next time.Time) error
}
