package apitype

import (
	"encoding/json"

	"github.com/stratahq/strata/internal/record"
)

// Spec is a whole project as the CLI wants it deployed: every function with
// the digest of its already uploaded module, its config, routes and
// triggers, the project's queues and topics, and its binding resources:
// databases, KV namespaces and the names of the secrets it uses (never
// their values). It is the body of the admin API's deploy call; package
// deploy validates it (deploy.Validate) and plans it.
type Spec struct {
	Project   string         `json:"project"`
	Functions []FunctionSpec `json:"functions"`
	Queues    []QueueSpec    `json:"queues,omitempty"`
	Topics    []TopicSpec    `json:"topics,omitempty"`
	Databases []DatabaseSpec `json:"databases,omitempty"`
	KV        []KVSpec       `json:"kv,omitempty"`
	Secrets   []string       `json:"secrets,omitempty"`
	// StateMachines replace the project's state machines (those the
	// Step Functions API created too: the manifest is the whole project).
	StateMachines []StateMachineSpec `json:"state_machines,omitempty"`
}

// FunctionSpec is one function of a Spec.
type FunctionSpec struct {
	Name         string                `json:"name"`
	ModuleSHA256 string                `json:"module_sha256"`
	Config       record.FunctionConfig `json:"config"`
	Routes       []RouteSpec           `json:"routes,omitempty"`

	// Triggers besides routes: a user queue the function consumes, topics
	// it subscribes to, a schedule.
	Queue    *QueueTrigger `json:"queue,omitempty"`
	Topics   []string      `json:"topics,omitempty"`
	Schedule *ScheduleSpec `json:"schedule,omitempty"`

	// Retries of async invokes, topic messages and scheduled fires after
	// the first attempt, and the queue that gets events that failed them
	// all. They configure the function's internal queues rather than its
	// version, so changing them makes no new version. A spec without
	// "retries" means 0: the manifest fills in deploy.DefaultRetries.
	Retries    int    `json:"retries"`
	DeadLetter string `json:"dead_letter,omitempty"`
}

// RouteSpec is one route of a function. Method is "*" for any method.
type RouteSpec struct {
	Method string `json:"method"`
	Path   string `json:"path"`
	// Async routes store the request, answer 202 and invoke later.
	Async bool `json:"async,omitempty"`
	// RateLimit in requests per second (0: none) with a token bucket of
	// RateBurst; both set or both zero.
	RateLimit float64 `json:"rate_limit,omitempty"`
	RateBurst int     `json:"rate_burst,omitempty"`
	// Workflow, when set, makes the route start an execution of this
	// workflow instead of invoking the function; it must be one of the
	// function's own (Config.Workflows). Not with Async.
	Workflow string `json:"workflow,omitempty"`
	// Object, when set, forwards the request to the durable object of
	// this class (one of the function's own, Config.Objects) whose id
	// derives from the path parameter ObjectParam. Not with Async or
	// Workflow.
	Object      string `json:"object,omitempty"`
	ObjectParam string `json:"object_param,omitempty"`
	// WebSocket routes upgrade the request and invoke the function once
	// per connection event. Method GET or "*"; not with Async, Workflow or
	// Object.
	WebSocket bool `json:"websocket,omitempty"`
}

// QueueSpec is a queue declared under queues: in strata.yaml.
type QueueSpec struct {
	Name                string `json:"name"`
	VisibilityTimeoutMS int64  `json:"visibility_timeout_ms"`
	MaxReceives         int    `json:"max_receives"`
	DeadLetter          string `json:"dead_letter,omitempty"` // a queue of the same Spec
	FIFO                bool   `json:"fifo,omitempty"`
}

// TopicSpec is a topic and the user queues subscribed to it besides the
// functions whose topics name it.
type TopicSpec struct {
	Name   string   `json:"name"`
	Queues []string `json:"queues,omitempty"`
}

// QueueTrigger makes a function the consumer of a user queue.
type QueueTrigger struct {
	Name      string `json:"name"`
	BatchSize int    `json:"batch_size"`
}

// ScheduleSpec fires a function on a cron or rate spec (package schedule).
type ScheduleSpec struct {
	Spec     string `json:"spec"`
	Timezone string `json:"timezone,omitempty"` // IANA; "" is UTC
}

// DatabaseSpec is a SQL database declared under databases: in strata.yaml.
// URL holds ${secret:NAME} references only, never a resolved secret.
type DatabaseSpec struct {
	Name           string `json:"name"`
	Engine         string `json:"engine"` // record.EngineSQLite or record.EnginePostgres
	URL            string `json:"url,omitempty"`
	MaxConnections int    `json:"max_connections"`
}

// KVSpec is a key-value namespace declared under kv: in strata.yaml.
type KVSpec struct {
	Name string `json:"name"`
}

// BlobStored answers PUT /blobs/{sha256}: the module is stored under its
// digest.
type BlobStored struct {
	SHA256 string `json:"sha256"`
}

// DeployResult is the answer to POST /deploy.
type DeployResult struct {
	// Plan is package deploy's Plan (deploy.Plan) as JSON: what the deploy
	// adds, changes and removes. It stays opaque here because the plan is
	// the deploy package's computation, with its methods; the CLI shows
	// PlanText.
	Plan     json.RawMessage `json:"plan"`
	PlanText string          `json:"plan_text"`
	Applied  bool            `json:"applied"`
	// Versions are the versions the deploy created, as the store keeps
	// them (record.Version has no JSON names: its fields are shown as
	// named in Go).
	Versions []record.Version `json:"versions,omitempty"`
	// Prepared says, for each new version, what making it ready took: a
	// version becomes active only after it compiled and one instance of it
	// initialised.
	Prepared []PreparedVersion `json:"prepared,omitempty"`
}

// PreparedVersion is one new version of a deploy, as prepared: compiled
// (CompileMS, 0 when the node had the code compiled already) and
// initialised once (InitMS; for a snapshotted reactor this is taking the
// snapshot).
type PreparedVersion struct {
	Function  string `json:"function"`
	Version   int    `json:"version"`
	Kind      string `json:"kind"`
	CompileMS int64  `json:"compile_ms"`
	InitMS    int64  `json:"init_ms"`
	Snapshot  bool   `json:"snapshot"`
	Reused    bool   `json:"reused,omitempty"`
}

// StateMachineSpec is a Step Functions state machine declared under
// state_machines: in strata.yaml. Definition is its Amazon States Language
// definition as JSON (a YAML file is converted by the CLI).
type StateMachineSpec struct {
	Name       string `json:"name"`
	Type       string `json:"type"` // record.StateMachineStandard or record.StateMachineExpress
	Definition string `json:"definition"`
}
