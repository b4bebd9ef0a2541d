package manifest

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/goccy/go-yaml/ast"

	"github.com/stratahq/strata/internal/apitype"
	"github.com/stratahq/strata/internal/record"
)

// FileName is the manifest's conventional name.
const FileName = "strata.yaml"

// MaxSize bounds what Load reads: a manifest is a page of YAML, and a
// runaway file should get an error rather than eat memory.
const MaxSize = 1 << 20

// Manifest is a parsed, valid strata.yaml.
type Manifest struct {
	Path      string     `json:"path"` // absolute path of the file
	Dir       string     `json:"dir"`  // its directory; relative paths in the file start here
	Project   string     `json:"project"`
	Functions []Function `json:"functions"`        // sorted by name
	Queues    []Queue    `json:"queues,omitempty"` // sorted by name
	Topics    []Topic    `json:"topics,omitempty"` // sorted by name

	Databases []Database    `json:"databases,omitempty"` // sorted by name
	KV        []KVNamespace `json:"kv,omitempty"`        // sorted by name
	Workflows []Workflow    `json:"workflows,omitempty"` // sorted by name
	Objects   []Object      `json:"objects,omitempty"`   // durable object classes, sorted by name
	// StateMachines are the project's Step Functions state machines,
	// sorted by name.
	StateMachines []StateMachine `json:"state_machines,omitempty"`
	// Secrets are the names of the secrets the project uses, sorted; their
	// values are set with `strata secrets set` and never appear here.
	Secrets []string `json:"secrets,omitempty"`
}

// Database is a SQL database of the project, with defaults applied. URL
// holds ${secret:NAME} references, never a password.
type Database struct {
	Name           string   `json:"name"`
	Engine         string   `json:"engine"` // record.EngineSQLite (default) or record.EnginePostgres
	URL            string   `json:"url,omitempty"`
	MaxConnections int      `json:"max_connections"`
	Pos            Position `json:"pos"`
}

// KVNamespace is a key-value namespace of the project.
type KVNamespace struct {
	Name string   `json:"name"`
	Pos  Position `json:"pos"`
}

// Workflow is a workflow of the project: a name the code of Function
// registers, with its settings (0 for the engine's defaults). Each is also
// in its function's Workflows, and so in its versioned config.
type Workflow struct {
	Name         string        `json:"name"`
	Function     string        `json:"function"`
	HistoryLimit int           `json:"history_limit,omitempty"` // events per run
	Retention    time.Duration `json:"retention,omitempty"`     // how long finished executions are kept
	Pos          Position      `json:"pos"`                     // of the workflow's name

	fnPos Position // of the function's name
}

// Object is a durable object class of the project: a name the code of
// Function defines, with its settings (0 for the engine's defaults). Each
// is also in its function's Objects, and so in its versioned config.
type Object struct {
	Name         string        `json:"name"`
	Function     string        `json:"function"`
	IdleTimeout  time.Duration `json:"idle_timeout,omitempty"`  // how long a live object stays in memory with no event
	StorageLimit int64         `json:"storage_limit,omitempty"` // bytes of storage one object may hold
	CPUMS        int64         `json:"cpu_ms,omitempty"`        // CPU time per event, over its function's (0: the function's)
	Pos          Position      `json:"pos"`                     // of the class's name

	fnPos  Position // of the function's name
	cpuPos Position // of cpu_ms's value
}

// StateMachine is a state machine of the project: its type and its
// definition, read from File and validated (YAML converted to JSON).
type StateMachine struct {
	Name       string   `json:"name"`
	Type       string   `json:"type"`       // record.StateMachineStandard (default) or record.StateMachineExpress
	File       string   `json:"file"`       // absolute path of the definition file
	Definition string   `json:"definition"` // the definition as JSON
	Pos        Position `json:"pos"`        // of the machine's name

	defPos Position // of the definition: key
}

// Binding gives a function a database, KV namespace or durable object
// class under a name of its own. Kind (record.BindingSQL, record.BindingKV
// or record.BindingObject) follows from what Resource names.
type Binding struct {
	Name     string   `json:"name"`
	Kind     string   `json:"kind"`
	Resource string   `json:"resource"`
	Pos      Position `json:"pos"` // of the resource name
}

// Queue is a queue of the project, with defaults applied.
type Queue struct {
	Name              string        `json:"name"`
	VisibilityTimeout time.Duration `json:"visibility_timeout"`
	MaxReceives       int           `json:"max_receives"`
	DeadLetter        string        `json:"dead_letter,omitempty"`
	FIFO              bool          `json:"fifo,omitempty"`
	Pos               Position      `json:"pos"`
}

// Topic is a topic of the project and the user queues subscribed to it;
// functions subscribe with their own topic: or topics: setting.
type Topic struct {
	Name   string   `json:"name"`
	Queues []string `json:"queues,omitempty"`
	Pos    Position `json:"pos"`
}

