package sqlstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store"
)

// EventQueries are the statements on queues, topics, schedules and
// messages. Receive and fail run several statements that PostgreSQL
// pipelines into one batch (one round trip, one implicit transaction) and
// SQLite runs in the caller's transaction, so each is one method here with
// the decisions made by the rules and passed in.
type EventQueries interface {
	// QueuePut inserts or updates project's queue; false when the name
	// belongs to another project (nothing changed).
	QueuePut(ctx context.Context, project string, q record.QueueConfig) (bool, error)
	// QueueProject returns the project owning a queue.
	QueueProject(ctx context.Context, name string) (string, error)
	// QueueKeep keeps a queue from being removed until the transaction ends
	// (PostgreSQL: FOR KEY SHARE); ErrNotFound when there is none.
	QueueKeep(ctx context.Context, name string) error
	// QueueDeleteUnlisted deletes project's queues not in keep, with their
	// messages, dedup ids and subscriptions.
	QueueDeleteUnlisted(ctx context.Context, project string, keep []string) error
	QueueGet(ctx context.Context, name string) (*record.QueueConfig, error)
	// QueueList returns every queue by name in byte order.
	QueueList(ctx context.Context) ([]record.QueueConfig, error)
	// QueueStats counts queue's messages by state at now.
	QueueStats(ctx context.Context, queue string, now time.Time) (*record.QueueStats, error)
	// QueueNextVisible is the earliest visible_at of the queue (of each
	// group's oldest message when fifo); zero when it is empty.
	QueueNextVisible(ctx context.Context, queue string, fifo bool) (time.Time, error)

	// TopicPut inserts project's topic; false when the name belongs to
	// another project.
	TopicPut(ctx context.Context, name, project string) (bool, error)
	TopicProject(ctx context.Context, name string) (string, error)
	// TopicKeep keeps a topic from being removed until the transaction
	// ends; ErrNotFound when there is none.
	TopicKeep(ctx context.Context, name string) error
	// TopicSubscribe replaces a topic's subscriptions by queues.
	TopicSubscribe(ctx context.Context, topic string, queues []string) error
	TopicDeleteUnlisted(ctx context.Context, project string, keep []string) error
	// TopicQueues returns the queues subscribed to topic, in byte order.
	TopicQueues(ctx context.Context, topic string) ([]string, error)
	// TopicRows returns every topic (only the one named, when only is not
	// empty) joined with its subscriptions, by topic then queue in byte
	// order; a topic without subscriptions is one row with Queue "".
	TopicRows(ctx context.Context, only string) ([]TopicRow, error)

	ScheduleGet(ctx context.Context, name string) (*record.Schedule, error)
	ScheduleInsert(ctx context.Context, sc record.Schedule) error
	ScheduleSetFunction(ctx context.Context, name, function string) error
	// ScheduleUpdate sets function, spec, timezone and next fire.
	ScheduleUpdate(ctx context.Context, sc record.Schedule) error
	ScheduleDeleteUnlisted(ctx context.Context, project string, keep []string) error
	// ScheduleList returns every schedule by name in byte order.
	ScheduleList(ctx context.Context) ([]record.Schedule, error)
	// ScheduleAdvance moves next_fire from expected to next; false when it
	// was not expected (or there is no such schedule).
	ScheduleAdvance(ctx context.Context, name string, expected, next time.Time) (bool, error)

	// MessageInsert stores msgs, sent at sentAt, and returns their IDs,
	// increasing along msgs.
	MessageInsert(ctx context.Context, sentAt time.Time, msgs []NewMessage) ([]int64, error)
	// DedupPrune forgets the dedup ids sent at or before cutoff.
	DedupPrune(ctx context.Context, cutoff time.Time) error
	// DedupClaim records each key (in the order given) as sent at at, with
	// message id 0, unless it is recorded already with a send after cutoff,
	// and reports which it recorded. A key recorded by a concurrent
	// transaction is waited for.
	DedupClaim(ctx context.Context, keys []DedupKey, at, cutoff time.Time) ([]bool, error)
	// DedupLookup returns the message id recorded for each key.
	DedupLookup(ctx context.Context, keys []DedupKey) ([]int64, error)
	// DedupSetMessage records keys' MessageID.
	DedupSetMessage(ctx context.Context, keys []DedupKey) error
	// MessageReceive acks c.AckIDs, moves or deletes the exhausted
	// messages when c.MaxReceives > 0, then claims up to c.Max visible messages (the
	// head of each group when c.FIFO) and returns them in any order.
	MessageReceive(ctx context.Context, c MessageClaim) ([]record.Message, error)
	// MessageAck deletes the messages of queue whose receipts match.
	MessageAck(ctx context.Context, queue string, ids []int64, receipts []string) (int64, error)
	// MessageFail gives back f.Returns' receives, moves or deletes f.Fails'
	// exhausted messages when f.MaxReceives > 0, then makes the rest of
	// f.Fails visible after their delay. Stale receipts match nothing.
	MessageFail(ctx context.Context, f MessageFailBatch) error
	// MessagePeek lists up to limit messages of queue by ID.
	MessagePeek(ctx context.Context, queue string, limit int) ([]record.Message, error)
	// MessageRedrive moves up to limit (0: all) of from's messages, oldest
	// first, to to (to "": to each one's source_queue attribute, when that
	// queue exists), as new, visible at now.
	MessageRedrive(ctx context.Context, from, to string, limit int, now time.Time) (int64, error)
}

