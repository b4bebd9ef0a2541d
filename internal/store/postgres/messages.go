package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store"
)

// Messages live in one table; a queue is a column. Several nodes may receive
// from one queue at once: receivers claim rows with FOR UPDATE SKIP LOCKED,
// so no visible message is handed to two of them. Each operation is one
// statement, or one pipelined batch that the server runs as one implicit
// transaction, so a batch of messages costs one commit.

// querier is what both a pool and a transaction offer.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

const messageCols = `m.id, m.queue, m.body, m.attributes::text, m.group_id, m.dedup_id, m.sent_at, m.visible_at,
	m.receive_count, m.receipt, m.last_error`

// nowUS is the store's clock at the microsecond precision it stores.
func (s *Store) nowUS() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// MessageSend stores msgs in one statement (one transaction when dedup ids
// are involved).
func (s *Store) MessageSend(ctx context.Context, msgs []store.MessageSendParams) ([]store.MessageSendResult, error) {
	for _, m := range msgs {
		if err := m.Validate(); err != nil {
			return nil, err
		}
	}
	if len(msgs) == 0 {
		return nil, nil
	}
	res, err := s.send(ctx, s.pool, s.nowUS(), msgs)
	if err != nil {
		return nil, fmt.Errorf("send %d messages to queue %s: %w", len(msgs), msgs[0].Queue, err)
	}
	return res, nil
}

// send stores msgs through q (the pool, or a transaction of the caller).
func (s *Store) send(ctx context.Context, q querier, now time.Time, msgs []store.MessageSendParams) ([]store.MessageSendResult, error) {
	res := make([]store.MessageSendResult, len(msgs))
	dedup := false
	for _, m := range msgs {
		dedup = dedup || m.DedupID != ""
	}
	var err error
	switch {
	case !dedup:
		err = insertMessages(ctx, q, now, msgs, nil, res)
	case isTx(q):
		err = sendDedup(ctx, q.(pgx.Tx), now, msgs, res)
	default:
		err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error { return sendDedup(ctx, tx, now, msgs, res) })
	}
	if isForeignKey(err) {
		return nil, s.missingQueue(ctx, msgs)
	}
	if err != nil {
		return nil, err
	}
	return res, nil
}

func isTx(q querier) bool {
	_, ok := q.(pgx.Tx)
	return ok
}

// insertMessages inserts msgs with one INSERT ... SELECT FROM unnest, in
// order, so IDs (from the sequence, or ids when given) increase along msgs.
func insertMessages(ctx context.Context, q querier, now time.Time, msgs []store.MessageSendParams, ids []int64, res []store.MessageSendResult) error {
	n := len(msgs)
	queues, bodies, attrs := make([]string, n), make([][]byte, n), make([]string, n)
	groups, dedups, visible := make([]string, n), make([]string, n), make([]time.Time, n)
	for i, m := range msgs {
		a, err := encodeAttrs(m.Attributes)
		if err != nil {
			return err
		}
		body := m.Body
		if body == nil {
			body = []byte{}
		}
		queues[i], bodies[i], attrs[i] = m.Queue, body, a
		groups[i], dedups[i], visible[i] = cleanText(m.GroupID), cleanText(m.DedupID), now.Add(m.Delay).Truncate(time.Microsecond)
	}
	idExpr := `nextval('messages_id_seq')`
	args := []any{queues, bodies, attrs, groups, dedups, visible, now}
	if ids != nil {
		idExpr = `u.id`
		args = append(args, ids)
	} else {
		args = append(args, make([]int64, n)) // unused; keeps one statement text
	}
	// nextval in the select list is evaluated after ORDER BY, row by row,
	// so IDs follow the batch order.
	rows, err := q.Query(ctx, `INSERT INTO messages (id, queue, body, attributes, group_id, dedup_id, sent_at, visible_at,
			receive_count, receipt, last_error)
		SELECT `+idExpr+`, u.queue, u.body, u.attrs::jsonb, u.grp, u.dedup, $7, u.visible, 0, '', ''
		FROM unnest($1::text[], $2::bytea[], $3::text[], $4::text[], $5::text[], $6::timestamptz[], $8::bigint[])
			WITH ORDINALITY AS u(queue, body, attrs, grp, dedup, visible, id, ord)
		ORDER BY u.ord
		RETURNING id`, args...)
	if err != nil {
		return err
	}
	got, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return err
	}
	if len(got) != n {
		return fmt.Errorf("inserted %d messages, expected %d", len(got), n)
	}
	sort.Slice(got, func(i, j int) bool { return got[i] < got[j] })
	for i := range res {
		res[i] = store.MessageSendResult{ID: got[i]}
	}
	return nil
}

