package sqlite

import (
	"context"
	"strings"
	"time"

	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store/sqlite/internal/sqlitedb"
	"github.com/stratahq/strata/internal/store/sqlstore"
)

// The events area of sqlstore.Queries: queues, topics, schedules and
// messages. Every write runs in a transaction on the single writer, so
// receive needs no row locks: nobody else writes between its statements.

func (q queries) QueuePut(ctx context.Context, project string, c record.QueueConfig) (bool, error) {
	n, err := q.Queries.QueuePut(ctx, sqlitedb.QueuePutParams{Name: c.Name, Project: project, Kind: c.Kind,
		VisibilityTimeoutNs: int64(c.VisibilityTimeout), MaxReceives: int64(c.MaxReceives), DeadLetter: c.DeadLetter,
		Fifo: boolInt(c.FIFO), Consumer: c.Consumer, BatchSize: int64(c.BatchSize), RetryBaseNs: int64(c.RetryBase)})
	return n > 0, err
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

func (q queries) QueueProject(ctx context.Context, name string) (string, error) {
	p, err := q.Queries.QueueProject(ctx, name)
	return p, notFound(err)
}

// QueueKeep needs no lock: the single writer serialises the transaction.
func (q queries) QueueKeep(ctx context.Context, name string) error {
	_, err := q.QueueProject(ctx, name)
	return err
}

func (q queries) QueueDeleteUnlisted(ctx context.Context, project string, keep []string) error {
	return q.Queries.QueueDeleteUnlisted(ctx, project, jsonList(keep))
}

func queueConfig(r sqlitedb.Queue) record.QueueConfig {
	return record.QueueConfig{Name: r.Name, Project: r.Project, Kind: r.Kind, VisibilityTimeout: time.Duration(r.VisibilityTimeoutNs),
		MaxReceives: int(r.MaxReceives), DeadLetter: r.DeadLetter, FIFO: r.Fifo != 0, Consumer: r.Consumer,
		BatchSize: int(r.BatchSize), RetryBase: time.Duration(r.RetryBaseNs)}
}

func (q queries) QueueGet(ctx context.Context, name string) (*record.QueueConfig, error) {
	r, err := q.Queries.QueueGet(ctx, name)
	return sqlstore.One(r, notFound(err), queueConfig)
}

func (q queries) QueueList(ctx context.Context) ([]record.QueueConfig, error) {
	rows, err := q.Queries.QueueList(ctx)
	return sqlstore.Rows(rows, queueConfig), err
}

func (q queries) QueueStats(ctx context.Context, queue string, now time.Time) (*record.QueueStats, error) {
	r, err := q.Queries.QueueStats(ctx, micros(now), queue)
	if err != nil {
		return nil, err
	}
	st := &record.QueueStats{Visible: r.Visible, InFlight: r.InFlight, Delayed: r.Delayed}
	if us, ok := r.OldestSent.(int64); ok {
		st.OldestSent = fromMicros(us)
	}
	return st, nil
}

func (q queries) QueueNextVisible(ctx context.Context, queue string, fifo bool) (time.Time, error) {
	get := q.Queries.QueueNextVisible
	if fifo {
		get = q.Queries.QueueNextVisibleFIFO
	}
	next, err := get(ctx, queue)
	if us, ok := next.(int64); ok && err == nil {
		return fromMicros(us), nil
	}
	return time.Time{}, err
}

func (q queries) TopicPut(ctx context.Context, name, project string) (bool, error) {
	n, err := q.Queries.TopicPut(ctx, name, project)
	return n > 0, err
}

func (q queries) TopicProject(ctx context.Context, name string) (string, error) {
	p, err := q.Queries.TopicProject(ctx, name)
	return p, notFound(err)
}

func (q queries) TopicKeep(ctx context.Context, name string) error {
	_, err := q.TopicProject(ctx, name)
	return err
}

func (q queries) TopicSubscribe(ctx context.Context, topic string, queues []string) error {
	if err := q.Queries.TopicUnsubscribe(ctx, topic); err != nil {
		return err
	}
	for _, queue := range queues {
		if err := q.Queries.TopicSubscribe(ctx, topic, queue); err != nil {
			return err
		}
	}
	return nil
}

func (q queries) TopicDeleteUnlisted(ctx context.Context, project string, keep []string) error {
	return q.Queries.TopicDeleteUnlisted(ctx, project, jsonList(keep))
}

func (q queries) TopicRows(ctx context.Context, only string) ([]sqlstore.TopicRow, error) {
	rows, err := q.Queries.TopicRows(ctx, only)
	return sqlstore.Rows(rows, func(r sqlitedb.TopicRowsRow) sqlstore.TopicRow {
		return sqlstore.TopicRow{Topic: r.Name, Project: r.Project, Queue: r.Queue}
	}), err
}

func schedule(r sqlitedb.Schedule) record.Schedule {
	return record.Schedule{Name: r.Name, Project: r.Project, Function: r.Function, Spec: r.Spec, Timezone: r.Timezone,
		NextFire: fromMicros(r.NextFire)}
}

func (q queries) ScheduleGet(ctx context.Context, name string) (*record.Schedule, error) {
	r, err := q.Queries.ScheduleGet(ctx, name)
	return sqlstore.One(r, notFound(err), schedule)
}

func (q queries) ScheduleInsert(ctx context.Context, sc record.Schedule) error {
	return q.Queries.ScheduleInsert(ctx, sqlitedb.ScheduleInsertParams{Name: sc.Name, Project: sc.Project, Function: sc.Function,
		Spec: sc.Spec, Timezone: sc.Timezone, NextFire: micros(sc.NextFire)})
}

func (q queries) ScheduleSetFunction(ctx context.Context, name, function string) error {
	return q.Queries.ScheduleSetFunction(ctx, function, name)
}

func (q queries) ScheduleUpdate(ctx context.Context, sc record.Schedule) error {
	return q.Queries.ScheduleUpdate(ctx, sqlitedb.ScheduleUpdateParams{Function: sc.Function, Spec: sc.Spec, Timezone: sc.Timezone,
		NextFire: micros(sc.NextFire), Name: sc.Name})
}

func (q queries) ScheduleDeleteUnlisted(ctx context.Context, project string, keep []string) error {
	return q.Queries.ScheduleDeleteUnlisted(ctx, project, jsonList(keep))
}

func (q queries) ScheduleList(ctx context.Context) ([]record.Schedule, error) {
	rows, err := q.Queries.ScheduleList(ctx)
	return sqlstore.Rows(rows, schedule), err
}

func (q queries) ScheduleAdvance(ctx context.Context, name string, expected, next time.Time) (bool, error) {
	n, err := q.Queries.ScheduleAdvance(ctx, micros(next), name, micros(expected))
	return n > 0, err
}

// sendCols is the number of bound values per row of a multi-row send.
const sendCols = 7

// MessageInsert runs one multi-row INSERT per chunk, written by hand (a
// VALUES list of run-time length, as UsageInsert). With one writer the rows
// of one INSERT get consecutive IDs ending at last_insert_rowid, in VALUES
// order.
func (q queries) MessageInsert(ctx context.Context, sentAt time.Time, msgs []sqlstore.NewMessage) ([]int64, error) {
	ids := make([]int64, 0, len(msgs))
	for start := 0; start < len(msgs); start += insertChunk {
		chunk := msgs[start:min(start+insertChunk, len(msgs))]
		var b strings.Builder
		b.WriteString(`INSERT INTO messages (queue, body, attributes, group_id, dedup_id, sent_at, visible_at,
			receive_count, receipt, last_error) VALUES `)
		args := make([]any, 0, len(chunk)*sendCols)
		for i, m := range chunk {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString("(?, ?, ?, ?, ?, ?, ?, 0, '', '')")
			args = append(args, m.Queue, m.Body, m.Attributes, m.GroupID, m.DedupID, micros(sentAt), micros(m.VisibleAt))
		}
		r, err := q.db.ExecContext(ctx, b.String(), args...)
		if err != nil {
			return nil, err
		}
		last, err := r.LastInsertId()
		if err != nil {
			return nil, err
		}
		for i := range chunk {
			ids = append(ids, last-int64(len(chunk))+1+int64(i))
		}
	}
	return ids, nil
}

func (q queries) DedupPrune(ctx context.Context, cutoff time.Time) error {
	return q.Queries.DedupPrune(ctx, micros(cutoff))
}

// DedupClaim runs one statement a key: in-process, so no round trips to
// save. cutoff is not needed: the prune before it, in the same transaction,
// left only ids within the window.
func (q queries) DedupClaim(ctx context.Context, keys []sqlstore.DedupKey, at, _ time.Time) ([]bool, error) {
	claimed := make([]bool, len(keys))
	for i, k := range keys {
		n, err := q.Queries.DedupClaim(ctx, k.Queue, k.DedupID, micros(at))
		if err != nil {
			return nil, err
		}
		claimed[i] = n > 0
	}
	return claimed, nil
}

func (q queries) DedupLookup(ctx context.Context, keys []sqlstore.DedupKey) ([]int64, error) {
	ids := make([]int64, len(keys))
	for i, k := range keys {
		id, err := q.Queries.DedupLookup(ctx, k.Queue, k.DedupID)
		if err != nil {
			return nil, err
		}
		ids[i] = id
	}
	return ids, nil
}

func (q queries) DedupSetMessage(ctx context.Context, keys []sqlstore.DedupKey) error {
	for _, k := range keys {
		if err := q.Queries.DedupSetMessage(ctx, k.MessageID, k.Queue, k.DedupID); err != nil {
			return err
		}
	}
	return nil
}

func message(r sqlitedb.Message) (record.Message, error) {
	m := record.Message{ID: r.ID, Queue: r.Queue, Body: r.Body, GroupID: r.GroupID, DedupID: r.DedupID,
		SentAt: fromMicros(r.SentAt), VisibleAt: fromMicros(r.VisibleAt), ReceiveCount: int(r.ReceiveCount),
		Receipt: r.Receipt, LastError: r.LastError}
	err := sqlstore.DecodeMessage(&m, r.Attributes) // before m is read: a return list's order is unspecified
	return m, err
}

// MessageReceive runs in the caller's transaction: the acks, then the
// exhausted messages leave, then the claim, a partial index (messages_received) making the
// first free while none waits.
func (q queries) MessageReceive(ctx context.Context, c sqlstore.MessageClaim) ([]record.Message, error) {
	now := micros(c.Now)
	if len(c.AckIDs) > 0 {
		if _, err := q.MessageAck(ctx, c.Queue, c.AckIDs, c.AckReceipts); err != nil {
			return nil, err
		}
	}
	if c.MaxReceives > 0 {
		if err := q.exhausted(ctx, c.Queue, c.DeadLetter, c.MaxReceives, now); err != nil {
			return nil, err
		}
	}
	var rows []sqlitedb.Message
	var err error
	if c.FIFO {
		rows, err = q.Queries.MessageClaimFIFO(ctx, sqlitedb.MessageClaimFIFOParams{Token: c.Token, Until: micros(c.Until),
			Queue: c.Queue, Now: now, Max: int64(c.Max)})
	} else {
		rows, err = q.Queries.MessageClaim(ctx, sqlitedb.MessageClaimParams{Token: c.Token, Until: micros(c.Until),
			Queue: c.Queue, Now: now, Max: int64(c.Max)})
	}
	if err != nil {
		return nil, err
	}
	return sqlstore.RowsErr(rows, message)
}

func (q queries) exhausted(ctx context.Context, queue, deadLetter string, maxReceives int, now int64) error {
	if deadLetter == "" {
		return q.Queries.MessageDeleteExhausted(ctx, queue, now, int64(maxReceives))
	}
	return q.Queries.MessageDeadLetterExhausted(ctx, deadLetter, now, queue, int64(maxReceives))
}

// MessageAck is written by hand: a VALUES list of run-time length. It looks
// the rows up by ID; "(id, receipt) IN (VALUES ...)" would have SQLite scan
// the whole queue.
func (q queries) MessageAck(ctx context.Context, queue string, ids []int64, receipts []string) (int64, error) {
	args := make([]any, 0, 1+2*len(ids))
	for i := range ids {
		args = append(args, ids[i], receipts[i])
	}
	res, err := q.db.ExecContext(ctx, `WITH a (id, receipt) AS (VALUES `+placeholders(len(ids), 2)+`)
		DELETE FROM messages WHERE id IN
		(SELECT m.id FROM a JOIN messages m ON m.id = a.id WHERE m.receipt = a.receipt AND m.queue = ?)`,
		append(args, queue)...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// MessageFail is written by hand for the fails: a VALUES list of run-time
// length, read by two statements.
func (q queries) MessageFail(ctx context.Context, f sqlstore.MessageFailBatch) error {
	now := micros(f.Now)
	for _, r := range f.Returns {
		if err := q.Queries.MessageReturn(ctx, now+r.Delay.Microseconds(), r.ID, r.Receipt, f.Queue); err != nil {
			return err
		}
	}
	if len(f.Fails) == 0 {
		return nil
	}
	args := make([]any, 0, 4*len(f.Fails)+4)
	for _, x := range f.Fails {
		args = append(args, x.ID, x.Receipt, x.Delay.Microseconds(), x.Error)
	}
	with := `WITH f (id, receipt, delay_us, err) AS (VALUES ` + placeholders(len(f.Fails), 4) + `) `
	if f.MaxReceives > 0 {
		// Exhausted ones first; they leave with their receipt cleared,
		// so the retry below no longer matches them.
		var stmt string
		var extra []any
		if f.DeadLetter == "" {
			stmt = with + `DELETE FROM messages WHERE id IN (SELECT m.id FROM f JOIN messages m ON m.id = f.id
				WHERE m.receipt = f.receipt AND m.queue = ? AND m.receive_count >= ?)`
			extra = []any{f.Queue, f.MaxReceives}
		} else {
			stmt = with + `UPDATE messages SET queue = ?, receive_count = 0, visible_at = ?, receipt = '', last_error = f.err,
				attributes = json_set(messages.attributes, '$.error', f.err,
					'$.attempts', CAST(messages.receive_count AS TEXT), '$.source_queue', messages.queue)
				FROM f WHERE messages.id = f.id AND messages.receipt = f.receipt
				AND messages.queue = ? AND messages.receive_count >= ?`
			extra = []any{f.DeadLetter, now, f.Queue, f.MaxReceives}
		}
		if _, err := q.db.ExecContext(ctx, stmt, append(args[:len(args):len(args)], extra...)...); err != nil {
			return err
		}
	}
	_, err := q.db.ExecContext(ctx, with+`UPDATE messages SET receipt = '', visible_at = ? + f.delay_us, last_error = f.err
		FROM f WHERE messages.id = f.id AND messages.receipt = f.receipt AND messages.queue = ?`,
		append(args, now, f.Queue)...)
	return err
}

func (q queries) MessagePeek(ctx context.Context, queue string, limit int) ([]record.Message, error) {
	rows, err := q.Queries.MessagePeek(ctx, queue, int64(limit))
	if err != nil {
		return nil, err
	}
	return sqlstore.RowsErr(rows, message)
}

func (q queries) MessageRedrive(ctx context.Context, from, to string, limit int, now time.Time) (int64, error) {
	lim := int64(limit)
	if limit == 0 {
		lim = -1 // SQLite: no limit
	}
	if to == "" {
		return q.Queries.MessageRedriveBack(ctx, micros(now), from, lim)
	}
	return q.Queries.MessageRedriveTo(ctx, to, micros(now), from, lim)
}