// TopicRow is one topic and one of its subscribed queues ("" for none).
type TopicRow struct {
	Topic, Project, Queue string
}

// NewMessage is a message as stored: text cleaned, attributes encoded.
type NewMessage struct {
	Queue      string
	Body       []byte
	Attributes string // JSON object, "{}" for none
	GroupID    string
	DedupID    string
	VisibleAt  time.Time
}

// DedupKey is one remembered deduplication id.
type DedupKey struct {
	Queue, DedupID string
	MessageID      int64
}

// MessageClaim is one receive.
type MessageClaim struct {
	Queue string
	Token string // receipts are Token followed by the message ID
	Now   time.Time
	Until time.Time // the claimed messages' new visible_at
	Max   int
	FIFO  bool
	// MaxReceives > 0: visible messages received that often already go to
	// DeadLetter first (deleted when it is ""), with attributes error,
	// attempts and source_queue.
	MaxReceives int
	DeadLetter  string
	// AckIDs and AckReceipts (all set) are acknowledged first, as
	// MessageAck does.
	AckIDs      []int64
	AckReceipts []string
}

// MessageFailBatch is one MessageFail after the rules: every receipt is
// set, errors are cleaned and delays not negative.
type MessageFailBatch struct {
	Queue       string
	Now         time.Time
	MaxReceives int
	DeadLetter  string
	Returns     []store.MessageFailParams // never delivered: the receive is given back
	Fails       []store.MessageFailParams
}