// Function is one function of the manifest, with defaults applied.
type Function struct {
	Name           string            `json:"name"`
	Source         string            `json:"source,omitempty"`  // absolute directory of a Go main package
	Wasm           string            `json:"wasm,omitempty"`    // absolute path of a prebuilt module
	Kind           string            `json:"kind"`              // reactor, command, process, or "" (detect from the module)
	Runtime        string            `json:"runtime,omitempty"` // a process function's: nodejs, python, provided
	Handler        string            `json:"handler,omitempty"` // a process function's: "index.handler"
	Events         string            `json:"events,omitempty"`  // record.EventsLambda, or "" for CloudEvents
	MemoryMB       int               `json:"memory_mb"`
	Timeout        time.Duration     `json:"timeout"`
	CPUMS          int64             `json:"cpu_ms,omitempty"` // CPU time per request in ms (0: no limit)
	MaxConcurrency int               `json:"max_concurrency"`
	Env            map[string]string `json:"env,omitempty"`
	Routes         []Route           `json:"routes,omitempty"`

	Queue    *apitype.QueueTrigger `json:"queue,omitempty"`    // the user queue it consumes
	Topics   []string              `json:"topics,omitempty"`   // topics it subscribes to, as written
	Schedule string                `json:"schedule,omitempty"` // cron or rate spec
	Timezone string                `json:"timezone,omitempty"` // IANA zone of Schedule; "" is UTC
	// Retries of async invokes, topic messages and scheduled fires (default
	// deploy.DefaultRetries), then DeadLetter (a queue) gets the event.
	Retries     int    `json:"retries"`
	DeadLetter  string `json:"dead_letter,omitempty"`
	Provisioned int    `json:"provisioned,omitempty"` // instances kept warm

	Bindings []Binding `json:"bindings,omitempty"` // sorted by name
	Secrets  []string  `json:"secrets,omitempty"`  // secrets it may read, as written
	Fetch    []string  `json:"fetch,omitempty"`    // outbound HTTP allow-list, as written
	// FetchPrivate lets fetch reach loopback and private addresses of the
	// listed hosts.
	FetchPrivate bool `json:"fetch_private,omitempty"`
	// Workflows are the workflows (top-level workflows:) that name this
	// function, sorted by name.
	Workflows []record.WorkflowConfig `json:"workflows,omitempty"`
	// Objects are the durable object classes (top-level objects:) that
	// name this function, sorted by name.
	Objects []record.ObjectClass `json:"objects,omitempty"`

	Pos Position `json:"pos"` // of the function's name
}

// Route is one route of a function. Method is "*" when the manifest gave
// none.
type Route struct {
	Method    string  `json:"method"`
	Path      string  `json:"path"`
	Async     bool    `json:"async,omitempty"`
	RateLimit float64 `json:"rate_limit,omitempty"` // requests per second, 0 for none
	RateBurst int     `json:"rate_burst,omitempty"`
	// Workflow, when set, makes the route start an execution of this
	// workflow (one of the function's) instead of invoking the function.
	Workflow string `json:"workflow,omitempty"`
	// Object, when set, forwards the request to the durable object of
	// this class (one of the function's) whose id derives from the path
	// parameter ObjectParam.
	Object      string `json:"object,omitempty"`
	ObjectParam string `json:"object_param,omitempty"`
	// WebSocket routes upgrade the request; the function gets each
	// connection event.
	WebSocket bool     `json:"websocket,omitempty"`
	Pos       Position `json:"pos"`
}

// Config is the function's configuration as versions store it. Bindings,
// workflows and object classes are sorted by name and secrets and fetch patterns sorted
// too, so that reordering them in the file changes nothing.
func (f Function) Config() record.FunctionConfig {
	c := record.FunctionConfig{
		Kind:           f.Kind,
		MemoryMB:       f.MemoryMB,
		TimeoutMS:      f.Timeout.Milliseconds(),
		CPUMS:          f.CPUMS,
		MaxConcurrency: f.MaxConcurrency,
		Provisioned:    f.Provisioned,
		FetchPrivate:   f.FetchPrivate,
		Events:         f.Events,
		Runtime:        f.Runtime,
		Handler:        f.Handler,
	}
	if len(f.Env) > 0 {
		c.Env = maps.Clone(f.Env)
	}
	for _, b := range f.Bindings {
		c.Bindings = append(c.Bindings, record.Binding{Name: b.Name, Kind: b.Kind, Resource: b.Resource})
	}
	slices.SortFunc(c.Bindings, func(a, b record.Binding) int { return strings.Compare(a.Name, b.Name) })
	if len(f.Secrets) > 0 {
		c.Secrets = slices.Sorted(slices.Values(f.Secrets))
	}
	if len(f.Fetch) > 0 {
		c.Fetch = slices.Sorted(slices.Values(f.Fetch))
	}
	if len(f.Workflows) > 0 {
		c.Workflows = slices.Clone(f.Workflows)
		slices.SortFunc(c.Workflows, func(a, b record.WorkflowConfig) int { return strings.Compare(a.Name, b.Name) })
	}
	if len(f.Objects) > 0 {
		c.Objects = slices.Clone(f.Objects)
		slices.SortFunc(c.Objects, func(a, b record.ObjectClass) int { return strings.Compare(a.Name, b.Name) })
	}
	return c
}

