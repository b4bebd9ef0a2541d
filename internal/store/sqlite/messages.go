package sqlite

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store"
)

// Messages live in one table; a queue is a column. Every operation below is
// one write transaction (BEGIN IMMEDIATE on the single writer), so "receive"
// needs no row locks: nobody else writes between its statements.

const messageCols = `id, queue, body, attributes, group_id, dedup_id, sent_at, visible_at, receive_count, receipt, last_error`

// sendCols is the number of bound values per row of a multi-row send.
const sendCols = 8

// MessageSend stores msgs in one transaction.
func (s *Store) MessageSend(ctx context.Context, msgs []store.MessageSendParams) ([]store.MessageSendResult, error) {
	for _, m := range msgs {
		if err := m.Validate(); err != nil {
			return nil, err
		}
	}
	if len(msgs) == 0 {
		return nil, nil
	}
	var res []store.MessageSendResult
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		res, err = s.send(ctx, tx, s.now(), msgs)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("send %d messages to queue %s: %w", len(msgs), msgs[0].Queue, err)
	}
	return res, nil
}

// send inserts msgs within tx. Without dedup ids that is one multi-row
// INSERT; with them each message is checked against the remembered ids in
// turn, in order, so a batch may also repeat an id.
func (s *Store) send(ctx context.Context, tx *sql.Tx, now time.Time, msgs []store.MessageSendParams) ([]store.MessageSendResult, error) {
	res := make([]store.MessageSendResult, len(msgs))
	dedup := false
	for _, m := range msgs {
		dedup = dedup || m.DedupID != ""
	}
	var err error
	if !dedup {
		err = insertMessages(ctx, tx, now, msgs, res)
	} else {
		err = sendDedup(ctx, tx, now, msgs, res)
	}
	if isForeignKey(err) {
		return nil, missingQueue(ctx, tx, msgs)
	}
	return res, err
}

// insertMessages inserts msgs with one multi-row INSERT per chunk and fills
// in their IDs: with one writer the rows of one INSERT get consecutive IDs
// ending at last_insert_rowid, in VALUES order.
func insertMessages(ctx context.Context, tx *sql.Tx, now time.Time, msgs []store.MessageSendParams, res []store.MessageSendResult) error {
	for start := 0; start < len(msgs); start += insertChunk {
		chunk := msgs[start:min(start+insertChunk, len(msgs))]
		var q strings.Builder
		q.WriteString(`INSERT INTO messages (queue, body, attributes, group_id, dedup_id, sent_at, visible_at,
			receive_count, receipt, last_error) VALUES `)
		args := make([]any, 0, len(chunk)*sendCols)
		for i, m := range chunk {
			if i > 0 {
				q.WriteString(", ")
			}
			q.WriteString("(?, ?, ?, ?, ?, ?, ?, 0, '', '')")
			attrs, err := encodeAttrs(m.Attributes)
			if err != nil {
				return err
			}
			body := m.Body
			if body == nil {
				body = []byte{}
			}
			args = append(args, m.Queue, body, attrs, cleanText(m.GroupID), cleanText(m.DedupID),
				micros(now), micros(now.Add(m.Delay)))
		}
		r, err := tx.ExecContext(ctx, q.String(), args...)
		if err != nil {
			return err
		}
		last, err := r.LastInsertId()
		if err != nil {
			return err
		}
		first := last - int64(len(chunk)) + 1
		for i := range chunk {
			res[start+i] = store.MessageSendResult{ID: first + int64(i)}
		}
	}
	return nil
}

