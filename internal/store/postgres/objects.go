package postgres

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store"
	"github.com/stratahq/strata/internal/store/postgres/internal/pgdb"
	"github.com/stratahq/strata/internal/store/sqlstore"
)

// The objects area of sqlstore.Queries. Keys are bytea: a Go string key
// binds as its bytes, whatever they are.

func (q queries) ObjectLeaseAcquire(ctx context.Context, k record.ObjectKey, owner string, now, until time.Time) (int64, bool, error) {
	token, err := q.Queries.ObjectLeaseAcquire(ctx, pgdb.ObjectLeaseAcquireParams{Project: k.Project, Class: k.Class,
		ObjectID: k.ID, Owner: owner, Until: until, Now: now})
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return 0, false, nil // the WHERE refused: another owner's live lease
	case err != nil:
		return 0, false, err
	}
	return token, true, nil
}

func (q queries) ObjectLeaseGet(ctx context.Context, k record.ObjectKey) (store.ObjectLease, error) {
	r, err := q.Queries.ObjectLeaseGet(ctx, k.Project, k.Class, k.ID)
	if err != nil {
		return store.ObjectLease{}, notFound(err)
	}
	return store.ObjectLease{Owner: r.Owner, Token: r.Token, Expires: utc(r.ExpiresAt)}, nil
}

func (q queries) ObjectLeaseRenew(ctx context.Context, k record.ObjectKey, token int64, until time.Time) (bool, error) {
	n, err := q.Queries.ObjectLeaseRenew(ctx, pgdb.ObjectLeaseRenewParams{Until: until, Project: k.Project, Class: k.Class,
		ObjectID: k.ID, Token: token})
	return n > 0, err
}

func (q queries) ObjectLeaseRelease(ctx context.Context, k record.ObjectKey, token int64, now time.Time) error {
	return q.Queries.ObjectLeaseRelease(ctx, pgdb.ObjectLeaseReleaseParams{Now: now, Project: k.Project, Class: k.Class,
		ObjectID: k.ID, Token: token})
}

func (q queries) ObjectLeaseBump(ctx context.Context, k record.ObjectKey, now time.Time) error {
	return q.Queries.ObjectLeaseBump(ctx, now, k.Project, k.Class, k.ID)
}

// byteKeys is keys as bytea values.
func byteKeys(keys []string) [][]byte {
	out := make([][]byte, len(keys))
	for i, k := range keys {
		out[i] = []byte(k)
	}
	return out
}

func (q queries) ObjectGet(ctx context.Context, k record.ObjectKey, keys []string) ([]record.ObjectEntry, error) {
	rows, err := q.Queries.ObjectGet(ctx, k.Project, k.Class, k.ID, byteKeys(keys))
	return sqlstore.Rows(rows, func(r pgdb.ObjectGetRow) record.ObjectEntry {
		return record.ObjectEntry{Key: string(r.Key), Value: r.Value}
	}), err
}

// ObjectList takes the ascending or the descending statement: the order
// of an index scan cannot be a parameter.
func (q queries) ObjectList(ctx context.Context, r sqlstore.ObjectRange) ([]record.ObjectEntry, error) {
	lim := int32(math.MaxInt32)
	if r.Limit > 0 && r.Limit < math.MaxInt32 {
		lim = int32(r.Limit)
	}
	if r.Reverse {
		rows, err := q.Queries.ObjectListDesc(ctx, pgdb.ObjectListDescParams{Project: r.Key.Project, Class: r.Key.Class,
			ObjectID: r.Key.ID, FromKey: []byte(r.From), EndKey: []byte(r.End), Lim: lim})
		return sqlstore.Rows(rows, func(r pgdb.ObjectListDescRow) record.ObjectEntry {
			return record.ObjectEntry{Key: string(r.Key), Value: r.Value}
		}), err
	}
	rows, err := q.Queries.ObjectListAsc(ctx, pgdb.ObjectListAscParams{Project: r.Key.Project, Class: r.Key.Class,
		ObjectID: r.Key.ID, FromKey: []byte(r.From), EndKey: []byte(r.End), Lim: lim})
	return sqlstore.Rows(rows, func(r pgdb.ObjectListAscRow) record.ObjectEntry {
		return record.ObjectEntry{Key: string(r.Key), Value: r.Value}
	}), err
}

