package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/stratahq/strata/internal/record"
)

// EventsApplyParams are the event parts of a project's deploy (carried in
// DeploymentApplyParams.Events and applied in the same transaction): the
// complete sets of queues, topics and schedules of the project afterwards.
// A queue or topic name owned by another project is ErrConflict; a
// DeadLetter, consumer or topic subscription naming something that is not
// in the deploy (or belongs to another project) is ErrNotFound.
// Queues that exist keep their messages; queues no longer listed are
// deleted with their messages. A schedule whose Spec/Timezone is unchanged
// keeps its NextFire (so a redeploy neither skips nor repeats a fire).
type EventsApplyParams struct {
	Queues    []record.QueueConfig
	Topics    []record.TopicConfig
	Schedules []record.Schedule
}

// Validate checks what needs no database: names, kinds, limits, nothing
// listed twice (ErrConflict), and dead-letter queues and topic
// subscriptions that name queues of this deploy (ErrNotFound otherwise).
// The Project fields are ignored: backends set them to project.
// DeploymentApplyParams.Validate calls it.
func (p EventsApplyParams) Validate(project string) error {
	queues := make(map[string]bool, len(p.Queues))
	for _, q := range p.Queues {
		if q.Name == "" {
			return fmt.Errorf("deploy project %s: queue with empty name", project)
		}
		if queues[q.Name] {
			return fmt.Errorf("deploy project %s: queue %s listed twice: %w", project, q.Name, ErrConflict)
		}
		queues[q.Name] = true
		switch q.Kind {
		case record.QueueUser, record.QueueAsync, record.QueueTopic:
		default:
			return fmt.Errorf("deploy project %s: queue %s: kind %q is not %s, %s or %s", project, q.Name, q.Kind, record.QueueUser, record.QueueAsync, record.QueueTopic)
		}
		if q.VisibilityTimeout < 0 || q.MaxReceives < 0 || q.BatchSize < 0 || q.RetryBase < 0 {
			return fmt.Errorf("deploy project %s: queue %s: visibility timeout, max receives, batch size and retry base must not be negative", project, q.Name)
		}
		if q.DeadLetter == q.Name {
			return fmt.Errorf("deploy project %s: queue %s is its own dead-letter queue", project, q.Name)
		}
	}
	for _, q := range p.Queues {
		if q.DeadLetter != "" && !queues[q.DeadLetter] {
			return fmt.Errorf("deploy project %s: queue %s: dead-letter queue %s is not a queue of this deploy: %w", project, q.Name, q.DeadLetter, ErrNotFound)
		}
	}
	topics := make(map[string]bool, len(p.Topics))
	for _, t := range p.Topics {
		if t.Name == "" {
			return fmt.Errorf("deploy project %s: topic with empty name", project)
		}
		if topics[t.Name] {
			return fmt.Errorf("deploy project %s: topic %s listed twice: %w", project, t.Name, ErrConflict)
		}
		topics[t.Name] = true
		subs := make(map[string]bool, len(t.Queues))
		for _, q := range t.Queues {
			if !queues[q] {
				return fmt.Errorf("deploy project %s: topic %s: subscribed queue %s is not a queue of this deploy: %w", project, t.Name, q, ErrNotFound)
			}
			if subs[q] {
				return fmt.Errorf("deploy project %s: topic %s: queue %s subscribed twice: %w", project, t.Name, q, ErrConflict)
			}
			subs[q] = true
		}
	}
	schedules := make(map[string]bool, len(p.Schedules))
	for _, s := range p.Schedules {
		if s.Name == "" || s.Function == "" || s.Spec == "" {
			return fmt.Errorf("deploy project %s: schedule %q: name, function and spec are required", project, s.Name)
		}
		if s.NextFire.IsZero() {
			return fmt.Errorf("deploy project %s: schedule %s: next fire time is required", project, s.Name)
		}
		if schedules[s.Name] {
			return fmt.Errorf("deploy project %s: schedule %s listed twice: %w", project, s.Name, ErrConflict)
		}
		schedules[s.Name] = true
	}
	return nil
}

// Validate checks a message before it is stored.
func (m MessageSendParams) Validate() error {
	if m.Queue == "" {
		return errors.New("send: message names no queue")
	}
	if m.Delay < 0 {
		return fmt.Errorf("send to queue %s: negative delay %s", m.Queue, m.Delay)
	}
	return nil
}

// MessageSendParams is one message to send.
type MessageSendParams struct {
	Queue      string
	Body       []byte
	Attributes map[string]string
	GroupID    string
	// DedupID: a second send with the same id to the same queue within
	// DedupWindow is accepted and dropped (reported as Duplicate).
	DedupID string
	Delay   time.Duration
}

// DedupWindow is how long a deduplication id is remembered (as SQS).
const DedupWindow = 5 * time.Minute