// sendDedup sends msgs in tx, skipping those whose dedup id was used for the
// same queue within store.DedupWindow (or earlier in msgs). The id is
// claimed with an upsert on (queue, dedup_id), so two nodes sending the same
// id at once store it once: the second waits for the first's row lock.
func sendDedup(ctx context.Context, tx pgx.Tx, now time.Time, msgs []store.MessageSendParams, res []store.MessageSendResult) error {
	cutoff := now.Add(-store.DedupWindow)
	if _, err := tx.Exec(ctx, `DELETE FROM message_dedup WHERE sent_at <= $1`, cutoff); err != nil {
		return fmt.Errorf("prune dedup ids: %w", err)
	}
	// IDs for every message, in batch order, so that those stored keep
	// their order whatever their dedup ids.
	rows, err := tx.Query(ctx, `SELECT nextval('messages_id_seq') FROM generate_series(1, $1)`, len(msgs))
	if err != nil {
		return err
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return fmt.Errorf("allocate message ids: %w", err)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })

	type key struct{ queue, dedup string }
	first := map[key]int{} // first message in msgs with the key
	var claimQ, claimD []string
	var claimID []int64
	for i, m := range msgs {
		if m.DedupID == "" {
			continue
		}
		k := key{m.Queue, cleanText(m.DedupID)}
		if _, ok := first[k]; ok {
			continue
		}
		first[k] = i
		claimQ, claimD, claimID = append(claimQ, k.queue), append(claimD, k.dedup), append(claimID, ids[i])
	}
	// Claim in key order, so concurrent senders lock rows in one order.
	order := make([]int, len(claimQ))
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(a, b int) bool {
		if claimQ[order[a]] != claimQ[order[b]] {
			return claimQ[order[a]] < claimQ[order[b]]
		}
		return claimD[order[a]] < claimD[order[b]]
	})
	q2, d2, id2 := make([]string, len(order)), make([]string, len(order)), make([]int64, len(order))
	for i, o := range order {
		q2[i], d2[i], id2[i] = claimQ[o], claimD[o], claimID[o]
	}
	rows, err = tx.Query(ctx, `INSERT INTO message_dedup (queue, dedup_id, message_id, sent_at)
		SELECT u.queue, u.dedup, u.id, $4 FROM unnest($1::text[], $2::text[], $3::bigint[]) AS u(queue, dedup, id)
		ON CONFLICT (queue, dedup_id) DO UPDATE SET message_id = excluded.message_id, sent_at = excluded.sent_at
			WHERE message_dedup.sent_at <= $5
		RETURNING queue, dedup_id`, q2, d2, id2, now, cutoff)
	if err != nil {
		return fmt.Errorf("claim dedup ids: %w", err)
	}
	claimed := map[key]bool{}
	var k key
	if _, err := pgx.ForEachRow(rows, []any{&k.queue, &k.dedup}, func() error { claimed[k] = true; return nil }); err != nil {
		return fmt.Errorf("claim dedup ids: %w", err)
	}
	// The ids not claimed belong to messages sent earlier: report theirs.
	existing := map[key]int64{}
	if len(claimed) < len(q2) {
		rows, err = tx.Query(ctx, `SELECT d.queue, d.dedup_id, d.message_id FROM message_dedup d
			JOIN unnest($1::text[], $2::text[]) AS u(queue, dedup) ON d.queue = u.queue AND d.dedup_id = u.dedup`, q2, d2)
		if err != nil {
			return fmt.Errorf("look up dedup ids: %w", err)
		}
		var id int64
		if _, err := pgx.ForEachRow(rows, []any{&k.queue, &k.dedup, &id}, func() error { existing[k] = id; return nil }); err != nil {
			return fmt.Errorf("look up dedup ids: %w", err)
		}
	}

	var keep []store.MessageSendParams
	var keepIDs []int64
	var keepAt []int
	for i, m := range msgs {
		if m.DedupID != "" {
			k := key{m.Queue, cleanText(m.DedupID)}
			j := first[k]
			if !claimed[k] {
				res[i] = store.MessageSendResult{ID: existing[k], Duplicate: true}
				continue
			}
			if j != i {
				res[i] = store.MessageSendResult{ID: ids[j], Duplicate: true}
				continue
			}
		}
		keep, keepIDs, keepAt = append(keep, m), append(keepIDs, ids[i]), append(keepAt, i)
	}
	if len(keep) == 0 {
		return nil
	}
	kres := make([]store.MessageSendResult, len(keep))
	if err := insertMessages(ctx, tx, now, keep, keepIDs, kres); err != nil {
		return err
	}
	for i, at := range keepAt {
		res[at] = kres[i]
	}
	return nil
}