// objectFence is the ObjectFence statement's arguments for fences.
func objectFence(fences []sqlstore.ObjectFence, until time.Time) pgdb.ObjectFenceParams {
	p := pgdb.ObjectFenceParams{Until: until, Projects: make([]string, len(fences)), Classes: make([]string, len(fences)),
		ObjectIds: make([]string, len(fences)), Tokens: make([]int64, len(fences))}
	for i, f := range fences {
		p.Projects[i], p.Classes[i], p.ObjectIds[i], p.Tokens[i] = f.Key.Project, f.Key.Class, f.Key.ID, f.Token
	}
	return p
}

// fencesLive maps the objects the fence statement returned to live[i] of
// fences[i]. It needs each object named once (the statement returns the
// object, not the token that matched): fences naming an object with two
// tokens, a writer that re-acquired within one batch, take
// objectFenceEach instead.
func fencesLive(fences []sqlstore.ObjectFence, rows []pgdb.ObjectFenceRow) []bool {
	found := make(map[record.ObjectKey]bool, len(rows))
	for _, r := range rows {
		found[record.ObjectKey{Project: r.Project, Class: r.Class, ID: r.ObjectID}] = true
	}
	live := make([]bool, len(fences))
	for i, f := range fences {
		live[i] = found[f.Key]
	}
	return live
}

// ObjectFence runs one statement for every fence of the commit.
func (q queries) ObjectFence(ctx context.Context, fences []sqlstore.ObjectFence, until time.Time) ([]bool, error) {
	if hasTwoTokens(fences) {
		return q.objectFenceEach(ctx, fences, until)
	}
	rows, err := q.Queries.ObjectFence(ctx, objectFence(fences, until))
	if err != nil {
		return nil, err
	}
	return fencesLive(fences, rows), nil
}

// hasTwoTokens reports whether fences (sorted by key then token) name an
// object twice.
func hasTwoTokens(fences []sqlstore.ObjectFence) bool {
	for i := 1; i < len(fences); i++ {
		if fences[i].Key == fences[i-1].Key {
			return true
		}
	}
	return false
}

// objectFenceEach fences one object at a time, so that each token is
// judged alone.
func (q queries) objectFenceEach(ctx context.Context, fences []sqlstore.ObjectFence, until time.Time) ([]bool, error) {
	live := make([]bool, len(fences))
	for i := range fences {
		rows, err := q.Queries.ObjectFence(ctx, objectFence(fences[i:i+1], until))
		if err != nil {
			return nil, err
		}
		live[i] = len(rows) > 0
	}
	return live, nil
}

// ObjectApply queues every statement of applies in one batch: one round
// trip.
func (q queries) ObjectApply(ctx context.Context, applies []sqlstore.ObjectApply) error {
	b := &pgx.Batch{}
	queueApplies(ctx, pgdb.New(batchQueue{b: b}), applies)
	if b.Len() == 0 {
		return nil
	}
	return q.db.(interface {
		SendBatch(context.Context, *pgx.Batch) pgx.BatchResults
	}).SendBatch(ctx, b).Close()
}