// MessageSendResult reports one send.
type MessageSendResult struct {
	ID        int64
	Duplicate bool // an earlier message had the same DedupID; nothing new was stored
}

// MessageReceiveParams claims up to Max visible messages.
type MessageReceiveParams struct {
	Queue string
	Max   int
	// Owner, when set, is the receiving node's id: the receipts start
	// with it and '/', so NodeRelease can return the messages of a node
	// that died holding them.
	Owner string
	// Visibility overrides the queue's VisibilityTimeout when > 0.
	Visibility time.Duration
	// AckIDs and AckReceipts, when set, acknowledge messages of Queue
	// received earlier, as MessageAck does (stale receipts are ignored),
	// in the same write as the claim and before it: a consumer's ack of
	// one batch and its receive of the next share one commit. With Max
	// 0, only the acks run. On error neither happened, or both.
	AckIDs      []int64
	AckReceipts []string
}

// MessageFailParams returns a received message after a failed delivery.
type MessageFailParams struct {
	ID      int64
	Receipt string
	Delay   time.Duration // visible again after this
	Error   string        // recorded on the message (and in the DLQ)
	// NotAttempted: the message was never delivered (the consumer was at
	// its concurrency limit), so this receive does not count: ReceiveCount
	// goes back down by one and the message never moves to the DLQ here.
	NotAttempted bool
}

// ScheduleFireParams records one fire: NextFire moves from Expected to Next
// and the message is sent, in one transaction, only if NextFire still equals
// Expected. That compare-and-set is what makes each fire happen once even
// when several nodes race for it.
type ScheduleFireParams struct {
	Name     string
	Expected time.Time
	Next     time.Time
	Message  MessageSendParams
}

// Events is the storage of queues, topics and schedules. It is part of
// Store; both backends implement it and storetest specifies it.
type Events interface {
	QueueGet(ctx context.Context, name string) (*record.QueueConfig, error)
	QueueList(ctx context.Context) ([]record.QueueConfig, error)
	TopicGet(ctx context.Context, name string) (*record.TopicConfig, error)
	TopicList(ctx context.Context) ([]record.TopicConfig, error)

	// MessageSend stores messages durably (all or nothing) before
	// returning. Unknown queue: ErrNotFound.
	MessageSend(ctx context.Context, msgs []MessageSendParams) ([]MessageSendResult, error)
	// TopicPublish stores one copy of the message in every queue
	// subscribed to the topic, in one transaction, and returns how many
	// copies were stored (0 without subscribers; unknown topic:
	// ErrNotFound). A DedupID applies per queue.
	TopicPublish(ctx context.Context, topic string, msg MessageSendParams) (int, error)
	// MessageReceive claims visible messages in the order they became
	// visible (send order for messages sent without delay): each gets
	// ReceiveCount+1, a fresh Receipt, and VisibleAt = now + visibility.
	// In a FIFO queue it returns at most the oldest message of each group
	// and none from a group that has a message in flight. Messages whose
	// ReceiveCount already reached MaxReceives are moved to the dead-letter
	// queue instead of being returned (a consumer that crashes without
	// failing them cannot keep them forever).
	MessageReceive(ctx context.Context, p MessageReceiveParams) ([]record.Message, error)
	// MessageAck deletes received messages; a stale receipt (the message
	// was received again since) is ignored and reported in the count.
	MessageAck(ctx context.Context, queue string, ids []int64, receipts []string) (acked int, err error)
	// MessageFail returns received messages: each becomes visible after
	// its Delay, or, when it has reached MaxReceives, moves to the
	// dead-letter queue with Attributes "error", "attempts" and
	// "source_queue" set (deleted when there is none).
	MessageFail(ctx context.Context, queue string, fails []MessageFailParams) error
	// MessagePeek lists up to limit (0: 1000) messages by id without
	// receiving them (dlq list); receipts are left empty.
	MessagePeek(ctx context.Context, queue string, limit int) ([]record.Message, error)
	// QueueRedrive moves up to max messages (0 = all) from one queue to
	// another, resetting their receive counts; returns how many moved.
	// With to == "", each message goes back to the queue named by its
	// "source_queue" attribute (a DLQ shared by several queues redrives to
	// each), and messages without one, or whose source queue no longer
	// exists, stay where they are.
	QueueRedrive(ctx context.Context, from, to string, max int) (int, error)
	QueueStats(ctx context.Context, queue string) (*record.QueueStats, error)
	// QueueNextVisible reports when the next message of the queue becomes
	// visible (zero time: empty queue), so a dispatcher can sleep until then.
	QueueNextVisible(ctx context.Context, queue string) (time.Time, error)

	ScheduleList(ctx context.Context) ([]record.Schedule, error)
	// ScheduleFire performs ScheduleFireParams' compare-and-set; fired is
	// false when another node (or an earlier run) fired it already.
	ScheduleFire(ctx context.Context, p ScheduleFireParams) (fired bool, err error)
}