// missingQueue names the first queue of msgs that does not exist, after a
// foreign key violation.
func (s *Store) missingQueue(ctx context.Context, msgs []store.MessageSendParams) error {
	for _, m := range msgs {
		var one int
		err := s.pool.QueryRow(ctx, `SELECT 1 FROM queues WHERE name = $1`, m.Queue).Scan(&one)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("queue %s: %w", m.Queue, store.ErrNotFound)
		}
		if err != nil {
			return err
		}
	}
	return errors.New("foreign key violation, yet every queue exists (removed and added again meanwhile?)")
}

// TopicPublish sends one copy of msg to every queue subscribed to topic, in
// one transaction.
func (s *Store) TopicPublish(ctx context.Context, topic string, msg store.MessageSendParams) (int, error) {
	n := 0
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// KEY SHARE on the topic: a deploy cannot remove it under us.
		var one int
		err := tx.QueryRow(ctx, `SELECT 1 FROM topics WHERE name = $1 FOR KEY SHARE`, topic).Scan(&one)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("topic %s: %w", topic, store.ErrNotFound)
		}
		if err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT queue FROM topic_subscriptions WHERE topic = $1 ORDER BY queue COLLATE "C"`, topic)
		if err != nil {
			return err
		}
		queues, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		if len(queues) == 0 {
			return nil
		}
		msgs := make([]store.MessageSendParams, len(queues))
		for i, q := range queues {
			msgs[i] = msg
			msgs[i].Queue = q
		}
		if err := msgs[0].Validate(); err != nil {
			return err
		}
		res, err := s.send(ctx, tx, s.nowUS(), msgs)
		if err != nil {
			return err
		}
		for _, r := range res {
			if !r.Duplicate {
				n++
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("publish to topic %s: %w", topic, err)
	}
	return n, nil
}

// queueState is what receive and fail need of a queue's configuration.
type queueState struct {
	visibility  time.Duration
	maxReceives int
	deadLetter  string
	fifo        bool
}

func (s *Store) queueState(ctx context.Context, name string) (*queueState, error) {
	var q queueState
	var vis int64
	err := s.pool.QueryRow(ctx, `SELECT visibility_timeout_ns, max_receives, dead_letter, fifo FROM queues WHERE name = $1`, name).
		Scan(&vis, &q.maxReceives, &q.deadLetter, &q.fifo)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("queue %s: %w", name, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("look up queue %s: %w", name, err)
	}
	q.visibility = time.Duration(vis)
	if q.visibility <= 0 {
		q.visibility = record.DefaultVisibilityTimeout
	}
	return &q, nil
}

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

// MessageReceive claims up to p.Max visible messages.
func (s *Store) MessageReceive(ctx context.Context, p store.MessageReceiveParams) ([]record.Message, error) {
	if p.Max <= 0 {
		return nil, nil
	}
	q, err := s.queueState(ctx, p.Queue)
	if err != nil {
		return nil, fmt.Errorf("receive from queue %s: %w", p.Queue, err)
	}
	token, err := receiptToken()
	if err != nil {
		return nil, fmt.Errorf("receive from queue %s: %w", p.Queue, err)
	}
	now := s.nowUS()
	vis := q.visibility
	if p.Visibility > 0 {
		vis = p.Visibility
	}
	stmt := receiveSQL
	if q.fifo {
		stmt = receiveFIFOSQL
	}
	b := &pgx.Batch{}
	if q.maxReceives > 0 {
		// A message received MaxReceives times whose last receive ran
		// out without ack or fail (the consumer crashed) is not
		// delivered again. The partial index messages_received makes
		// this free while no such message waits.
		queueDeadLetterExpired(b, p.Queue, q, now)
	}
	b.Queue(stmt, token, now.Add(vis).Truncate(time.Microsecond), p.Queue, now, p.Max, q.maxReceives)
	br := s.pool.SendBatch(ctx, b)
	if q.maxReceives > 0 {
		if _, err := br.Exec(); err != nil {
			br.Close()
			return nil, fmt.Errorf("receive from queue %s: move exhausted messages to dead-letter queue %q: %w", p.Queue, q.deadLetter, err)
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
	if err != nil {
		return nil, fmt.Errorf("receive from queue %s: %w", p.Queue, err)
	}
	// RETURNING follows no ORDER BY; hand them out oldest first.
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

func queueDeadLetterExpired(b *pgx.Batch, queue string, q *queueState, now time.Time) {
	const pick = ` WHERE id IN (SELECT id FROM messages WHERE queue = $1 AND receive_count > 0 AND visible_at <= $2
		AND receive_count >= $3 FOR UPDATE SKIP LOCKED)`
	if q.deadLetter == "" {
		b.Queue(`DELETE FROM messages`+pick, queue, now, q.maxReceives)
		return
	}
	b.Queue(`UPDATE messages SET queue = $4, receive_count = 0, visible_at = $2, receipt = '',
		attributes = attributes || jsonb_build_object('error', last_error, 'attempts', receive_count::text, 'source_queue', queue)`+pick,
		queue, now, q.maxReceives, q.deadLetter)
}

// receiptToken returns the random part of this receive's receipts; each
// receipt is the token followed by the message id.
func receiptToken() (string, error) {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b) + ".", nil
}

// MessageAck deletes received messages whose receipts still match, in one
// statement.
func (s *Store) MessageAck(ctx context.Context, queue string, ids []int64, receipts []string) (int, error) {
	if len(ids) != len(receipts) {
		return 0, fmt.Errorf("ack on queue %s: %d ids but %d receipts", queue, len(ids), len(receipts))
	}
	tag, err := s.pool.Exec(ctx, `DELETE FROM messages m USING unnest($2::bigint[], $3::text[]) AS a(id, receipt)
		WHERE m.id = a.id AND m.receipt = a.receipt AND a.receipt <> '' AND m.queue = $1`, queue, ids, receipts)
	if err != nil {
		return 0, fmt.Errorf("ack %d messages on queue %s: %w", len(ids), queue, err)
	}
	return int(tag.RowsAffected()), nil
}

// MessageFail returns received messages: exhausted ones to the dead-letter
// queue, the others visible again after their delay. Stale receipts are
// ignored. Both statements go in one batch, one implicit transaction.
func (s *Store) MessageFail(ctx context.Context, queue string, fails []store.MessageFailParams) error {
	if len(fails) == 0 {
		return nil
	}
	q, err := s.queueState(ctx, queue)
	if err != nil {
		return fmt.Errorf("fail messages on queue %s: %w", queue, err)
	}
	var ids, delays []int64
	var receipts, errs []string
	var notAttempted []store.MessageFailParams
	for _, f := range fails {
		if f.NotAttempted {
			notAttempted = append(notAttempted, f)
			continue
		}
		ids, receipts, delays, errs = append(ids, f.ID), append(receipts, f.Receipt), append(delays, max(f.Delay, 0).Microseconds()), append(errs, cleanText(f.Error))
	}
	now := s.nowUS()
	b := &pgx.Batch{}
	// Never delivered: give the receive back, so a throttled consumer does
	// not push messages toward the dead-letter queue.
	for _, f := range notAttempted {
		b.Queue(`UPDATE messages SET receipt = '', visible_at = $1::timestamptz + $2 * interval '1 microsecond',
			receive_count = GREATEST(receive_count - 1, 0) WHERE id = $3 AND receipt = $4 AND receipt <> '' AND queue = $5`,
			now, max(f.Delay, 0).Microseconds(), f.ID, f.Receipt, queue)
	}
	if len(ids) == 0 {
		if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
			return fmt.Errorf("return %d undelivered messages on queue %s: %w", len(notAttempted), queue, err)
		}
		return nil
	}
	const from = ` FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::text[]) AS f(id, receipt, delay_us, err)
		WHERE m.id = f.id AND m.receipt = f.receipt AND f.receipt <> '' AND m.queue = $5`
	if q.maxReceives > 0 {
		// Exhausted ones first; they leave with their receipt cleared,
		// so the retry below no longer matches them.
		if q.deadLetter == "" {
			b.Queue(`DELETE FROM messages m USING unnest($1::bigint[], $2::text[], $3::bigint[], $4::text[]) AS f(id, receipt, delay_us, err)
				WHERE m.id = f.id AND m.receipt = f.receipt AND f.receipt <> '' AND m.queue = $5 AND m.receive_count >= $6`,
				ids, receipts, delays, errs, queue, q.maxReceives)
		} else {
			b.Queue(`UPDATE messages m SET queue = $7, receive_count = 0, visible_at = $8, receipt = '', last_error = f.err,
				attributes = m.attributes || jsonb_build_object('error', f.err, 'attempts', m.receive_count::text, 'source_queue', m.queue)`+
				from+` AND m.receive_count >= $6`,
				ids, receipts, delays, errs, queue, q.maxReceives, q.deadLetter, now)
		}
	}
	b.Queue(`UPDATE messages m SET receipt = '', visible_at = $6::timestamptz + f.delay_us * interval '1 microsecond', last_error = f.err`+from,
		ids, receipts, delays, errs, queue, now)
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("fail %d messages on queue %s: %w", len(fails), queue, err)
	}
	return nil
}

// MessagePeek lists up to limit messages (0: 1000) of queue by ID, without
// receiving them.
func (s *Store) MessagePeek(ctx context.Context, queue string, limit int) ([]record.Message, error) {
	if limit <= 0 {
		limit = 1000
	}
	if err := s.queueExists(ctx, queue); err != nil {
		return nil, fmt.Errorf("peek queue %s: %w", queue, err)
	}
	rows, err := s.pool.Query(ctx, `SELECT `+messageCols+` FROM messages m WHERE m.queue = $1 ORDER BY m.id LIMIT $2`, queue, limit)
	if err != nil {
		return nil, fmt.Errorf("peek queue %s: %w", queue, err)
	}
	out, err := scanMessages(rows)
	if err != nil {
		return nil, fmt.Errorf("peek queue %s: %w", queue, err)
	}
	// A receipt is the receiver's right to ack; looking is not receiving.
	for i := range out {
		out[i].Receipt = ""
	}
	return out, nil
}

func (s *Store) queueExists(ctx context.Context, queue string) error {
	var one int
	err := s.pool.QueryRow(ctx, `SELECT 1 FROM queues WHERE name = $1`, queue).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("queue %s: %w", queue, store.ErrNotFound)
	}
	return err
}

// QueueRedrive moves up to max (0: all) of from's messages, oldest first, to
// to, as new: receive count 0, visible now, no receipt or last error. Their
// attributes, including a dead-letter move's "error", stay.
func (s *Store) QueueRedrive(ctx context.Context, from, to string, max int) (int, error) {
	var limit *int
	if max > 0 {
		limit = &max
	}
	var n int64
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		for _, q := range []string{from, to} {
			if q == "" {
				continue
			}
			var one int
			err := tx.QueryRow(ctx, `SELECT 1 FROM queues WHERE name = $1 FOR KEY SHARE`, q).Scan(&one)
			if errors.Is(err, pgx.ErrNoRows) {
				return fmt.Errorf("queue %s: %w", q, store.ErrNotFound)
			}
			if err != nil {
				return err
			}
		}
		var tag pgconn.CommandTag
		var err error
		if to == "" {
			// Each message back to the queue it came from, if that queue
			// still exists.
			tag, err = tx.Exec(ctx, `UPDATE messages SET queue = attributes->>'source_queue', receive_count = 0, visible_at = $1,
				receipt = '', last_error = ''
				WHERE id IN (SELECT id FROM messages WHERE queue = $2
					AND attributes->>'source_queue' IN (SELECT name FROM queues) ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED)`,
				s.nowUS(), from, limit)
		} else {
			tag, err = tx.Exec(ctx, `UPDATE messages SET queue = $1, receive_count = 0, visible_at = $2, receipt = '', last_error = ''
				WHERE id IN (SELECT id FROM messages WHERE queue = $3 ORDER BY id LIMIT $4 FOR UPDATE SKIP LOCKED)`,
				to, s.nowUS(), from, limit)
		}
		n = tag.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("redrive queue %s to %s: %w", from, to, err)
	}
	return int(n), nil
}

// QueueStats counts a queue's messages by state. It reads every message of
// the queue: it is for operators and metrics, not for the dispatch path.
func (s *Store) QueueStats(ctx context.Context, queue string) (*record.QueueStats, error) {
	if err := s.queueExists(ctx, queue); err != nil {
		return nil, fmt.Errorf("stats of queue %s: %w", queue, err)
	}
	st := &record.QueueStats{Queue: queue}
	var oldest *time.Time
	err := s.pool.QueryRow(ctx, `SELECT
			count(*) FILTER (WHERE visible_at <= $2),
			count(*) FILTER (WHERE visible_at > $2 AND receipt <> ''),
			count(*) FILTER (WHERE visible_at > $2 AND receipt = ''),
			min(sent_at)
		FROM messages WHERE queue = $1`, queue, s.nowUS()).Scan(&st.Visible, &st.InFlight, &st.Delayed, &oldest)
	if err != nil {
		return nil, fmt.Errorf("stats of queue %s: %w", queue, err)
	}
	if oldest != nil {
		st.OldestSent = utc(*oldest)
	}
	return st, nil
}

// QueueNextVisible reports when the queue next has a message to hand out:
// for FIFO queues only the oldest message of each group counts, since the
// others wait for it.
func (s *Store) QueueNextVisible(ctx context.Context, queue string) (time.Time, error) {
	var fifo bool
	err := s.pool.QueryRow(ctx, `SELECT fifo FROM queues WHERE name = $1`, queue).Scan(&fifo)
	if errors.Is(err, pgx.ErrNoRows) {
		return time.Time{}, fmt.Errorf("next visible of queue %s: queue %s: %w", queue, queue, store.ErrNotFound)
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("next visible of queue %s: %w", queue, err)
	}
	q := `SELECT min(visible_at) FROM messages WHERE queue = $1`
	if fifo {
		q = `SELECT min(m.visible_at) FROM (SELECT min(id) AS id FROM messages WHERE queue = $1 GROUP BY group_id) h
			JOIN messages m ON m.id = h.id`
	}
	var next *time.Time
	if err := s.pool.QueryRow(ctx, q, queue).Scan(&next); err != nil {
		return time.Time{}, fmt.Errorf("next visible of queue %s: %w", queue, err)
	}
	if next == nil {
		return time.Time{}, nil
	}
	return utc(*next), nil
}

// ScheduleFire moves a schedule's next fire from p.Expected to p.Next and
// sends p.Message, in one transaction, only if it still is p.Expected. A
// racing node's UPDATE waits for the row lock, then finds next_fire changed.
func (s *Store) ScheduleFire(ctx context.Context, p store.ScheduleFireParams) (bool, error) {
	if err := p.Message.Validate(); err != nil {
		return false, fmt.Errorf("fire schedule %s: %w", p.Name, err)
	}
	fired := false
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE schedules SET next_fire = $1 WHERE name = $2 AND next_fire = $3`,
			p.Next.Truncate(time.Microsecond), p.Name, p.Expected.Truncate(time.Microsecond))
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			var one int
			err := tx.QueryRow(ctx, `SELECT 1 FROM schedules WHERE name = $1`, p.Name).Scan(&one)
			if errors.Is(err, pgx.ErrNoRows) {
				return fmt.Errorf("schedule %s: %w", p.Name, store.ErrNotFound)
			}
			return err
		}
		if _, err := s.send(ctx, tx, s.nowUS(), []store.MessageSendParams{p.Message}); err != nil {
			return err
		}
		fired = true
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("fire schedule %s: %w", p.Name, err)
	}
	return fired, nil
}