// applyEvents replaces project's queues, topics and schedules inside the
// deploy transaction. ev has passed EventsApplyParams.Validate, so
// dead-letter queues and subscriptions name queues of this deploy.
func (s *Store) applyEvents(ctx context.Context, q Queries, project string, ev *store.EventsApplyParams) error {
	names := make([]string, 0, len(ev.Queues))
	for _, c := range ev.Queues {
		if c.Consumer != "" {
			if err := ownFunction(ctx, q, project, c.Consumer); err != nil {
				return fmt.Errorf("queue %s: consumer: %w", c.Name, err)
			}
		}
		// The upsert leaves another project's queue untouched, which is
		// how a name owned elsewhere shows up: no row changed.
		ok, err := q.QueuePut(ctx, project, c)
		if err != nil {
			return fmt.Errorf("put queue %s: %w", c.Name, err)
		}
		if !ok {
			return fmt.Errorf("queue %s belongs to project %s: %w", c.Name, ownerOf(ctx, q.QueueProject, c.Name), store.ErrConflict)
		}
		names = append(names, c.Name)
	}
	// Queues no longer listed go, with their messages, dedup entries and
	// subscriptions (ON DELETE CASCADE).
	if err := q.QueueDeleteUnlisted(ctx, project, names); err != nil {
		return fmt.Errorf("remove queues: %w", err)
	}

	names = names[:0]
	for _, t := range ev.Topics {
		ok, err := q.TopicPut(ctx, t.Name, project)
		if err != nil {
			return fmt.Errorf("put topic %s: %w", t.Name, err)
		}
		if !ok {
			return fmt.Errorf("topic %s belongs to project %s: %w", t.Name, ownerOf(ctx, q.TopicProject, t.Name), store.ErrConflict)
		}
		if err := q.TopicSubscribe(ctx, t.Name, t.Queues); err != nil {
			return fmt.Errorf("subscribe queues to topic %s: %w", t.Name, err)
		}
		names = append(names, t.Name)
	}
	if err := q.TopicDeleteUnlisted(ctx, project, names); err != nil {
		return fmt.Errorf("remove topics: %w", err)
	}

	names = names[:0]
	for _, sc := range ev.Schedules {
		if err := ownFunction(ctx, q, project, sc.Function); err != nil {
			return fmt.Errorf("schedule %s: %w", sc.Name, err)
		}
		sc.Project, sc.NextFire = project, sc.NextFire.UTC().Truncate(time.Microsecond)
		old, err := q.ScheduleGet(ctx, sc.Name)
		switch {
		case errors.Is(err, store.ErrNotFound):
			err = q.ScheduleInsert(ctx, sc)
		case err != nil:
		case old.Project != project:
			return fmt.Errorf("schedule %s belongs to project %s: %w", sc.Name, old.Project, store.ErrConflict)
		case old.Spec == sc.Spec && old.Timezone == sc.Timezone:
			// Unchanged timing keeps its next fire, so a redeploy
			// neither skips nor repeats one.
			err = q.ScheduleSetFunction(ctx, sc.Name, sc.Function)
		default:
			err = q.ScheduleUpdate(ctx, sc)
		}
		if err != nil {
			return fmt.Errorf("put schedule %s: %w", sc.Name, err)
		}
		names = append(names, sc.Name)
	}
	if err := q.ScheduleDeleteUnlisted(ctx, project, names); err != nil {
		return fmt.Errorf("remove schedules: %w", err)
	}
	return nil
}

// ownFunction checks that function exists and belongs to project; anything
// else is ErrNotFound, as the contract has it for event targets.
func ownFunction(ctx context.Context, q Queries, project, function string) error {
	owner, err := q.FunctionProject(ctx, function)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return store.NotFound("function", function)
	case err != nil:
		return fmt.Errorf("look up function %s: %w", function, err)
	case owner != project:
		return fmt.Errorf("function %s belongs to project %s: %w", function, owner, store.ErrNotFound)
	}
	return nil
}

// ownerOf names the project owning name, for error messages.
func ownerOf(ctx context.Context, project func(context.Context, string) (string, error), name string) string {
	owner, err := project(ctx, name)
	if err != nil {
		return "?"
	}
	return owner
}

// QueueGet returns one queue's configuration.
func (s *Store) QueueGet(ctx context.Context, name string) (*record.QueueConfig, error) {
	defer s.op("QueueGet", time.Now())
	q, err := s.d.Read().QueueGet(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return nil, store.NotFound("queue", name)
	}
	if err != nil {
		return nil, fmt.Errorf("get queue %s: %w", name, err)
	}
	return q, nil
}

// QueueList returns every queue, sorted by name in byte order.
func (s *Store) QueueList(ctx context.Context) ([]record.QueueConfig, error) {
	defer s.op("QueueList", time.Now())
	qs, err := s.d.Read().QueueList(ctx)
	if err != nil {
		return nil, fmt.Errorf("list queues: %w", err)
	}
	return qs, nil
}

