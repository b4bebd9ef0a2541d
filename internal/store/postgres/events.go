package postgres

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store/postgres/internal/pgdb"
	"github.com/stratahq/strata/internal/store/sqlstore"
)

// The events area of sqlstore.Queries: queues, topics, schedules and
// messages. Several nodes may receive from one queue at once: receivers
// claim rows with FOR UPDATE SKIP LOCKED, so no visible message is handed to
// two of them. Receive and fail are one pipelined batch each, which the
// server runs as one implicit transaction: one round trip, one commit.

func (q queries) QueuePut(ctx context.Context, project string, c record.QueueConfig) (bool, error) {
	n, err := q.Queries.QueuePut(ctx, pgdb.QueuePutParams{Name: c.Name, Project: project, Kind: c.Kind,
		VisibilityTimeoutNs: int64(c.VisibilityTimeout), MaxReceives: int32(c.MaxReceives), DeadLetter: c.DeadLetter,
		Fifo: c.FIFO, Consumer: c.Consumer, BatchSize: int32(c.BatchSize), RetryBaseNs: int64(c.RetryBase)})
	return n > 0, err
}

func (q queries) QueueProject(ctx context.Context, name string) (string, error) {
	p, err := q.Queries.QueueProject(ctx, name)
	return p, notFound(err)
}

// QueueKeep takes KEY SHARE on the row: a deploy cannot delete it meanwhile.
func (q queries) QueueKeep(ctx context.Context, name string) error {
	_, err := q.Queries.QueueKeep(ctx, name)
	return notFound(err)
}