// RouteSpecs lists the function's routes as a deploy carries them.
func (f Function) RouteSpecs() []apitype.RouteSpec {
	out := make([]apitype.RouteSpec, len(f.Routes))
	for i, r := range f.Routes {
		out[i] = apitype.RouteSpec{
			Method: r.Method, Path: r.Path, Workflow: r.Workflow, Async: r.Async, RateLimit: r.RateLimit, RateBurst: r.RateBurst,
			Object: r.Object, ObjectParam: r.ObjectParam, WebSocket: r.WebSocket,
		}
	}
	return out
}

// spec is the function as a deploy carries it, with its module's digest.
func (f Function) spec(digest string) apitype.FunctionSpec {
	fs := apitype.FunctionSpec{
		Name:         f.Name,
		ModuleSHA256: digest,
		Config:       f.Config(),
		Routes:       f.RouteSpecs(),
		Topics:       slices.Clone(f.Topics),
		Retries:      f.Retries,
		DeadLetter:   f.DeadLetter,
	}
	if f.Queue != nil {
		q := *f.Queue
		fs.Queue = &q
	}
	if f.Schedule != "" {
		fs.Schedule = &apitype.ScheduleSpec{Spec: f.Schedule, Timezone: f.Timezone}
	}
	return fs
}

// Function returns the function with this name.
func (m *Manifest) Function(name string) (Function, bool) {
	i, found := slices.BinarySearchFunc(m.Functions, name, func(f Function, n string) int { return strings.Compare(f.Name, n) })
	if !found {
		return Function{}, false
	}
	return m.Functions[i], true
}

// Spec builds the deploy spec once every function's module is built and
// uploaded; digests maps function name to the module's SHA-256 (hex).
func (m *Manifest) Spec(digests map[string]string) (apitype.Spec, error) {
	s := apitype.Spec{Project: m.Project}
	var missing []string
	for _, f := range m.Functions {
		d, ok := digests[f.Name]
		if !ok {
			missing = append(missing, f.Name)
			continue
		}
		s.Functions = append(s.Functions, f.spec(d))
	}
	for _, q := range m.Queues {
		s.Queues = append(s.Queues, apitype.QueueSpec{
			Name:                q.Name,
			VisibilityTimeoutMS: q.VisibilityTimeout.Milliseconds(),
			MaxReceives:         q.MaxReceives,
			DeadLetter:          q.DeadLetter,
			FIFO:                q.FIFO,
		})
	}
	for _, t := range m.Topics {
		s.Topics = append(s.Topics, apitype.TopicSpec{Name: t.Name, Queues: slices.Clone(t.Queues)})
	}
	for _, d := range m.Databases {
		s.Databases = append(s.Databases, apitype.DatabaseSpec{Name: d.Name, Engine: d.Engine, URL: d.URL, MaxConnections: d.MaxConnections})
	}
	for _, k := range m.KV {
		s.KV = append(s.KV, apitype.KVSpec{Name: k.Name})
	}
	s.Secrets = slices.Clone(m.Secrets)
	for _, sm := range m.StateMachines {
		s.StateMachines = append(s.StateMachines, apitype.StateMachineSpec{Name: sm.Name, Type: sm.Type, Definition: sm.Definition})
	}
	if len(missing) > 0 {
		return apitype.Spec{}, fmt.Errorf("build spec for project %q: no module digest for %s", m.Project, strings.Join(missing, ", "))
	}
	return s, nil
}

// Load reads and parses a manifest file. Errors are Errors.
func Load(path string) (*Manifest, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, Errors{{File: path, Msg: fmt.Sprintf("cannot read manifest: %v", unwrapPath(err)), err: err}}
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxSize+1))
	if err != nil {
		return nil, Errors{{File: path, Msg: fmt.Sprintf("cannot read manifest: %v", unwrapPath(err)), err: err}}
	}
	if len(data) > MaxSize {
		return nil, Errors{{File: path, Msg: fmt.Sprintf("manifest is larger than %d bytes", MaxSize)}}
	}
	return Parse(path, data)
}

// unwrapPath drops the *PathError wrapper whose path the message already
// names.
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// Parse parses and validates a manifest. filename names the file in error
// messages and anchors relative source and wasm paths, which must exist.
// On failure the error is Errors, listing every problem found.
func Parse(filename string, data []byte) (*Manifest, error) {
	abs, err := filepath.Abs(filename)
	if err != nil {
		return nil, Errors{{File: filename, Msg: fmt.Sprintf("cannot resolve manifest path: %v", err), err: err}}
	}
	p := &parser{file: filename, dir: filepath.Dir(abs), anchors: map[string]ast.Node{}}
	m := p.parse(data)
	if len(p.errs) > 0 {
		slices.SortStableFunc(p.errs, func(a, b *Error) int {
			if a.Line != b.Line {
				return a.Line - b.Line
			}
			return a.Column - b.Column
		})
		return nil, p.errs
	}
	m.Path, m.Dir = abs, p.dir
	return m, nil
}
