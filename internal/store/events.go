package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Queue kinds. Every event source is a queue with one consumer function:
// user queues from the manifest, and internal queues the deploy creates for
// async invokes (and schedules) of each function and for each function's
// topic subscriptions. The dispatcher only knows queues.
const (
	QueueUser  = "user"  // declared under queues: in strata.yaml
	QueueAsync = "async" // "_async.<function>": async invokes, scheduled fires, async routes
	QueueTopic = "topic" // "_topic.<topic>.<function>": a function's subscription to a topic
)

// QueueConfig is one queue of a project. Queue names are unique across
// projects.
type QueueConfig struct {
	Name    string `json:"name"`
	Project string `json:"project"`
	Kind    string `json:"kind"` // QueueUser, QueueAsync, QueueTopic
	// VisibilityTimeout: a received message is hidden this long; if not
	// acked by then it is delivered again. 0 means
	// DefaultVisibilityTimeout.
	VisibilityTimeout time.Duration `json:"visibility_timeout"`
	// MaxReceives: after this many receives without an ack the message goes
	// to DeadLetter (or is dropped with a platform log line when there is
	// none). 0 means unlimited.
	MaxReceives int    `json:"max_receives"`
	DeadLetter  string `json:"dead_letter,omitempty"` // a QueueUser of the same project
	FIFO        bool   `json:"fifo,omitempty"`        // order within a message group
	// Consumer is the function the dispatcher feeds, "" for none (a queue
	// read only by `strata queue receive`, or a dead-letter queue).
	Consumer  string `json:"consumer,omitempty"`
	BatchSize int    `json:"batch_size,omitempty"` // messages per invocation, default 1
	// RetryBase: for async queues, the first retry waits about this long
	// and each next one twice as long (with jitter); 0 means failed
	// messages come back after VisibilityTimeout, as SQS does.
	RetryBase time.Duration `json:"retry_base,omitempty"`
}

// TopicConfig is a topic of a project and the queues subscribed to it
// (user queues and the "_topic.*" queues of subscribed functions).
type TopicConfig struct {
	Name    string   `json:"name"`
	Project string   `json:"project"`
	Queues  []string `json:"queues"`
}

// Schedule fires a function on a cron or rate spec. Name is unique.
type Schedule struct {
	Name     string // the function's name: one schedule per function
	Project  string
	Function string
	Spec     string // "0 3 * * *", "@every 5m", "rate(5 minutes)"
	Timezone string // IANA name, "" = UTC
	// NextFire is the next time it fires, computed by the caller (the
	// events engine owns cron parsing; the store only compares times).
	NextFire time.Time
}

// DefaultVisibilityTimeout applies to queues whose VisibilityTimeout is 0
// (SQS's default).
const DefaultVisibilityTimeout = 30 * time.Second

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
	Queues    []QueueConfig
	Topics    []TopicConfig
	Schedules []Schedule
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
		case QueueUser, QueueAsync, QueueTopic:
		default:
			return fmt.Errorf("deploy project %s: queue %s: kind %q is not %s, %s or %s", project, q.Name, q.Kind, QueueUser, QueueAsync, QueueTopic)
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

// Message is a message in a queue.
type Message struct {
	ID           int64
	Queue        string
	Body         []byte
	Attributes   map[string]string // CloudEvents attributes and others (type, source, subject, datacontenttype, error, attempts …)
	GroupID      string            // FIFO message group
	DedupID      string
	SentAt       time.Time
	VisibleAt    time.Time
	ReceiveCount int
	Receipt      string // set by MessageReceive; acks and nacks must present it
	LastError    string
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
	// Visibility overrides the queue's VisibilityTimeout when > 0.
	Visibility time.Duration
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

// QueueStats describes a queue now.
type QueueStats struct {
	Queue      string
	Visible    int64 // ready to receive
	InFlight   int64 // received, not acked, visibility not expired
	Delayed    int64 // sent with a delay or failed with backoff, not yet visible
	OldestSent time.Time
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
	QueueGet(ctx context.Context, name string) (*QueueConfig, error)
	QueueList(ctx context.Context) ([]QueueConfig, error)
	TopicGet(ctx context.Context, name string) (*TopicConfig, error)
	TopicList(ctx context.Context) ([]TopicConfig, error)

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
	MessageReceive(ctx context.Context, p MessageReceiveParams) ([]Message, error)
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
	MessagePeek(ctx context.Context, queue string, limit int) ([]Message, error)
	// QueueRedrive moves up to max messages (0 = all) from one queue to
	// another, resetting their receive counts; returns how many moved.
	// With to == "", each message goes back to the queue named by its
	// "source_queue" attribute (a DLQ shared by several queues redrives to
	// each), and messages without one, or whose source queue no longer
	// exists, stay where they are.
	QueueRedrive(ctx context.Context, from, to string, max int) (int, error)
	QueueStats(ctx context.Context, queue string) (*QueueStats, error)
	// QueueNextVisible reports when the next message of the queue becomes
	// visible (zero time: empty queue), so a dispatcher can sleep until then.
	QueueNextVisible(ctx context.Context, queue string) (time.Time, error)

	ScheduleList(ctx context.Context) ([]Schedule, error)
	// ScheduleFire performs ScheduleFireParams' compare-and-set; fired is
	// false when another node (or an earlier run) fired it already.
	ScheduleFire(ctx context.Context, p ScheduleFireParams) (fired bool, err error)
}
