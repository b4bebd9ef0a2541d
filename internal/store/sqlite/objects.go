package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store"
	"github.com/stratahq/strata/internal/store/sqlite/internal/sqlitedb"
	"github.com/stratahq/strata/internal/store/sqlstore"
)

// The objects area of sqlstore.Queries. Keys are BLOBs: a Go string key
// binds as []byte, so that every key compares with memcmp (a TEXT and a
// BLOB never compare equal). Writes run on the single writer, in process:
// one statement per step costs no round trip, and the commit's statements
// run prepared (flowStmts).

// byteKeys is keys as BLOB values.
func byteKeys(keys []string) [][]byte {
	out := make([][]byte, len(keys))
	for i, k := range keys {
		out[i] = []byte(k)
	}
	return out
}

// ObjectLeaseAcquire takes a lease it may take, else creates a missing
// one: two statements in the write's transaction, which nothing else can
// write between.
func (q queries) ObjectLeaseAcquire(ctx context.Context, k record.ObjectKey, owner string, now, until time.Time) (int64, bool, error) {
	token, err := q.Queries.ObjectLeaseTake(ctx, sqlitedb.ObjectLeaseTakeParams{Owner: owner, Until: micros(until),
		Project: k.Project, Class: k.Class, ObjectID: k.ID, Now: micros(now)})
	if err == nil {
		return token, true, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return 0, false, err
	}
	n, err := q.Queries.ObjectLeaseInsert(ctx, sqlitedb.ObjectLeaseInsertParams{Project: k.Project, Class: k.Class,
		ObjectID: k.ID, Owner: owner, ExpiresAt: micros(until)})
	return 1, n > 0, err
}

func (q queries) ObjectLeaseGet(ctx context.Context, k record.ObjectKey) (store.ObjectLease, error) {
	r, err := q.Queries.ObjectLeaseGet(ctx, k.Project, k.Class, k.ID)
	if err != nil {
		return store.ObjectLease{}, notFound(err)
	}
	return store.ObjectLease{Owner: r.Owner, Token: r.Token, Expires: fromMicros(r.ExpiresAt)}, nil
}

func (q queries) ObjectLeaseRenew(ctx context.Context, k record.ObjectKey, token int64, until time.Time) (bool, error) {
	n, err := q.flow().Queries.ObjectLeaseRenew(ctx, sqlitedb.ObjectLeaseRenewParams{Until: micros(until),
		Project: k.Project, Class: k.Class, ObjectID: k.ID, Token: token})
	return n > 0, err
}

func (q queries) ObjectLeaseRelease(ctx context.Context, k record.ObjectKey, token int64, now time.Time) error {
	return q.Queries.ObjectLeaseRelease(ctx, sqlitedb.ObjectLeaseReleaseParams{Now: micros(now), Project: k.Project,
		Class: k.Class, ObjectID: k.ID, Token: token})
}

func (q queries) ObjectLeaseBump(ctx context.Context, k record.ObjectKey, now time.Time) error {
	return q.Queries.ObjectLeaseBump(ctx, micros(now), k.Project, k.Class, k.ID)
}

func (q queries) ObjectGet(ctx context.Context, k record.ObjectKey, keys []string) ([]record.ObjectEntry, error) {
	var out []record.ObjectEntry
	// sqlc.slice binds one parameter per key: chunks stay under SQLite's
	// parameter limit.
	for start := 0; start < len(keys); start += insertChunk {
		rows, err := q.Queries.ObjectGet(ctx, k.Project, k.Class, k.ID, byteKeys(keys[start:min(start+insertChunk, len(keys))]))
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			out = append(out, record.ObjectEntry{Key: string(r.Key), Value: r.Value})
		}
	}
	if len(keys) > insertChunk {
		slices.SortFunc(out, func(a, b record.ObjectEntry) int { return strings.Compare(a.Key, b.Key) })
	}
	return out, nil
}

// ObjectList takes the ascending or the descending statement: the order
// of an index scan cannot be a parameter.
func (q queries) ObjectList(ctx context.Context, r sqlstore.ObjectRange) ([]record.ObjectEntry, error) {
	lim := int64(math.MaxInt64)
	if r.Limit > 0 {
		lim = int64(r.Limit)
	}
	if r.Reverse {
		rows, err := q.Queries.ObjectListDesc(ctx, sqlitedb.ObjectListDescParams{Project: r.Key.Project, Class: r.Key.Class,
			ObjectID: r.Key.ID, FromKey: []byte(r.From), EndKey: []byte(r.End), Lim: lim})
		return sqlstore.Rows(rows, func(r sqlitedb.ObjectListDescRow) record.ObjectEntry {
			return record.ObjectEntry{Key: string(r.Key), Value: r.Value}
		}), err
	}
	rows, err := q.Queries.ObjectListAsc(ctx, sqlitedb.ObjectListAscParams{Project: r.Key.Project, Class: r.Key.Class,
		ObjectID: r.Key.ID, FromKey: []byte(r.From), EndKey: []byte(r.End), Lim: lim})
	return sqlstore.Rows(rows, func(r sqlitedb.ObjectListAscRow) record.ObjectEntry {
		return record.ObjectEntry{Key: string(r.Key), Value: r.Value}
	}), err
}