// queueApplies queues the statements of applies on w, a batch, layer by
// layer: an object's first write is in the first layer, its second in the
// second, and so on, so a layer names each object at most once and the
// writes of one object still apply in order. A layer is at most five
// statements whatever its size (DeleteAll, deletes, puts, and the info
// rows' insert and update), each over arrays: a commit of one write per
// object, the engine's case, is one layer.
func queueApplies(ctx context.Context, w *pgdb.Queries, applies []sqlstore.ObjectApply) {
	for _, layer := range objectLayers(applies) {
		var all, dels, puts, info objectArrays
		var p pgdb.ObjectInfoUpdateManyParams
		for _, a := range layer {
			if a.DeleteAll {
				all.add(a.Key)
			}
			for _, k := range a.Deletes {
				dels.add(a.Key)
				dels.keys = append(dels.keys, []byte(k))
			}
			for _, e := range a.Puts {
				puts.add(a.Key)
				puts.keys = append(puts.keys, []byte(e.Key))
				puts.vals = append(puts.vals, e.Value)
			}
			info.add(a.Key)
			p.Names = append(p.Names, a.Name)
			p.Bytes = append(p.Bytes, a.Bytes)
			p.Keys = append(p.Keys, a.Keys)
			p.AlarmChange = append(p.AlarmChange, a.AlarmChange)
			p.AlarmSet = append(p.AlarmSet, !a.AlarmAt.IsZero())
			p.AlarmAt = append(p.AlarmAt, a.AlarmAt)
		}
		now := layer[0].Now
		if len(all.projects) > 0 {
			_ = w.ObjectDeleteAllMany(ctx, all.projects, all.classes, all.ids)
		}
		if len(dels.projects) > 0 {
			_ = w.ObjectDeleteKeysMany(ctx, dels.projects, dels.classes, dels.ids, dels.keys)
		}
		if len(puts.projects) > 0 {
			_ = w.ObjectPutMany(ctx, pgdb.ObjectPutManyParams{Projects: puts.projects, Classes: puts.classes,
				ObjectIds: puts.ids, Keys: puts.keys, Vals: puts.vals})
		}
		_ = w.ObjectInfoInsertMany(ctx, info.projects, info.classes, info.ids, now)
		p.Now, p.Projects, p.Classes, p.ObjectIds = now, info.projects, info.classes, info.ids
		_ = w.ObjectInfoUpdateMany(ctx, p)
	}
}

// objectArrays are the columns of one *Many statement.
type objectArrays struct {
	projects, classes, ids []string
	keys, vals             [][]byte
}

func (c *objectArrays) add(k record.ObjectKey) {
	c.projects = append(c.projects, k.Project)
	c.classes = append(c.classes, k.Class)
	c.ids = append(c.ids, k.ID)
}

// objectLayers splits applies into layers in which each object appears at
// most once, the nth write of an object going to the nth layer.
func objectLayers(applies []sqlstore.ObjectApply) [][]sqlstore.ObjectApply {
	var layers [][]sqlstore.ObjectApply
	seen := make(map[record.ObjectKey]int, len(applies))
	for _, a := range applies {
		n := seen[a.Key]
		seen[a.Key] = n + 1
		if n == len(layers) {
			layers = append(layers, make([]sqlstore.ObjectApply, 0, len(applies)))
		}
		layers[n] = append(layers[n], a)
	}
	return layers
}

// ObjectCommitPipelined is a commit in two round trips on one connection
// instead of five (BEGIN, fence, writes, COMMIT): BEGIN and the fence go in
// one pipeline, the writes of the live objects and COMMIT in a second. No
// statement of a commit can fail but for a real fault (a stale token
// matches no row), so an error rolls the whole commit back.
func (q queries) ObjectCommitPipelined(ctx context.Context, fences []sqlstore.ObjectFence, until time.Time, apply func(live []bool) []sqlstore.ObjectApply) error {
	if hasTwoTokens(fences) {
		return pgx.BeginFunc(ctx, q.s.pool, func(tx pgx.Tx) error {
			tq := queries{Queries: pgdb.New(tx), db: tx, s: q.s}
			live, err := tq.ObjectFence(ctx, fences, until)
			if err != nil {
				return err
			}
			return tq.ObjectApply(ctx, apply(live))
		})
	}
	c, err := q.s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	// A connection left in a transaction (a rollback that failed) is
	// closed by the pool, not reused.
	defer c.Release()
	conn := c.Conn()
	rollback := func(err error) error {
		if conn.PgConn().TxStatus() != 'I' {
			_, _ = conn.Exec(context.WithoutCancel(ctx), "ROLLBACK")
		}
		return err
	}

	b := &pgx.Batch{}
	b.Queue("BEGIN")
	var rows []pgdb.ObjectFenceRow
	capture := &queryCapture{}
	_, _ = pgdb.New(capture).ObjectFence(ctx, objectFence(fences, until))
	b.Queue(capture.sql, capture.args...).Query(func(rs pgx.Rows) (err error) {
		rows, err = pgx.CollectRows(rs, func(row pgx.CollectableRow) (pgdb.ObjectFenceRow, error) {
			var r pgdb.ObjectFenceRow
			return r, row.Scan(&r.Project, &r.Class, &r.ObjectID)
		})
		return err
	})
	if err := conn.SendBatch(ctx, b).Close(); err != nil {
		return rollback(fmt.Errorf("fence: %w", err))
	}

	wb := &pgx.Batch{}
	queueApplies(ctx, pgdb.New(batchQueue{b: wb}), apply(fencesLive(fences, rows)))
	wb.Queue("COMMIT")
	if err := conn.SendBatch(ctx, wb).Close(); err != nil {
		return rollback(err)
	}
	return nil
}

