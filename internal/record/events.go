package record

import "time"

// Queue kinds. Every event source is a queue with one consumer function:
// user queues from the manifest, and internal queues the deploy creates for
// async invokes (and schedules) of each function and for each function's
// topic subscriptions. The dispatcher only knows queues.
const (
	QueueUser  = "user"  // declared under queues: in strata.yaml
	QueueAsync = "async" // "_async.<function>": async invokes, scheduled fires, async routes
	QueueTopic = "topic" // "_topic.<topic>.<function>": a function's subscription to a topic
)

// DefaultVisibilityTimeout applies to queues whose VisibilityTimeout is 0
// (SQS's default).
const DefaultVisibilityTimeout = 30 * time.Second

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

// QueueStats describes a queue now.
type QueueStats struct {
	Queue      string
	Visible    int64 // ready to receive
	InFlight   int64 // received, not acked, visibility not expired
	Delayed    int64 // sent with a delay or failed with backoff, not yet visible
	OldestSent time.Time
}