// ObjectFence is one renewal per fence, prepared.
func (q queries) ObjectFence(ctx context.Context, fences []sqlstore.ObjectFence, until time.Time) ([]bool, error) {
	live := make([]bool, len(fences))
	for i, f := range fences {
		ok, err := q.ObjectLeaseRenew(ctx, f.Key, f.Token, until)
		if err != nil {
			return nil, err
		}
		live[i] = ok
	}
	return live, nil
}

// ObjectApply runs each write's statements, prepared but for the deletes
// of listed keys (their statement's text depends on how many).
func (q queries) ObjectApply(ctx context.Context, applies []sqlstore.ObjectApply) error {
	c := q.flow()
	for _, a := range applies {
		k := a.Key
		if a.DeleteAll {
			if _, err := c.Queries.ObjectDeleteAll(ctx, k.Project, k.Class, k.ID); err != nil {
				return err
			}
		}
		for start := 0; start < len(a.Deletes); start += insertChunk {
			if err := c.Queries.ObjectDeleteKeys(ctx, k.Project, k.Class, k.ID,
				byteKeys(a.Deletes[start:min(start+insertChunk, len(a.Deletes))])); err != nil {
				return err
			}
		}
		for _, e := range a.Puts {
			if err := c.Queries.ObjectPut(ctx, sqlitedb.ObjectPutParams{Project: k.Project, Class: k.Class, ObjectID: k.ID,
				Key: []byte(e.Key), Value: e.Value}); err != nil {
				return err
			}
		}
		var change int64
		if a.AlarmChange {
			change = 1
		}
		n, err := c.Queries.ObjectInfoUpdate(ctx, sqlitedb.ObjectInfoUpdateParams{Name: a.Name, Bytes: a.Bytes, Keys: a.Keys,
			Now: micros(a.Now), AlarmChange: change, AlarmAt: nullMicros(a.AlarmAt), Project: k.Project, Class: k.Class,
			ObjectID: k.ID})
		if err != nil {
			return err
		}
		if n == 0 {
			if err := c.Queries.ObjectInfoInsert(ctx, sqlitedb.ObjectInfoInsertParams{Project: k.Project, Class: k.Class,
				ObjectID: k.ID, Name: a.Name, Bytes: a.Bytes, Keys: a.Keys, AlarmAt: nullMicros(a.AlarmAt),
				Now: micros(a.Now)}); err != nil {
				return err
			}
		}
	}
	return nil
}

func (q queries) ObjectInfo(ctx context.Context, k record.ObjectKey) (*record.ObjectInfo, error) {
	r, err := q.Queries.ObjectInfoGet(ctx, k.Project, k.Class, k.ID)
	return sqlstore.One(r, notFound(err), objectInfo)
}

func objectInfo(r sqlitedb.ObjectInfo) record.ObjectInfo {
	return record.ObjectInfo{Key: record.ObjectKey{Project: r.Project, Class: r.Class, ID: r.ObjectID}, Name: r.Name,
		Bytes: r.Bytes, Keys: r.Keys, AlarmAt: fromNullMicros(r.AlarmAt), CreatedAt: fromMicros(r.CreatedAt),
		UpdatedAt: fromMicros(r.UpdatedAt)}
}

func (q queries) ObjectsList(ctx context.Context, p sqlstore.ObjectsPage) ([]record.ObjectInfo, error) {
	rows, err := q.Queries.ObjectsList(ctx, sqlitedb.ObjectsListParams{Project: p.Project, Class: p.Class,
		AfterClass: p.AfterClass, AfterID: p.AfterID, Lim: int64(p.Limit)})
	return sqlstore.Rows(rows, objectInfo), err
}

// ObjectDeleteData runs in the caller's transaction (ObjectDelete).
func (q queries) ObjectDeleteData(ctx context.Context, k record.ObjectKey) (bool, error) {
	n, err := q.Queries.ObjectDeleteAll(ctx, k.Project, k.Class, k.ID)
	if err != nil {
		return false, err
	}
	m, err := q.Queries.ObjectInfoDelete(ctx, k.Project, k.Class, k.ID)
	return n+m > 0, err
}

func (q queries) ObjectAlarmsDue(ctx context.Context, now time.Time, limit int) ([]record.ObjectAlarm, error) {
	rows, err := q.Queries.ObjectAlarmsDue(ctx, nullMicros(now), int64(limit))
	return sqlstore.Rows(rows, func(r sqlitedb.ObjectAlarmsDueRow) record.ObjectAlarm {
		return record.ObjectAlarm{Key: record.ObjectKey{Project: r.Project, Class: r.Class, ID: r.ObjectID},
			At: fromNullMicros(r.AlarmAt), Attempts: int(r.AlarmAttempts), NextAt: fromNullMicros(r.AlarmNextAt)}
	}), err
}

func (q queries) ObjectAlarmDone(ctx context.Context, k record.ObjectKey, at time.Time) error {
	return q.Queries.ObjectAlarmDone(ctx, k.Project, k.Class, k.ID, nullMicros(at))
}

func (q queries) ObjectAlarmRetry(ctx context.Context, k record.ObjectKey, at time.Time, attempts int, next time.Time) error {
	return q.Queries.ObjectAlarmRetry(ctx, sqlitedb.ObjectAlarmRetryParams{Attempts: int64(attempts), NextAt: nullMicros(next),
		Project: k.Project, Class: k.Class, ObjectID: k.ID, At: nullMicros(at)})
}