// TopicGet returns a topic and its subscribed queues (sorted).
func (s *Store) TopicGet(ctx context.Context, name string) (*record.TopicConfig, error) {
	defer s.op("TopicGet", time.Now())
	ts, err := s.topics(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("get topic %s: %w", name, err)
	}
	if len(ts) == 0 {
		return nil, store.NotFound("topic", name)
	}
	return &ts[0], nil
}

// TopicList returns every topic, sorted by name.
func (s *Store) TopicList(ctx context.Context) ([]record.TopicConfig, error) {
	defer s.op("TopicList", time.Now())
	ts, err := s.topics(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("list topics: %w", err)
	}
	return ts, nil
}

// topics lists topics with their subscriptions (one statement, so one
// snapshot), or only the one named.
func (s *Store) topics(ctx context.Context, only string) ([]record.TopicConfig, error) {
	rows, err := s.d.Read().TopicRows(ctx, only)
	if err != nil {
		return nil, err
	}
	var out []record.TopicConfig
	for _, r := range rows {
		if len(out) == 0 || out[len(out)-1].Name != r.Topic {
			out = append(out, record.TopicConfig{Name: r.Topic, Project: r.Project})
		}
		if r.Queue != "" {
			t := &out[len(out)-1]
			t.Queues = append(t.Queues, r.Queue)
		}
	}
	return out, nil
}

// ScheduleList returns every schedule, sorted by name.
func (s *Store) ScheduleList(ctx context.Context) ([]record.Schedule, error) {
	defer s.op("ScheduleList", time.Now())
	scs, err := s.d.Read().ScheduleList(ctx)
	if err != nil {
		return nil, fmt.Errorf("list schedules: %w", err)
	}
	return scs, nil
}

// MessageSend stores msgs: one statement when none carries a dedup id, one
// transaction otherwise.
func (s *Store) MessageSend(ctx context.Context, msgs []store.MessageSendParams) ([]store.MessageSendResult, error) {
	defer s.op("MessageSend", time.Now())
	for _, m := range msgs {
		if err := m.Validate(); err != nil {
			return nil, err
		}
	}
	if len(msgs) == 0 {
		return nil, nil
	}
	write := s.d.Write
	if hasDedup(msgs) {
		write = s.d.InTx
	}
	var res []store.MessageSendResult
	err := write(ctx, func(q Queries) error {
		var err error
		res, err = s.send(ctx, q, msgs)
		return err
	})
	if err != nil {
		return nil, store.Wrapf(s.sendError(ctx, err, msgs), "send %d messages to queue %s", len(msgs), msgs[0].Queue)
	}
	return res, nil
}

func hasDedup(msgs []store.MessageSendParams) bool {
	for _, m := range msgs {
		if m.DedupID != "" {
			return true
		}
	}
	return false
}

// send stores msgs through q, which is a transaction when any has a dedup
// id. IDs increase along msgs.
func (s *Store) send(ctx context.Context, q Queries, msgs []store.MessageSendParams) ([]store.MessageSendResult, error) {
	now := s.nowUTC()
	res := make([]store.MessageSendResult, len(msgs))
	rows := make([]NewMessage, len(msgs))
	for i, m := range msgs {
		attrs, err := EncodeAttrs(m.Attributes)
		if err != nil {
			return nil, err
		}
		body := m.Body
		if body == nil {
			body = []byte{} // nil would bind as NULL
		}
		rows[i] = NewMessage{Queue: m.Queue, Body: body, Attributes: attrs, GroupID: CleanText(m.GroupID),
			DedupID: CleanText(m.DedupID), VisibleAt: now.Add(m.Delay).Truncate(time.Microsecond)}
	}
	if !hasDedup(msgs) {
		ids, err := q.MessageInsert(ctx, now, rows)
		if err != nil {
			return nil, err
		}
		for i, id := range ids {
			res[i].ID = id
		}
		return res, nil
	}
	return res, s.sendDedup(ctx, q, now, rows, res)
}