// sendDedup sends msgs one by one, skipping those whose dedup id was used
// for the same queue within store.DedupWindow.
func sendDedup(ctx context.Context, tx *sql.Tx, now time.Time, msgs []store.MessageSendParams, res []store.MessageSendResult) error {
	cutoff := micros(now.Add(-store.DedupWindow))
	// Forget expired ids first, so that the table holds one window's worth.
	if _, err := tx.ExecContext(ctx, `DELETE FROM message_dedup WHERE sent_at <= ?`, cutoff); err != nil {
		return fmt.Errorf("prune dedup ids: %w", err)
	}
	for i, m := range msgs {
		if m.DedupID != "" {
			var id int64
			err := tx.QueryRowContext(ctx, `SELECT message_id FROM message_dedup WHERE queue = ? AND dedup_id = ? AND sent_at > ?`,
				m.Queue, cleanText(m.DedupID), cutoff).Scan(&id)
			if err == nil {
				res[i] = store.MessageSendResult{ID: id, Duplicate: true}
				continue
			}
			if !errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("check dedup id %q: %w", m.DedupID, err)
			}
		}
		if err := insertMessages(ctx, tx, now, msgs[i:i+1], res[i:i+1]); err != nil {
			return err
		}
		if m.DedupID != "" {
			if _, err := tx.ExecContext(ctx, `INSERT INTO message_dedup (queue, dedup_id, message_id, sent_at) VALUES (?, ?, ?, ?)
				ON CONFLICT (queue, dedup_id) DO UPDATE SET message_id = excluded.message_id, sent_at = excluded.sent_at`,
				m.Queue, cleanText(m.DedupID), res[i].ID, micros(now)); err != nil {
				return fmt.Errorf("remember dedup id %q: %w", m.DedupID, err)
			}
		}
	}
	return nil
}