func queueConfig(r pgdb.Queue) record.QueueConfig {
	return record.QueueConfig{Name: r.Name, Project: r.Project, Kind: r.Kind, VisibilityTimeout: time.Duration(r.VisibilityTimeoutNs),
		MaxReceives: int(r.MaxReceives), DeadLetter: r.DeadLetter, FIFO: r.Fifo, Consumer: r.Consumer,
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
	r, err := q.Queries.QueueStats(ctx, now, queue)
	if err != nil {
		return nil, err
	}
	st := &record.QueueStats{Visible: r.Visible, InFlight: r.InFlight, Delayed: r.Delayed}
	if t, ok := r.OldestSent.(time.Time); ok {
		st.OldestSent = utc(t)
	}
	return st, nil
}

func (q queries) QueueNextVisible(ctx context.Context, queue string, fifo bool) (time.Time, error) {
	get := q.Queries.QueueNextVisible
	if fifo {
		get = q.Queries.QueueNextVisibleFIFO
	}
	next, err := get(ctx, queue)
	if t, ok := next.(time.Time); ok && err == nil {
		return utc(t), nil
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
	_, err := q.Queries.TopicKeep(ctx, name)
	return notFound(err)
}

func (q queries) TopicSubscribe(ctx context.Context, topic string, queues []string) error {
	if err := q.Queries.TopicUnsubscribe(ctx, topic); err != nil {
		return err
	}
	if len(queues) == 0 {
		return nil
	}
	return q.Queries.TopicSubscribe(ctx, topic, queues)
}

func (q queries) TopicRows(ctx context.Context, only string) ([]sqlstore.TopicRow, error) {
	rows, err := q.Queries.TopicRows(ctx, only)
	return sqlstore.Rows(rows, func(r pgdb.TopicRowsRow) sqlstore.TopicRow {
		return sqlstore.TopicRow{Topic: r.Name, Project: r.Project, Queue: r.Queue}
	}), err
}

func schedule(r pgdb.Schedule) record.Schedule {
	return record.Schedule{Name: r.Name, Project: r.Project, Function: r.Function, Spec: r.Spec, Timezone: r.Timezone,
		NextFire: utc(r.NextFire)}
}

func (q queries) ScheduleGet(ctx context.Context, name string) (*record.Schedule, error) {
	r, err := q.Queries.ScheduleGet(ctx, name)
	return sqlstore.One(r, notFound(err), schedule)
}

func (q queries) ScheduleInsert(ctx context.Context, sc record.Schedule) error {
	return q.Queries.ScheduleInsert(ctx, pgdb.ScheduleInsertParams{Name: sc.Name, Project: sc.Project, Function: sc.Function,
		Spec: sc.Spec, Timezone: sc.Timezone, NextFire: sc.NextFire})
}

func (q queries) ScheduleSetFunction(ctx context.Context, name, function string) error {
	return q.Queries.ScheduleSetFunction(ctx, function, name)
}

func (q queries) ScheduleUpdate(ctx context.Context, sc record.Schedule) error {
	return q.Queries.ScheduleUpdate(ctx, pgdb.ScheduleUpdateParams{Function: sc.Function, Spec: sc.Spec, Timezone: sc.Timezone,
		NextFire: sc.NextFire, Name: sc.Name})
}

func (q queries) ScheduleList(ctx context.Context) ([]record.Schedule, error) {
	rows, err := q.Queries.ScheduleList(ctx)
	return sqlstore.Rows(rows, schedule), err
}

// ScheduleAdvance: a racing node's UPDATE waits for the row lock, then finds
// next_fire changed.
func (q queries) ScheduleAdvance(ctx context.Context, name string, expected, next time.Time) (bool, error) {
	n, err := q.Queries.ScheduleAdvance(ctx, next, name, expected)
	return n > 0, err
}

// MessageInsert sends the batch as column arrays: one statement and one
// round trip whatever its size.
func (q queries) MessageInsert(ctx context.Context, sentAt time.Time, msgs []sqlstore.NewMessage) ([]int64, error) {
	n := len(msgs)
	a := pgdb.MessageInsertParams{Queues: make([]string, n), Bodies: make([][]byte, n), Attributes: make([]string, n),
		GroupIds: make([]string, n), DedupIds: make([]string, n), SentAt: sentAt, VisibleAt: make([]time.Time, n)}
	for i, m := range msgs {
		a.Queues[i], a.Bodies[i], a.Attributes[i] = m.Queue, m.Body, m.Attributes
		a.GroupIds[i], a.DedupIds[i], a.VisibleAt[i] = m.GroupID, m.DedupID, m.VisibleAt
	}
	ids, err := q.Queries.MessageInsert(ctx, a)
	if err != nil {
		return nil, err
	}
	if len(ids) != n {
		return nil, fmt.Errorf("inserted %d messages, expected %d", len(ids), n)
	}
	// RETURNING follows no ORDER BY; the IDs were taken in batch order.
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids, nil
}

// dedupColumns splits keys into the arrays the dedup statements read.
func dedupColumns(keys []sqlstore.DedupKey) (queues, dedups []string, ids []int64) {
	queues, dedups, ids = make([]string, len(keys)), make([]string, len(keys)), make([]int64, len(keys))
	for i, k := range keys {
		queues[i], dedups[i], ids[i] = k.Queue, k.DedupID, k.MessageID
	}
	return queues, dedups, ids
}

func (q queries) DedupClaim(ctx context.Context, keys []sqlstore.DedupKey, at, cutoff time.Time) ([]bool, error) {
	queues, dedups, _ := dedupColumns(keys)
	rows, err := q.Queries.DedupClaim(ctx, queues, dedups, at, cutoff)
	if err != nil {
		return nil, err
	}
	got := make(map[sqlstore.DedupKey]bool, len(rows))
	for _, r := range rows {
		got[sqlstore.DedupKey{Queue: r.Queue, DedupID: r.DedupID}] = true
	}
	claimed := make([]bool, len(keys))
	for i, k := range keys {
		claimed[i] = got[k]
	}
	return claimed, nil
}

func (q queries) DedupLookup(ctx context.Context, keys []sqlstore.DedupKey) ([]int64, error) {
	queues, dedups, _ := dedupColumns(keys)
	rows, err := q.Queries.DedupLookup(ctx, queues, dedups)
	if err != nil {
		return nil, err
	}
	found := make(map[sqlstore.DedupKey]int64, len(rows))
	for _, r := range rows {
		found[sqlstore.DedupKey{Queue: r.Queue, DedupID: r.DedupID}] = r.MessageID
	}
	ids := make([]int64, len(keys))
	for i, k := range keys {
		ids[i] = found[k]
	}
	return ids, nil
}

func (q queries) DedupSetMessage(ctx context.Context, keys []sqlstore.DedupKey) error {
	if len(keys) == 0 {
		return nil
	}
	queues, dedups, ids := dedupColumns(keys)
	return q.Queries.DedupSetMessage(ctx, queues, dedups, ids)
}

// batcher is what both a pool and a transaction offer for pipelining.
type batcher interface {
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

const messageCols = `m.id, m.queue, m.body, m.attributes::text, m.group_id, m.dedup_id, m.sent_at, m.visible_at,
	m.receive_count, m.receipt, m.last_error`

// receiveSQL claims the oldest visible messages of a standard queue. The
// receive_count condition skips exhausted messages another node is moving
// to the dead-letter queue right now.
const receiveSQL = `UPDATE messages m SET receive_count = m.receive_count + 1, receipt = $1::text || m.id::text, visible_at = $2
	WHERE m.id IN (SELECT id FROM messages WHERE queue = $3 AND visible_at <= $4 AND ($6 = 0 OR receive_count < $6)
		ORDER BY visible_at, id LIMIT $5 FOR UPDATE SKIP LOCKED)
	RETURNING ` + messageCols

// receiveFIFOSQL claims, per group, the group's oldest message if it is
// visible. The oldest message of a group with a message in flight is the one
// in flight, so such groups yield nothing; and a head locked by another
// receiver is skipped without exposing the message behind it.
const receiveFIFOSQL = `UPDATE messages m SET receive_count = m.receive_count + 1, receipt = $1::text || m.id::text, visible_at = $2
	WHERE m.id IN (SELECT c.id FROM messages c WHERE c.queue = $3 AND c.visible_at <= $4 AND ($6 = 0 OR c.receive_count < $6)
		AND c.id = (SELECT min(g.id) FROM messages g WHERE g.queue = c.queue AND g.group_id = c.group_id)
		ORDER BY c.visible_at, c.id LIMIT $5 FOR UPDATE SKIP LOCKED)
	RETURNING ` + messageCols

// messageAckSQL is the generated MessageAck's statement, for the batch of a
// receive that carries acks.
const messageAckSQL = `DELETE FROM messages m
	USING unnest($1::bigint[], $2::text[]) AS a(id, receipt)
	WHERE m.id = a.id AND m.receipt = a.receipt AND m.queue = $3`

// MessageReceive is written by hand: a pgx.Batch of the acks, the exhausted
// messages' move and the claim, in one round trip and one implicit
// transaction (sqlc's :batch repeats one statement).
func (q queries) MessageReceive(ctx context.Context, c sqlstore.MessageClaim) ([]record.Message, error) {
	stmt := receiveSQL
	if c.FIFO {
		stmt = receiveFIFOSQL
	}
	b := &pgx.Batch{}
	if len(c.AckIDs) > 0 {
		b.Queue(messageAckSQL, c.AckIDs, c.AckReceipts, c.Queue)
	}
	if c.MaxReceives > 0 {
		const pick = ` WHERE id IN (SELECT id FROM messages WHERE queue = $1 AND receive_count > 0 AND visible_at <= $2
			AND receive_count >= $3 FOR UPDATE SKIP LOCKED)`
		if c.DeadLetter == "" {
			b.Queue(`DELETE FROM messages`+pick, c.Queue, c.Now, c.MaxReceives)
		} else {
			b.Queue(`UPDATE messages SET queue = $4, receive_count = 0, visible_at = $2, receipt = '',
				attributes = attributes || jsonb_build_object('error', last_error, 'attempts', receive_count::text, 'source_queue', queue)`+pick,
				c.Queue, c.Now, c.MaxReceives, c.DeadLetter)
		}
	}
	b.Queue(stmt, c.Token, c.Until, c.Queue, c.Now, c.Max, c.MaxReceives)
	br := q.db.(batcher).SendBatch(ctx, b)
	if len(c.AckIDs) > 0 {
		if _, err := br.Exec(); err != nil {
			br.Close()
			return nil, fmt.Errorf("ack %d messages: %w", len(c.AckIDs), err)
		}
	}
	if c.MaxReceives > 0 {
		if _, err := br.Exec(); err != nil {
			br.Close()
			return nil, fmt.Errorf("move exhausted messages to dead-letter queue %q: %w", c.DeadLetter, err)
		}
	}
	rows, err := br.Query()
	var out []record.Message
	if err == nil {
		out, err = scanMessages(rows)
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return out, err
}

func scanMessages(rows pgx.Rows) ([]record.Message, error) {
	var out []record.Message
	var m record.Message
	var attrs string
	_, err := pgx.ForEachRow(rows, []any{&m.ID, &m.Queue, &m.Body, &attrs, &m.GroupID, &m.DedupID, &m.SentAt, &m.VisibleAt,
		&m.ReceiveCount, &m.Receipt, &m.LastError}, func() error {
		msg := m
		msg.Body = append([]byte{}, m.Body...)
		if err := sqlstore.DecodeMessage(&msg, attrs); err != nil {
			return err
		}
		out = append(out, msg)
		return nil
	})
	return out, err
}

func (q queries) MessageAck(ctx context.Context, queue string, ids []int64, receipts []string) (int64, error) {
	return q.Queries.MessageAck(ctx, ids, receipts, queue)
}

// MessageFail is written by hand: a pgx.Batch of the returns, the
// exhausted messages' move and the retries, in one round trip.
func (q queries) MessageFail(ctx context.Context, f sqlstore.MessageFailBatch) error {
	b := &pgx.Batch{}
	for _, r := range f.Returns {
		b.Queue(`UPDATE messages SET receipt = '', visible_at = $1::timestamptz + $2 * interval '1 microsecond',
			receive_count = GREATEST(receive_count - 1, 0) WHERE id = $3 AND receipt = $4 AND queue = $5`,
			f.Now, r.Delay.Microseconds(), r.ID, r.Receipt, f.Queue)
	}
	if len(f.Fails) > 0 {
		n := len(f.Fails)
		ids, receipts, delays, errs := make([]int64, n), make([]string, n), make([]int64, n), make([]string, n)
		for i, x := range f.Fails {
			ids[i], receipts[i], delays[i], errs[i] = x.ID, x.Receipt, x.Delay.Microseconds(), x.Error
		}
		const from = ` FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::text[]) AS f(id, receipt, delay_us, err)
			WHERE m.id = f.id AND m.receipt = f.receipt AND m.queue = $5`
		if f.MaxReceives > 0 {
			// Exhausted ones first; they leave with their receipt
			// cleared, so the retry below no longer matches them.
			if f.DeadLetter == "" {
				b.Queue(`DELETE FROM messages m USING unnest($1::bigint[], $2::text[], $3::bigint[], $4::text[]) AS f(id, receipt, delay_us, err)
					WHERE m.id = f.id AND m.receipt = f.receipt AND m.queue = $5 AND m.receive_count >= $6`,
					ids, receipts, delays, errs, f.Queue, f.MaxReceives)
			} else {
				b.Queue(`UPDATE messages m SET queue = $7, receive_count = 0, visible_at = $8, receipt = '', last_error = f.err,
					attributes = m.attributes || jsonb_build_object('error', f.err, 'attempts', m.receive_count::text, 'source_queue', m.queue)`+
					from+` AND m.receive_count >= $6`,
					ids, receipts, delays, errs, f.Queue, f.MaxReceives, f.DeadLetter, f.Now)
			}
		}
		b.Queue(`UPDATE messages m SET receipt = '', visible_at = $6::timestamptz + f.delay_us * interval '1 microsecond', last_error = f.err`+from,
			ids, receipts, delays, errs, f.Queue, f.Now)
	}
	return q.db.(batcher).SendBatch(ctx, b).Close()
}

func (q queries) MessagePeek(ctx context.Context, queue string, limit int) ([]record.Message, error) {
	rows, err := q.Queries.MessagePeek(ctx, queue, int32(limit))
	if err != nil {
		return nil, err
	}
	return sqlstore.RowsErr(rows, func(r pgdb.MessagePeekRow) (record.Message, error) {
		m := record.Message{ID: r.ID, Queue: r.Queue, Body: r.Body, GroupID: r.GroupID, DedupID: r.DedupID,
			SentAt: r.SentAt, VisibleAt: r.VisibleAt, ReceiveCount: int(r.ReceiveCount), Receipt: r.Receipt, LastError: r.LastError}
		err := sqlstore.DecodeMessage(&m, r.Attributes) // before m is read: a return list's order is unspecified
		return m, err
	})
}

func (q queries) MessageRedrive(ctx context.Context, from, to string, limit int, now time.Time) (int64, error) {
	if to == "" {
		return q.Queries.MessageRedriveBack(ctx, now, from, int64(limit))
	}
	return q.Queries.MessageRedriveTo(ctx, to, now, from, int64(limit))
}