var _ sqlstore.ObjectPipeline = queries{}

// queryCapture is a pgdb.DBTX that runs nothing and keeps the text and
// arguments of the query it is handed, so that a generated :many query can
// be queued in a batch with its own row reader.
type queryCapture struct {
	batchQueue
	sql  string
	args []any
}

func (c *queryCapture) Query(_ context.Context, sql string, args ...any) (pgx.Rows, error) {
	c.sql, c.args = sql, args
	return nil, errQueued
}

func (q queries) ObjectInfo(ctx context.Context, k record.ObjectKey) (*record.ObjectInfo, error) {
	r, err := q.Queries.ObjectInfoGet(ctx, k.Project, k.Class, k.ID)
	return sqlstore.One(r, notFound(err), objectInfo)
}

func objectInfo(r pgdb.ObjectInfo) record.ObjectInfo {
	return record.ObjectInfo{Key: record.ObjectKey{Project: r.Project, Class: r.Class, ID: r.ObjectID}, Name: r.Name,
		Bytes: r.Bytes, Keys: r.Keys, AlarmAt: fromNullTime(r.AlarmAt), CreatedAt: utc(r.CreatedAt), UpdatedAt: utc(r.UpdatedAt)}
}

func (q queries) ObjectsList(ctx context.Context, p sqlstore.ObjectsPage) ([]record.ObjectInfo, error) {
	rows, err := q.Queries.ObjectsList(ctx, pgdb.ObjectsListParams{Project: p.Project, Class: p.Class,
		AfterClass: p.AfterClass, AfterID: p.AfterID, Lim: int32(min(p.Limit, math.MaxInt32))})
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
	rows, err := q.Queries.ObjectAlarmsDue(ctx, &now, int32(min(limit, math.MaxInt32)))
	return sqlstore.Rows(rows, func(r pgdb.ObjectAlarmsDueRow) record.ObjectAlarm {
		return record.ObjectAlarm{Key: record.ObjectKey{Project: r.Project, Class: r.Class, ID: r.ObjectID},
			At: fromNullTime(r.AlarmAt), Attempts: int(r.AlarmAttempts), NextAt: fromNullTime(r.AlarmNextAt)}
	}), err
}

func (q queries) ObjectAlarmDone(ctx context.Context, k record.ObjectKey, at time.Time) error {
	return q.Queries.ObjectAlarmDone(ctx, k.Project, k.Class, k.ID, &at)
}

func (q queries) ObjectAlarmRetry(ctx context.Context, k record.ObjectKey, at time.Time, attempts int, next time.Time) error {
	return q.Queries.ObjectAlarmRetry(ctx, pgdb.ObjectAlarmRetryParams{Attempts: int32(min(attempts, math.MaxInt32)),
		NextAt: &next, Project: k.Project, Class: k.Class, ObjectID: k.ID, At: &at})
}