// missingQueue names the first queue of msgs that does not exist, after a
// foreign key violation.
func missingQueue(ctx context.Context, tx *sql.Tx, msgs []store.MessageSendParams) error {
	for _, m := range msgs {
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM queues WHERE name = ?`, m.Queue).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("queue %s: %w", m.Queue, store.ErrNotFound)
		}
		if err != nil {
			return err
		}
	}
	return fmt.Errorf("foreign key violation, yet every queue exists")
}

// TopicPublish sends one copy of msg to every queue subscribed to topic.
func (s *Store) TopicPublish(ctx context.Context, topic string, msg store.MessageSendParams) (int, error) {
	n := 0
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM topics WHERE name = ?`, topic).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("topic %s: %w", topic, store.ErrNotFound)
		}
		if err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `SELECT queue FROM topic_subscriptions WHERE topic = ? ORDER BY queue`, topic)
		if err != nil {
			return err
		}
		var msgs []store.MessageSendParams
		for rows.Next() {
			m := msg
			if err := rows.Scan(&m.Queue); err != nil {
				rows.Close()
				return err
			}
			msgs = append(msgs, m)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if len(msgs) == 0 {
			return nil
		}
		if err := msgs[0].Validate(); err != nil {
			return err
		}
		res, err := s.send(ctx, tx, s.now(), msgs)
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

func getQueueState(ctx context.Context, tx *sql.Tx, name string) (*queueState, error) {
	var q queueState
	var vis int64
	err := tx.QueryRowContext(ctx, `SELECT visibility_timeout_ns, max_receives, dead_letter, fifo FROM queues WHERE name = ?`, name).
		Scan(&vis, &q.maxReceives, &q.deadLetter, &q.fifo)
	if errors.Is(err, sql.ErrNoRows) {
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

// receiveSQL claims the oldest visible messages of a standard queue.
const receiveSQL = `UPDATE messages SET receive_count = receive_count + 1, receipt = ? || id, visible_at = ?
	WHERE id IN (SELECT id FROM messages WHERE queue = ? AND visible_at <= ? ORDER BY visible_at, id LIMIT ?)
	RETURNING ` + messageCols

// receiveFIFOSQL claims, per group, the group's oldest message if it is
// visible. The oldest message of a group with a message in flight is the one
// in flight (nothing behind it was handed out), so such groups yield nothing.
const receiveFIFOSQL = `UPDATE messages SET receive_count = receive_count + 1, receipt = ? || id, visible_at = ?
	WHERE id IN (SELECT m.id FROM messages m WHERE m.queue = ? AND m.visible_at <= ?
		AND m.id = (SELECT min(g.id) FROM messages g WHERE g.queue = m.queue AND g.group_id = m.group_id)
		ORDER BY m.visible_at, m.id LIMIT ?)
	RETURNING ` + messageCols

// MessageReceive claims up to p.Max visible messages.
func (s *Store) MessageReceive(ctx context.Context, p store.MessageReceiveParams) ([]record.Message, error) {
	if p.Max <= 0 {
		return nil, nil
	}
	token, err := receiptToken()
	if err != nil {
		return nil, fmt.Errorf("receive from queue %s: %w", p.Queue, err)
	}
	var out []record.Message
	err = s.tx(ctx, func(tx *sql.Tx) error {
		q, err := getQueueState(ctx, tx, p.Queue)
		if err != nil {
			return err
		}
		now := s.now()
		if q.maxReceives > 0 {
			// A message received MaxReceives times whose last receive
			// ran out without ack or fail (the consumer crashed) is not
			// delivered again.
			if err := deadLetterExpired(ctx, tx, p.Queue, q, now); err != nil {
				return err
			}
		}
		vis := q.visibility
		if p.Visibility > 0 {
			vis = p.Visibility
		}
		stmt := receiveSQL
		if q.fifo {
			stmt = receiveFIFOSQL
		}
		rows, err := tx.QueryContext(ctx, stmt, token, micros(now.Add(vis)), p.Queue, micros(now), p.Max)
		if err != nil {
			return err
		}
		out, err = scanMessages(rows)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("receive from queue %s: %w", p.Queue, err)
	}
	// RETURNING follows no ORDER BY; hand them out oldest first.
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
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

// deadLetterExpired moves (or, without a dead-letter queue, deletes) the
// visible messages of queue that have used up their receives. The partial
// index messages_received holds only received, unacked messages, so this
// costs nothing while none are pending.
func deadLetterExpired(ctx context.Context, tx *sql.Tx, queue string, q *queueState, now time.Time) error {
	const where = ` WHERE queue = ? AND receive_count > 0 AND visible_at <= ? AND receive_count >= ?`
	var err error
	if q.deadLetter == "" {
		_, err = tx.ExecContext(ctx, `DELETE FROM messages`+where, queue, micros(now), q.maxReceives)
	} else {
		_, err = tx.ExecContext(ctx, `UPDATE messages SET queue = ?, receive_count = 0, visible_at = ?, receipt = '',
			attributes = json_set(attributes, '$.error', last_error, '$.attempts', CAST(receive_count AS TEXT), '$.source_queue', queue)`+where,
			q.deadLetter, micros(now), queue, micros(now), q.maxReceives)
	}
	if err != nil {
		return fmt.Errorf("move exhausted messages to dead-letter queue %q: %w", q.deadLetter, err)
	}
	return nil
}

// MessageAck deletes received messages whose receipts still match.
func (s *Store) MessageAck(ctx context.Context, queue string, ids []int64, receipts []string) (int, error) {
	if len(ids) != len(receipts) {
		return 0, fmt.Errorf("ack on queue %s: %d ids but %d receipts", queue, len(ids), len(receipts))
	}
	var q strings.Builder
	args := make([]any, 0, 1+2*len(ids))
	// Look the rows up by ID: "(id, receipt) IN (VALUES ...)" would
	// have SQLite scan the whole queue.
	q.WriteString(`WITH a (id, receipt) AS (VALUES `)
	n := 0
	for i := range ids {
		if receipts[i] == "" {
			continue // never received: nothing to ack
		}
		if n > 0 {
			q.WriteString(", ")
		}
		q.WriteString("(?, ?)")
		args = append(args, ids[i], receipts[i])
		n++
	}
	if n == 0 {
		return 0, nil
	}
	q.WriteString(`) DELETE FROM messages WHERE id IN
		(SELECT m.id FROM a JOIN messages m ON m.id = a.id WHERE m.receipt = a.receipt AND m.queue = ?)`)
	args = append(args, queue)
	res, err := s.exec(ctx, q.String(), args...)
	if err != nil {
		return 0, fmt.Errorf("ack %d messages on queue %s: %w", n, queue, err)
	}
	acked, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("ack %d messages on queue %s: %w", n, queue, err)
	}
	return int(acked), nil
}

// MessageFail returns received messages: exhausted ones to the dead-letter
// queue, the others visible again after their delay. Stale receipts are
// ignored.
func (s *Store) MessageFail(ctx context.Context, queue string, fails []store.MessageFailParams) error {
	var vals strings.Builder
	var args []any
	var notAttempted []store.MessageFailParams
	for _, f := range fails {
		if f.Receipt == "" {
			continue
		}
		if f.NotAttempted {
			notAttempted = append(notAttempted, f)
			continue
		}
		if len(args) > 0 {
			vals.WriteString(", ")
		}
		vals.WriteString("(?, ?, ?, ?)")
		args = append(args, f.ID, f.Receipt, max(f.Delay, 0).Microseconds(), cleanText(f.Error))
	}
	if len(args) == 0 && len(notAttempted) == 0 {
		return nil
	}
	with := `WITH f (id, receipt, delay_us, err) AS (VALUES ` + vals.String() + `) `
	err := s.tx(ctx, func(tx *sql.Tx) error {
		q, err := getQueueState(ctx, tx, queue)
		if err != nil {
			return err
		}
		now := micros(s.now())
		// Never delivered: give the receive back, so a throttled
		// consumer does not push messages toward the dead-letter queue.
		for _, f := range notAttempted {
			if _, err := tx.ExecContext(ctx, `UPDATE messages SET receipt = '', visible_at = ?, receive_count = MAX(receive_count - 1, 0)
				WHERE id = ? AND receipt = ? AND queue = ?`, now+max(f.Delay, 0).Microseconds(), f.ID, f.Receipt, queue); err != nil {
				return fmt.Errorf("return undelivered message %d: %w", f.ID, err)
			}
		}
		if len(args) == 0 {
			return nil
		}
		if q.maxReceives > 0 {
			// Exhausted ones first; they leave with their receipt
			// cleared, so the retry below no longer matches them.
			var stmt string
			var extra []any
			if q.deadLetter == "" {
				stmt = with + `DELETE FROM messages WHERE id IN (SELECT m.id FROM f JOIN messages m ON m.id = f.id
					WHERE m.receipt = f.receipt AND m.queue = ? AND m.receive_count >= ?)`
				extra = []any{queue, q.maxReceives}
			} else {
				stmt = with + `UPDATE messages SET queue = ?, receive_count = 0, visible_at = ?, receipt = '', last_error = f.err,
					attributes = json_set(messages.attributes, '$.error', f.err,
						'$.attempts', CAST(messages.receive_count AS TEXT), '$.source_queue', messages.queue)
					FROM f WHERE messages.id = f.id AND messages.receipt = f.receipt
					AND messages.queue = ? AND messages.receive_count >= ?`
				extra = []any{q.deadLetter, now, queue, q.maxReceives}
			}
			if _, err := tx.ExecContext(ctx, stmt, append(args[:len(args):len(args)], extra...)...); err != nil {
				return fmt.Errorf("move to dead-letter queue %q: %w", q.deadLetter, err)
			}
		}
		_, err = tx.ExecContext(ctx, with+`UPDATE messages SET receipt = '', visible_at = ? + f.delay_us, last_error = f.err
			FROM f WHERE messages.id = f.id AND messages.receipt = f.receipt AND messages.queue = ?`,
			append(args[:len(args):len(args)], now, queue)...)
		return err
	})
	if err != nil {
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
	rows, err := s.r.QueryContext(ctx, `SELECT `+messageCols+` FROM messages WHERE queue = ? ORDER BY id LIMIT ?`, queue, limit)
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
	err := s.r.QueryRowContext(ctx, `SELECT 1 FROM queues WHERE name = ?`, queue).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("queue %s: %w", queue, store.ErrNotFound)
	}
	return err
}

// QueueRedrive moves up to max (0: all) of from's messages, oldest first, to
// to, as new: receive count 0, visible now, no receipt or last error. Their
// attributes, including a dead-letter move's "error", stay.
func (s *Store) QueueRedrive(ctx context.Context, from, to string, max int) (int, error) {
	limit := int64(max)
	if max <= 0 {
		limit = -1 // SQLite: no limit
	}
	var n int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		for _, q := range []string{from, to} {
			if q == "" {
				continue
			}
			if _, err := getQueueState(ctx, tx, q); err != nil {
				return err
			}
		}
		var res sql.Result
		var err error
		if to == "" {
			// Each message back to the queue it came from, if that
			// queue still exists.
			res, err = tx.ExecContext(ctx, `UPDATE messages SET queue = json_extract(attributes, '$.source_queue'),
				receive_count = 0, visible_at = ?, receipt = '', last_error = ''
				WHERE id IN (SELECT id FROM messages WHERE queue = ?
					AND json_extract(attributes, '$.source_queue') IN (SELECT name FROM queues) ORDER BY id LIMIT ?)`,
				micros(s.now()), from, limit)
		} else {
			res, err = tx.ExecContext(ctx, `UPDATE messages SET queue = ?, receive_count = 0, visible_at = ?, receipt = '', last_error = ''
				WHERE id IN (SELECT id FROM messages WHERE queue = ? ORDER BY id LIMIT ?)`, to, micros(s.now()), from, limit)
		}
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
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
	var oldest sql.NullInt64
	now := micros(s.now())
	err := s.r.QueryRowContext(ctx, `SELECT
			coalesce(sum(visible_at <= ?), 0),
			coalesce(sum(visible_at > ? AND receipt <> ''), 0),
			coalesce(sum(visible_at > ? AND receipt = ''), 0),
			min(sent_at)
		FROM messages WHERE queue = ?`, now, now, now, queue).Scan(&st.Visible, &st.InFlight, &st.Delayed, &oldest)
	if err != nil {
		return nil, fmt.Errorf("stats of queue %s: %w", queue, err)
	}
	if oldest.Valid {
		st.OldestSent = fromMicros(oldest.Int64)
	}
	return st, nil
}

// QueueNextVisible reports when the queue next has a message to hand out:
// for FIFO queues only the oldest message of each group counts, since the
// others wait for it.
func (s *Store) QueueNextVisible(ctx context.Context, queue string) (time.Time, error) {
	var fifo bool
	err := s.r.QueryRowContext(ctx, `SELECT fifo FROM queues WHERE name = ?`, queue).Scan(&fifo)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, fmt.Errorf("next visible of queue %s: queue %s: %w", queue, queue, store.ErrNotFound)
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("next visible of queue %s: %w", queue, err)
	}
	q := `SELECT min(visible_at) FROM messages WHERE queue = ?`
	if fifo {
		q = `SELECT min(m.visible_at) FROM (SELECT min(id) AS id FROM messages WHERE queue = ? GROUP BY group_id) h
			JOIN messages m ON m.id = h.id`
	}
	var next sql.NullInt64
	if err := s.r.QueryRowContext(ctx, q, queue).Scan(&next); err != nil {
		return time.Time{}, fmt.Errorf("next visible of queue %s: %w", queue, err)
	}
	if !next.Valid {
		return time.Time{}, nil
	}
	return fromMicros(next.Int64), nil
}

// ScheduleFire moves a schedule's next fire from p.Expected to p.Next and
// sends p.Message, in one transaction, only if it still is p.Expected.
func (s *Store) ScheduleFire(ctx context.Context, p store.ScheduleFireParams) (bool, error) {
	if err := p.Message.Validate(); err != nil {
		return false, fmt.Errorf("fire schedule %s: %w", p.Name, err)
	}
	fired := false
	err := s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE schedules SET next_fire = ? WHERE name = ? AND next_fire = ?`,
			micros(p.Next), p.Name, micros(p.Expected))
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n == 0 {
			var one int
			err := tx.QueryRowContext(ctx, `SELECT 1 FROM schedules WHERE name = ?`, p.Name).Scan(&one)
			if errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("schedule %s: %w", p.Name, store.ErrNotFound)
			}
			return err
		}
		if _, err := s.send(ctx, tx, s.now(), []store.MessageSendParams{p.Message}); err != nil {
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

func scanMessages(rows *sql.Rows) ([]record.Message, error) {
	defer rows.Close()
	var out []record.Message
	for rows.Next() {
		var m record.Message
		var attrs string
		var sent, visible int64
		if err := rows.Scan(&m.ID, &m.Queue, &m.Body, &attrs, &m.GroupID, &m.DedupID, &sent, &visible,
			&m.ReceiveCount, &m.Receipt, &m.LastError); err != nil {
			return nil, err
		}
		if m.Body == nil {
			m.Body = []byte{}
		}
		a, err := decodeAttrs(attrs)
		if err != nil {
			return nil, fmt.Errorf("message %d: %w", m.ID, err)
		}
		m.Attributes = a
		m.SentAt, m.VisibleAt = fromMicros(sent), fromMicros(visible)
		out = append(out, m)
	}
	return out, rows.Err()
}

// encodeAttrs stores attributes as a JSON object; none is "{}". Values are
// cleaned as guest text is, since PostgreSQL's jsonb refuses NUL.
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