// sendDedup stores the messages whose dedup id was not used for the same
// queue within store.DedupWindow, nor earlier in rows; the others are
// reported as duplicates of the message that used it. Each id is claimed
// before any message is stored, in key order so concurrent senders lock in
// one order: of two transactions sending one id at once, the second waits
// for the first and finds the id taken.
func (s *Store) sendDedup(ctx context.Context, q Queries, now time.Time, rows []NewMessage, res []store.MessageSendResult) error {
	cutoff := now.Add(-store.DedupWindow)
	// Forget expired ids first, so that the table holds one window's worth.
	if err := q.DedupPrune(ctx, cutoff); err != nil {
		return fmt.Errorf("prune dedup ids: %w", err)
	}
	first := map[DedupKey]int{} // the first message of rows with the key
	var keys []DedupKey
	for i, m := range rows {
		k := DedupKey{Queue: m.Queue, DedupID: m.DedupID}
		if _, ok := first[k]; ok || m.DedupID == "" {
			continue
		}
		first[k] = i
		keys = append(keys, k)
	}
	sort.Slice(keys, func(a, b int) bool {
		if keys[a].Queue != keys[b].Queue {
			return keys[a].Queue < keys[b].Queue
		}
		return keys[a].DedupID < keys[b].DedupID
	})
	claimed, err := q.DedupClaim(ctx, keys, now, cutoff)
	if err != nil {
		return fmt.Errorf("claim dedup ids: %w", err)
	}
	var taken, mine []DedupKey
	for i, k := range keys {
		if claimed[i] {
			mine = append(mine, k)
		} else {
			taken = append(taken, k)
		}
	}
	// The ids not claimed belong to messages sent earlier: report theirs.
	earlier := map[DedupKey]int64{}
	if len(taken) > 0 {
		ids, err := q.DedupLookup(ctx, taken)
		if err != nil {
			return fmt.Errorf("look up dedup ids: %w", err)
		}
		for i, k := range taken {
			earlier[k] = ids[i]
		}
	}
	var keep []NewMessage
	var keepAt []int
	for i, m := range rows {
		k := DedupKey{Queue: m.Queue, DedupID: m.DedupID}
		if id, ok := earlier[k]; ok {
			res[i] = store.MessageSendResult{ID: id, Duplicate: true}
			continue
		}
		if m.DedupID != "" && first[k] != i {
			continue // a duplicate of one kept earlier in rows: filled in below
		}
		keep, keepAt = append(keep, m), append(keepAt, i)
	}
	if len(keep) > 0 {
		ids, err := q.MessageInsert(ctx, now, keep)
		if err != nil {
			return err
		}
		for j, at := range keepAt {
			res[at].ID = ids[j]
		}
	}
	for i, m := range rows {
		if j := first[DedupKey{Queue: m.Queue, DedupID: m.DedupID}]; m.DedupID != "" && !res[i].Duplicate && j != i {
			res[i] = store.MessageSendResult{ID: res[j].ID, Duplicate: true}
		}
	}
	for i := range mine {
		mine[i].MessageID = res[first[mine[i]]].ID
	}
	if err := q.DedupSetMessage(ctx, mine); err != nil {
		return fmt.Errorf("remember dedup ids: %w", err)
	}
	return nil
}

// sendError names the first queue of msgs that does not exist when err is
// a foreign key violation, read after the failed write is gone.
func (s *Store) sendError(ctx context.Context, err error, msgs []store.MessageSendParams) error {
	if !s.d.IsForeignKey(err) {
		return err
	}
	for _, m := range msgs {
		if err := queueExists(ctx, s.d.Read(), m.Queue); err != nil {
			return err
		}
	}
	return errors.New("foreign key violation, yet every queue exists (removed and added again meanwhile?)")
}