func scanMessages(rows pgx.Rows) ([]record.Message, error) {
	var out []record.Message
	var m record.Message
	var attrs string
	_, err := pgx.ForEachRow(rows, []any{&m.ID, &m.Queue, &m.Body, &attrs, &m.GroupID, &m.DedupID, &m.SentAt, &m.VisibleAt,
		&m.ReceiveCount, &m.Receipt, &m.LastError}, func() error {
		msg := m
		a, err := decodeAttrs(attrs)
		if err != nil {
			return fmt.Errorf("message %d: %w", m.ID, err)
		}
		msg.Attributes = a
		msg.Body = append([]byte{}, m.Body...)
		msg.SentAt, msg.VisibleAt = utc(m.SentAt), utc(m.VisibleAt)
		out = append(out, msg)
		return nil
	})
	return out, err
}

// encodeAttrs stores attributes as a JSON object; none is "{}". Values are
// cleaned as guest text is: jsonb refuses NUL.
func encodeAttrs(a map[string]string) (string, error) {
	if len(a) == 0 {
		return "{}", nil
	}
	clean := make(map[string]string, len(a))
	for k, v := range a {
		clean[cleanText(k)] = cleanText(v)
	}
	b, err := json.Marshal(clean)
	if err != nil {
		return "", fmt.Errorf("encode attributes: %w", err)
	}
	return string(b), nil
}

// decodeAttrs reads attributes back; none is a nil map.
func decodeAttrs(s string) (map[string]string, error) {
	if s == "{}" || s == "" {
		return nil, nil
	}
	var a map[string]string
	if err := json.Unmarshal([]byte(s), &a); err != nil {
		return nil, fmt.Errorf("decode attributes: %w", err)
	}
	return a, nil
}