// TopicPublish sends one copy of msg to every queue subscribed to topic, in
// one transaction.
func (s *Store) TopicPublish(ctx context.Context, topic string, msg store.MessageSendParams) (int, error) {
	defer s.op("TopicPublish", time.Now())
	n := 0
	var msgs []store.MessageSendParams
	err := s.d.InTx(ctx, func(q Queries) error {
		// A deploy cannot remove the topic under us.
		if err := q.TopicKeep(ctx, topic); err != nil {
			return missing(err, "topic", topic)
		}
		queues, err := q.TopicQueues(ctx, topic)
		if err != nil || len(queues) == 0 {
			return err
		}
		msgs = make([]store.MessageSendParams, len(queues))
		for i, name := range queues {
			msgs[i] = msg
			msgs[i].Queue = name
		}
		if err := msgs[0].Validate(); err != nil {
			return err
		}
		res, err := s.send(ctx, q, msgs)
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
		return 0, store.Wrapf(s.sendError(ctx, err, msgs), "publish to topic %s", topic)
	}
	return n, nil
}

// queueState looks up the queue a receive or fail works on, with its
// visibility defaulted.
func queueState(ctx context.Context, q Queries, name string) (*record.QueueConfig, error) {
	c, err := q.QueueGet(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return nil, store.NotFound("queue", name)
	}
	if err != nil {
		return nil, fmt.Errorf("look up queue %s: %w", name, err)
	}
	if c.VisibilityTimeout <= 0 {
		c.VisibilityTimeout = record.DefaultVisibilityTimeout
	}
	return c, nil
}

// MessageReceive claims up to p.Max visible messages. A message received
// MaxReceives times whose last receive ran out without ack or fail (the
// consumer crashed) is moved to the dead-letter queue first instead of
// being delivered again.
//
// Acks passed along (p.AckIDs) are applied first in the same write, so a
// consumer's ack and its next receive cost one commit.
func (s *Store) MessageReceive(ctx context.Context, p store.MessageReceiveParams) ([]record.Message, error) {
	defer s.op("MessageReceive", time.Now())
	ackIDs, ackReceipts, err := received(p.AckIDs, p.AckReceipts)
	if err != nil {
		return nil, fmt.Errorf("receive from queue %s: %w", p.Queue, err)
	}
	if p.Max <= 0 {
		if len(ackIDs) > 0 {
			if _, err := s.MessageAck(ctx, p.Queue, ackIDs, ackReceipts); err != nil {
				return nil, fmt.Errorf("receive from queue %s: %w", p.Queue, err)
			}
		}
		return nil, nil
	}
	token, err := ReceiptToken()
	if err != nil {
		return nil, fmt.Errorf("receive from queue %s: %w", p.Queue, err)
	}
	if p.Owner != "" {
		token = CleanText(p.Owner) + "/" + token
	}
	var out []record.Message
	err = s.d.Write(ctx, func(q Queries) error {
		c, err := queueState(ctx, q, p.Queue)
		if err != nil {
			return err
		}
		vis := c.VisibilityTimeout
		if p.Visibility > 0 {
			vis = p.Visibility
		}
		now := s.nowUTC()
		out, err = q.MessageReceive(ctx, MessageClaim{Queue: p.Queue, Token: token, Now: now,
			Until: now.Add(vis).Truncate(time.Microsecond), Max: p.Max, FIFO: c.FIFO,
			MaxReceives: c.MaxReceives, DeadLetter: c.DeadLetter, AckIDs: ackIDs, AckReceipts: ackReceipts})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("receive from queue %s: %w", p.Queue, err)
	}
	// RETURNING follows no ORDER BY; hand them out oldest first.
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// ReceiptToken returns the random part of one receive's receipts; each
// receipt is the token followed by the message (or execution) id.
func ReceiptToken() (string, error) {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b) + ".", nil
}

// MessageAck deletes received messages whose receipts still match. An empty
// receipt (never received) acks nothing.
func (s *Store) MessageAck(ctx context.Context, queue string, ids []int64, receipts []string) (int, error) {
	defer s.op("MessageAck", time.Now())
	keepIDs, keepReceipts, err := received(ids, receipts)
	if err != nil {
		return 0, fmt.Errorf("ack on queue %s: %w", queue, err)
	}
	if len(keepIDs) == 0 {
		return 0, nil
	}
	var n int64
	err = s.d.Write(ctx, func(q Queries) error {
		var err error
		n, err = q.MessageAck(ctx, queue, keepIDs, keepReceipts)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("ack %d messages on queue %s: %w", len(keepIDs), queue, err)
	}
	return int(n), nil
}

// received keeps the ids and receipts of messages that were received: an
// empty receipt (never received) acks nothing.
func received(ids []int64, receipts []string) ([]int64, []string, error) {
	if len(ids) != len(receipts) {
		return nil, nil, fmt.Errorf("%d ids but %d receipts", len(ids), len(receipts))
	}
	for _, r := range receipts {
		if r == "" {
			var keepIDs []int64
			var keepReceipts []string
			for i := range ids {
				if receipts[i] != "" {
					keepIDs, keepReceipts = append(keepIDs, ids[i]), append(keepReceipts, receipts[i])
				}
			}
			return keepIDs, keepReceipts, nil
		}
	}
	return ids, receipts, nil
}

// MessageFail returns received messages: exhausted ones to the dead-letter
// queue, the others visible again after their delay; those never delivered
// give their receive back, so a throttled consumer does not push messages
// toward the dead-letter queue. Stale receipts are ignored.
func (s *Store) MessageFail(ctx context.Context, queue string, fails []store.MessageFailParams) error {
	defer s.op("MessageFail", time.Now())
	b := MessageFailBatch{Queue: queue}
	for _, f := range fails {
		if f.Receipt == "" {
			continue // never received: nothing to return
		}
		f.Delay, f.Error = max(f.Delay, 0), CleanText(f.Error)
		if f.NotAttempted {
			b.Returns = append(b.Returns, f)
		} else {
			b.Fails = append(b.Fails, f)
		}
	}
	if len(b.Returns) == 0 && len(b.Fails) == 0 {
		return nil
	}
	err := s.d.Write(ctx, func(q Queries) error {
		c, err := queueState(ctx, q, queue)
		if err != nil {
			return err
		}
		b.Now, b.MaxReceives, b.DeadLetter = s.nowUTC(), c.MaxReceives, c.DeadLetter
		return q.MessageFail(ctx, b)
	})
	if err != nil {
		return fmt.Errorf("fail %d messages on queue %s: %w", len(fails), queue, err)
	}
	return nil
}

// MessagePeek lists up to limit messages (0: 1000) of queue by ID, without
// receiving them.
func (s *Store) MessagePeek(ctx context.Context, queue string, limit int) ([]record.Message, error) {
	defer s.op("MessagePeek", time.Now())
	if limit <= 0 {
		limit = 1000
	}
	r := s.d.Read()
	if err := queueExists(ctx, r, queue); err != nil {
		return nil, err // it names the queue
	}
	out, err := r.MessagePeek(ctx, queue, limit)
	if err != nil {
		return nil, fmt.Errorf("peek queue %s: %w", queue, err)
	}
	// A receipt is the receiver's right to ack; looking is not receiving.
	for i := range out {
		out[i].Receipt = ""
	}
	return out, nil
}

func queueExists(ctx context.Context, q Queries, queue string) error {
	_, err := q.QueueProject(ctx, queue)
	return missing(err, "queue", queue)
}

// missing names what a query did not find: a bare ErrNotFound becomes
// store.NotFound(kind, name); other errors pass unchanged.
func missing(err error, kind, name string) error {
	if errors.Is(err, store.ErrNotFound) {
		return store.NotFound(kind, name)
	}
	return err
}

// QueueRedrive moves up to max (0: all) of from's messages, oldest first, to
// to, as new: receive count 0, visible now, no receipt or last error. Their
// attributes, including a dead-letter move's "error", stay.
func (s *Store) QueueRedrive(ctx context.Context, from, to string, max int) (int, error) {
	defer s.op("QueueRedrive", time.Now())
	limit := max
	if limit < 0 {
		limit = 0
	}
	var n int64
	err := s.d.InTx(ctx, func(q Queries) error {
		for _, name := range []string{from, to} {
			if name == "" {
				continue
			}
			if err := q.QueueKeep(ctx, name); err != nil {
				return missing(err, "queue", name)
			}
		}
		var err error
		n, err = q.MessageRedrive(ctx, from, to, limit, s.nowUTC())
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
	defer s.op("QueueStats", time.Now())
	r := s.d.Read()
	if err := queueExists(ctx, r, queue); err != nil {
		return nil, err // it names the queue
	}
	st, err := r.QueueStats(ctx, queue, s.nowUTC())
	if err != nil {
		return nil, fmt.Errorf("stats of queue %s: %w", queue, err)
	}
	st.Queue = queue
	return st, nil
}

// QueueNextVisible reports when the queue next has a message to hand out:
// for FIFO queues only the oldest message of each group counts, since the
// others wait for it.
func (s *Store) QueueNextVisible(ctx context.Context, queue string) (time.Time, error) {
	defer s.op("QueueNextVisible", time.Now())
	r := s.d.Read()
	c, err := r.QueueGet(ctx, queue)
	if errors.Is(err, store.ErrNotFound) {
		return time.Time{}, store.NotFound("queue", queue)
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("next visible of queue %s: %w", queue, err)
	}
	next, err := r.QueueNextVisible(ctx, queue, c.FIFO)
	if err != nil {
		return time.Time{}, fmt.Errorf("next visible of queue %s: %w", queue, err)
	}
	return next, nil
}

// ScheduleFire moves a schedule's next fire from p.Expected to p.Next and
// sends p.Message, in one transaction, only if it still is p.Expected. A
// racing node's update waits for the row lock, then finds next_fire changed.
func (s *Store) ScheduleFire(ctx context.Context, p store.ScheduleFireParams) (bool, error) {
	defer s.op("ScheduleFire", time.Now())
	if err := p.Message.Validate(); err != nil {
		return false, fmt.Errorf("fire schedule %s: %w", p.Name, err)
	}
	msgs := []store.MessageSendParams{p.Message}
	fired := false
	err := s.d.InTx(ctx, func(q Queries) error {
		ok, err := q.ScheduleAdvance(ctx, p.Name, p.Expected.UTC().Truncate(time.Microsecond), p.Next.UTC().Truncate(time.Microsecond))
		if err != nil {
			return err
		}
		if !ok {
			// Fired already, unless there is no such schedule.
			_, err := q.ScheduleGet(ctx, p.Name)
			return missing(err, "schedule", p.Name)
		}
		if _, err := s.send(ctx, q, msgs); err != nil {
			return err
		}
		fired = true
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("fire schedule %s: %w", p.Name, s.sendError(ctx, err, msgs))
	}
	return fired, nil
}

// EncodeAttrs stores attributes as a JSON object; none is "{}". Keys and
// values are cleaned as guest text is, since PostgreSQL's jsonb refuses NUL.
func EncodeAttrs(a map[string]string) (string, error) {
	if len(a) == 0 {
		return "{}", nil
	}
	clean := make(map[string]string, len(a))
	for k, v := range a {
		clean[CleanText(k)] = CleanText(v)
	}
	b, err := json.Marshal(clean)
	if err != nil {
		return "", fmt.Errorf("encode attributes: %w", err)
	}
	return string(b), nil
}

// DecodeMessage finishes a message read back by an adapter: attributes from
// their JSON (none is a nil map), a body never nil, times in UTC.
func DecodeMessage(m *record.Message, attrs string) error {
	if m.Body == nil {
		m.Body = []byte{}
	}
	m.SentAt, m.VisibleAt = m.SentAt.UTC(), m.VisibleAt.UTC()
	m.Attributes = nil
	if attrs == "{}" || attrs == "" {
		return nil
	}
	if err := json.Unmarshal([]byte(attrs), &m.Attributes); err != nil {
		return fmt.Errorf("message %d: decode attributes: %w", m.ID, err)
	}
	return nil
}
