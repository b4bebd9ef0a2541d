package objects

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stratahq/strata/internal/host"
	"github.com/stratahq/strata/internal/invoke"
	"github.com/stratahq/strata/internal/pool"
	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/registry"
	"github.com/stratahq/strata/internal/sockets"
	"github.com/stratahq/strata/internal/store"
	"github.com/stratahq/strata/sdk/go/wire"
)

// Defaults of Config.
const (
	DefaultIdleTimeout   = 30 * time.Second
	DefaultLeaseTTL      = 30 * time.Second
	DefaultStorageLimit  = 1 << 30 // 1 GiB per object
	DefaultMaxBatch      = 512
	DefaultAlarmPoll     = 500 * time.Millisecond
	DefaultAlarmRetries  = 6
	DefaultAlarmBackoff  = 2 * time.Second
	DefaultMaxQueued     = 1000
	maxAlarmBackoff      = 5 * time.Minute
	triggerObject        = "object"
	evictHeaderSeparator = ","
)

// Errors of events (wrapped with the object).
var (
	// ErrNoClass: the project has no deployed function defining the class.
	ErrNoClass = errors.New("unknown object class")
	// ErrNotBound: the calling function neither binds nor defines the class.
	ErrNotBound = errors.New("object class not bound")
	// ErrOverloaded: too many events are queued for one object.
	ErrOverloaded = errors.New("object overloaded")
	// ErrCommit: the event's writes (or an earlier event's of the same
	// object) could not be made durable; the object was reset.
	ErrCommit = errors.New("object storage commit failed")
)

// Invoker runs invocations (*invoke.Invoker).
type Invoker interface {
	Invoke(ctx context.Context, r invoke.Request) (*invoke.Result, error)
}

// Registry finds the deployed versions (*registry.Registry).
type Registry interface {
	Lookup(function string) (d *registry.Deployed, version int, loading bool)
	Deployed() []*registry.Deployed
}

// Config configures an Engine.
type Config struct {
	// Forward, when set, runs a stub call on the node that holds the
	// object (owner, by node id): a function's stub reaches an object
	// another node holds through it instead of failing. It answers the
	// object's response, or an error when the owner cannot be reached.
	Forward  func(ctx context.Context, owner string, key record.ObjectKey, name string, req *wire.Request) (*wire.Response, error)
	Store    store.Objects
	Registry Registry
	Invoker  Invoker
	// Hub holds the node's WebSockets; nil: objects cannot accept any.
	Hub *sockets.Hub
	// Node owns the leases of the objects live here (the node id).
	Node   string
	Logger *slog.Logger
	// IdleTimeout evicts a live object after this long without an event
	// (a class's idle_timeout overrides it).
	IdleTimeout time.Duration
	// LeaseTTL is how long an object's lease lasts without renewal.
	LeaseTTL time.Duration
	// StorageLimit caps one object's storage (a class's storage_limit
	// overrides it).
	StorageLimit int64
	// Instances is how many instances of a defining function host its
	// objects (objects are spread over them by id); 0: GOMAXPROCS.
	Instances int
	// MaxQueued caps the events waiting for one object's input gate.
	MaxQueued int
	// MaxBatch caps the writes of one group commit.
	MaxBatch     int
	AlarmPoll    time.Duration
	AlarmRetries int           // failed runs of an alarm before it is dropped
	AlarmBackoff time.Duration // first retry delay, doubled each time
}

// Engine runs the durable objects of every project on this node.
type Engine struct {
	cfg Config
	log *slog.Logger
	com *committer

	mu      sync.Mutex
	live    map[record.ObjectKey]*live
	hosts   map[*pool.Pool][]*slot // the pinned slots of each deployed version
	classes map[classKey]string    // (project, class) → defining function
	// parked keeps the leases of hibernating objects (evicted with open
	// sockets), so waking one on its next message costs no lease write.
	parked map[record.ObjectKey]store.ObjectLease

	alarmsRunning sync.Map // record.ObjectKey → struct{}

	stop chan struct{}
	bg   sync.WaitGroup

	evictions atomic.Uint64
	events    atomic.Uint64
}

type classKey struct{ project, class string }

// slot is one pinned instance objects live on, and the ids evicted from
// it that its guest has not been told about yet.
type slot struct {
	pin     *pool.Pinned
	mu      sync.Mutex
	evicted []string
}

// live is one object live on this node.
type live struct {
	e    *Engine
	key  record.ObjectKey
	name string

	// gate is the input gate: an event holds it (a token in the channel)
	// from start to the hand-over of its writes.
	gate   chan struct{}
	queued atomic.Int32 // events waiting for or holding the gate

	// Guarded by gate.
	fn    string
	dep   *registry.Deployed
	cls   record.ObjectClass
	slot  *slot
	lease store.ObjectLease
	v     view
	last  *ticket // the object's latest commit
	epoch int64
	// accept is the WebSocket the running fetch event accepted.
	accept *Accept
	event  string  // the running event's kind
	held   []*slot // the running event's slot and those of the events waiting on it
	out    []pendingSend

	// The object's socket sends, released in event order once durable.
	sendMu  sync.Mutex
	sendQ   []outbox
	sending bool

	failedEpoch atomic.Int64 // the epoch whose commit failed (reset on next event)
	leaseUntil  atomic.Int64 // unix nanos the lease was last extended to
	lastUsed    atomic.Int64 // unix nanos of the last event's end
}

func (l *live) leaseRenewed(until time.Time) { l.leaseUntil.Store(until.UnixNano()) }

// New starts an engine: its committer, the eviction and lease loop, and
// the alarm loop.
func New(cfg Config) (*Engine, error) {
	if cfg.Store == nil || cfg.Registry == nil || cfg.Invoker == nil {
		return nil, errors.New("objects: store, registry and invoker are required")
	}
	if cfg.Node == "" {
		cfg.Node = "node"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	if cfg.LeaseTTL <= 0 {
		cfg.LeaseTTL = DefaultLeaseTTL
	}
	if cfg.StorageLimit <= 0 {
		cfg.StorageLimit = DefaultStorageLimit
	}
	if cfg.Instances <= 0 {
		cfg.Instances = runtime.GOMAXPROCS(0)
	}
	if cfg.MaxQueued <= 0 {
		cfg.MaxQueued = DefaultMaxQueued
	}
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = DefaultMaxBatch
	}
	if cfg.AlarmPoll <= 0 {
		cfg.AlarmPoll = DefaultAlarmPoll
	}
	if cfg.AlarmRetries <= 0 {
		cfg.AlarmRetries = DefaultAlarmRetries
	}
	if cfg.AlarmBackoff <= 0 {
		cfg.AlarmBackoff = DefaultAlarmBackoff
	}
	e := &Engine{
		cfg:     cfg,
		log:     cfg.Logger,
		com:     newCommitter(cfg.Store, cfg.LeaseTTL, cfg.MaxBatch),
		live:    map[record.ObjectKey]*live{},
		hosts:   map[*pool.Pool][]*slot{},
		classes: map[classKey]string{},
		parked:  map[record.ObjectKey]store.ObjectLease{},
		stop:    make(chan struct{}),
	}
	e.bg.Add(2)
	go e.maintain()
	go e.alarmLoop()
	return e, nil
}

// Close stops the loops, commits what is queued, releases every lease and
// closes the pinned instances.
func (e *Engine) Close(ctx context.Context) error {
	select {
	case <-e.stop:
		return nil
	default:
	}
	close(e.stop)
	e.bg.Wait()
	e.mu.Lock()
	lives := make([]*live, 0, len(e.live))
	for _, l := range e.live {
		lives = append(lives, l)
	}
	var slots []*slot
	for _, ss := range e.hosts {
		slots = append(slots, ss...)
	}
	e.mu.Unlock()
	// Events in progress finish and hand over their writes; then what is
	// queued commits; then the leases go, so the next owner (this node
	// restarted, or another) takes the objects at once.
	held := lives[:0]
	for _, l := range lives {
		select {
		case l.gate <- struct{}{}:
			held = append(held, l)
		case <-ctx.Done():
			e.com.close()
			return ctx.Err()
		}
	}
	e.com.close()
	for _, l := range held {
		if l.lease.Token != 0 {
			_ = e.cfg.Store.ObjectLeaseRelease(ctx, l.key, l.lease.Token)
		}
	}
	for _, s := range slots {
		s.pin.Unpin()
	}
	return nil
}

// Stats are the engine's counters.
type Stats struct {
	Live      int    // objects live on this node
	Events    uint64 // events run
	Evictions uint64
	Commits   uint64 // group commits
	Writes    uint64 // event writes they carried
}

func (e *Engine) Stats() Stats {
	e.mu.Lock()
	n := len(e.live)
	e.mu.Unlock()
	c, w := e.com.stats()
	return Stats{Live: n, Events: e.events.Load(), Evictions: e.evictions.Load(), Commits: c, Writes: w}
}

// classFunction finds the function of project defining class.
func (e *Engine) classFunction(project, class string) (string, *registry.Deployed, record.ObjectClass, error) {
	ck := classKey{project, class}
	e.mu.Lock()
	fn, ok := e.classes[ck]
	e.mu.Unlock()
	if ok {
		if d, _, _ := e.cfg.Registry.Lookup(fn); d != nil && d.Project == project {
			if c, ok := defines(d, class); ok {
				return fn, d, c, nil
			}
		}
	}
	for _, d := range e.cfg.Registry.Deployed() {
		if d.Project != project {
			continue
		}
		if c, ok := defines(d, class); ok {
			e.mu.Lock()
			e.classes[ck] = d.Version.Function
			e.mu.Unlock()
			return d.Version.Function, d, c, nil
		}
	}
	return "", nil, record.ObjectClass{}, fmt.Errorf("class %q: no deployed function of project %s defines it (objects: in strata.yaml): %w", class, project, ErrNoClass)
}

func defines(d *registry.Deployed, class string) (record.ObjectClass, bool) {
	for _, c := range d.Version.Config.Objects {
		if c.Name == class {
			return c, true
		}
	}
	return record.ObjectClass{}, false
}

// slotFor is the pinned slot of d's pool that id lives on: the one its
// hash picks, or when that one is held by a waiting caller, the next one
// that is not; when every slot is held (a chain of stub calls longer than
// the slots), a new slot is added.
func (e *Engine) slotFor(d *registry.Deployed, id string, held []*slot) *slot {
	e.mu.Lock()
	defer e.mu.Unlock()
	ss := e.hosts[d.Pool]
	if ss == nil {
		ss = make([]*slot, e.cfg.Instances)
		for i := range ss {
			ss[i] = &slot{pin: d.Pool.Pin()}
		}
		e.hosts[d.Pool] = ss
	}
	h := fnv.New32a()
	h.Write([]byte(id))
	first := int(h.Sum32() % uint32(len(ss)))
	for i := range ss {
		if s := ss[(first+i)%len(ss)]; !slices.Contains(held, s) {
			return s
		}
	}
	s := &slot{pin: d.Pool.Pin()}
	e.hosts[d.Pool] = append(ss, s)
	return s
}

// acquire returns the live object of key, created if absent, counted as
// having one more event queued.
func (e *Engine) acquire(key record.ObjectKey, name string) (*live, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	l := e.live[key]
	if l == nil {
		l = &live{e: e, key: key, name: name, gate: make(chan struct{}, 1)}
		if lease, ok := e.parked[key]; ok {
			delete(e.parked, key)
			l.lease = lease
			l.leaseRenewed(lease.Expires)
		}
		e.live[key] = l
	}
	if l.name == "" {
		l.name = name
	}
	if int(l.queued.Add(1)) > e.cfg.MaxQueued {
		l.queued.Add(-1)
		return nil, fmt.Errorf("object %s has %d events waiting: %w", key, e.cfg.MaxQueued, ErrOverloaded)
	}
	return l, nil
}

// event is one event to run on an object.
type event struct {
	kind    string // wire.ObjectEvent*
	req     *wire.Request
	alarmAt time.Time // alarm events: the alarm that is due
	// held are the slots of the objects whose events wait for this one
	// (a stub call from an object's event): their instances are blocked
	// in a host call, so this event must run elsewhere.
	held []*slot
}

// Result is a finished event.
type Result struct {
	*invoke.Result
	// Accept is the WebSocket the object accepted in a fetch event (its
	// response is then 101); the caller upgrades the connection.
	Accept *Accept
}

// Accept is a WebSocket a fetch event accepted.
type Accept struct {
	Key      record.ObjectKey
	Function string // the function defining the object's class
	Tags     []string
	// ID names the socket from the accept on, so the accepting event can
	// already set its attachment (and the SDK gets the id it expects).
	ID string
	// Attachment is what the accepting event set with ws_attach; the
	// connection does not exist before the event ends.
	Attachment []byte
	// pending are the messages the accepting event sent to the socket,
	// delivered once it joins the hub.
	pending []sockets.Message
}

// run runs one event on the object, through its input gate and output
// gate: it returns once the event's writes, and every earlier event's of
// the object, are durable.
func (e *Engine) run(ctx context.Context, key record.ObjectKey, name string, ev event) (*Result, error) {
	l, err := e.acquire(key, name)
	if err != nil {
		return nil, err
	}
	defer l.queued.Add(-1)
	select {
	case l.gate <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("object %s: waiting for its previous event: %w", key, ctx.Err())
	case <-e.stop:
		return nil, errClosed
	}
	held := true
	release := func() {
		if held {
			held = false
			l.lastUsed.Store(time.Now().UnixNano())
			<-l.gate
		}
	}
	defer release()
	e.events.Add(1)

	// handOff ends the event's hold on the object as soon as the guest
	// has answered (called by the pool right after the guest returns, or
	// below when it never ran): its writes go to the committer, its sends
	// are queued behind them, and the gate opens for the next event while
	// the invoker meters and logs this one.
	var wait *ticket
	var accept *Accept
	handed := false
	handOff := func(resp *wire.Response, herr error) {
		if handed {
			return
		}
		handed = true
		// A fetch event's answer is whatever status it chose, and its
		// writes stand; an alarm or WebSocket event that failed (its
		// method returned an error: the SDK answers 500) is undone, so
		// its retry starts clean.
		ok := herr == nil && resp != nil && (ev.kind == wire.ObjectEventFetch || resp.Status < 300)
		if ok && !ev.alarmAt.IsZero() && l.v.alarm.Equal(ev.alarmAt) {
			// The alarm ran and was not set again: its deletion commits
			// with what the handler wrote.
			l.setAlarm(time.Time{})
		}
		if !ok {
			l.v.rollbackEvent()
			l.accept, l.out = nil, nil
			wait = l.last
		} else if w := l.v.write(l); w != nil {
			l.last = e.com.submit(l, l.epoch, *w)
			wait = l.last
		} else {
			wait = l.last
		}
		l.queueSends(wait, l.out)
		l.out = nil
		accept = l.accept
		l.accept = nil
		release()
	}
	var res *invoke.Result
	for attempt := 0; ; attempt++ {
		if err := l.prepare(ctx, ev.held); err != nil {
			return nil, err
		}
		l.held = append(slices.Clone(ev.held), l.slot)
		if ev.kind == wire.ObjectEventAlarm && !l.v.alarm.Equal(ev.alarmAt) {
			// Set to another time, or deleted, since it was read as due.
			return &Result{Result: &invoke.Result{Response: &wire.Response{Status: 204}}}, nil
		}
		l.v.beginEvent()
		l.accept, l.event, l.out = nil, ev.kind, nil
		e.setHeaders(l, ev)
		res, err = e.cfg.Invoker.Invoke(ctx, invoke.Request{
			Function: l.fn, Trigger: triggerObject, TraceParent: headerValue(ev.req, "Traceparent"), Wire: ev.req,
			Object: l, Pinned: l.slot.pin, BeforePinned: func(uint64) { l.slot.tell(ev.req) }, AfterPinned: handOff,
			CPUMS: l.cls.CPUMS, // the class's cpu_ms over its function's
		})
		if !handed && (errors.Is(err, pool.ErrStalePin) || errors.Is(err, pool.ErrClosed)) && attempt < 2 {
			// A new version took over: the object moves to it (its guest
			// value rebuilds from storage there).
			l.v.rollbackEvent()
			l.dep = nil
			continue
		}
		break
	}
	if res != nil && err == nil {
		handOff(res.Response, nil)
	} else {
		handOff(nil, err)
	}
	out := &Result{Result: res, Accept: accept}
	if wait != nil {
		if werr := wait.wait(ctx); werr != nil {
			if errors.Is(werr, ctx.Err()) {
				return out, werr
			}
			return out, fmt.Errorf("object %s: %w: %w (the object was reset; its acknowledged state is intact)", key, ErrCommit, werr)
		}
	}
	return out, err
}

// prepare readies a live object for an event (the caller holds its
// gate): the version it runs on, its lease, its size and alarm; and
// resets it after a failed commit.
func (l *live) prepare(ctx context.Context, held []*slot) error {
	e := l.e
	if l.epoch != 0 && l.failedEpoch.Load() == l.epoch {
		// A write failed (fenced, or the store failed): what the cache and
		// the guest's value hold may never have become durable.
		if l.last != nil {
			<-l.last.done
		}
		l.resetLocked()
	}
	if l.epoch == 0 {
		l.epoch = 1
	}
	fn, d, cls, err := e.classFunction(l.key.Project, l.key.Class)
	if err != nil {
		return err
	}
	if l.dep != d {
		if l.slot != nil {
			l.slot.forget(l.key)
		}
		l.fn, l.dep, l.cls = fn, d, cls
		l.slot = e.slotFor(d, l.key.ID, held)
	} else if slices.Contains(held, l.slot) {
		// Its instance is blocked in the call that asks for it (an object
		// calling another on the same instance): it moves, and its Go
		// value is rebuilt from storage on the new one.
		l.slot.forget(l.key)
		l.slot = e.slotFor(d, l.key.ID, held)
	}
	if l.lease.Token == 0 || time.Now().UnixNano() >= l.leaseUntil.Load() {
		lease, err := e.cfg.Store.ObjectLeaseAcquire(ctx, l.key, e.cfg.Node, e.cfg.LeaseTTL)
		if err != nil {
			return fmt.Errorf("object %s: %w", l.key, err)
		}
		if l.lease.Token != 0 && lease.Token != l.lease.Token {
			// Our lease lapsed and was taken again: another owner may have
			// written meanwhile, so nothing cached is trusted.
			l.resetLocked()
		}
		l.lease = lease
		l.leaseRenewed(lease.Expires)
	}
	return l.load(ctx)
}

// resetLocked forgets everything a live object holds in memory (the
// caller holds its gate).
func (l *live) resetLocked() {
	l.v.reset()
	l.lease = store.ObjectLease{}
	l.last = nil
	l.epoch++
	if l.slot != nil {
		l.slot.forget(l.key)
	}
	l.e.evictions.Add(1)
}

// forget queues id for the guest to drop on this slot's next event.
func (s *slot) forget(k record.ObjectKey) {
	s.mu.Lock()
	s.evicted = append(s.evicted, k.Class+"/"+k.ID)
	s.mu.Unlock()
}

// tell puts the slot's evictions on the request about to run there.
func (s *slot) tell(req *wire.Request) {
	s.mu.Lock()
	ev := s.evicted
	s.evicted = nil
	s.mu.Unlock()
	if len(ev) > 0 {
		req.Headers = append(req.Headers, wire.Header{Name: wire.ObjectEvictHeader, Values: []string{strings.Join(ev, evictHeaderSeparator)}})
	}
}

// setHeaders marks ev's request as an event of l. A fetch event's
// request came from a client or a stub: any X-Strata-Object-* header it
// carries is dropped, so only the engine's reach the guest. The other
// events' requests are the engine's own.
func (e *Engine) setHeaders(l *live, ev event) {
	r := ev.req
	hs := r.Headers[:0]
	for _, h := range r.Headers {
		own := ev.kind != wire.ObjectEventFetch && !setHere(h.Name)
		if own || !strings.HasPrefix(strings.ToLower(h.Name), "x-strata-object-") {
			hs = append(hs, h)
		}
	}
	hs = append(hs,
		wire.Header{Name: wire.ObjectClassHeader, Values: []string{l.key.Class}},
		wire.Header{Name: wire.ObjectIDHeader, Values: []string{l.key.ID}},
		wire.Header{Name: wire.ObjectEventHeader, Values: []string{ev.kind}},
	)
	if l.name != "" {
		hs = append(hs, wire.Header{Name: wire.ObjectNameHeader, Values: []string{l.name}})
	}
	r.Headers = hs
}

// setHere reports the headers setHeaders and slot.tell set on every event
// (dropped first, so a retried event does not carry them twice).
func setHere(name string) bool {
	for _, h := range [...]string{wire.ObjectClassHeader, wire.ObjectIDHeader, wire.ObjectEventHeader, wire.ObjectNameHeader, wire.ObjectEvictHeader} {
		if strings.EqualFold(name, h) {
			return true
		}
	}
	return false
}

func headerValue(r *wire.Request, name string) string {
	for _, h := range r.Headers {
		if strings.EqualFold(h.Name, name) && len(h.Values) > 0 {
			return h.Values[0]
		}
	}
	return ""
}

// ObjectCall answers the storage, alarm and WebSocket calls of the event
// running on l (host.Object).
func (l *live) ObjectCall(ctx context.Context, _ *host.Call, req wire.ObjectRequest) (*wire.ObjectResponse, error) {
	if req.TxID != "" {
		if n := len(l.v.txs); n == 0 || l.v.txs[n-1].id != req.TxID {
			return nil, fmt.Errorf("transaction %q is not open: %w", req.TxID, ErrBadRequest)
		}
	}
	switch req.Op {
	case wire.ObjectOpGet:
		return l.get(ctx, req.Keys)
	case wire.ObjectOpPut:
		return l.put(ctx, req.Entries)
	case wire.ObjectOpDelete:
		return l.del(ctx, req.Keys)
	case wire.ObjectOpList:
		return l.list(ctx, req)
	case wire.ObjectOpDeleteAll:
		return l.deleteAll()
	case wire.ObjectOpTxBegin:
		return l.txBegin(), nil
	case wire.ObjectOpTxCommit, wire.ObjectOpTxRollback:
		return l.txEnd(req.TxID, req.Op == wire.ObjectOpTxCommit)
	case wire.ObjectOpAlarmGet:
		resp := &wire.ObjectResponse{}
		if !l.v.alarm.IsZero() {
			resp.AtMS = l.v.alarm.UnixMilli()
		}
		return resp, nil
	case wire.ObjectOpAlarmSet:
		if req.AtMS <= 0 {
			return nil, fmt.Errorf("alarm time %d is not a positive unix millisecond time: %w", req.AtMS, ErrBadRequest)
		}
		l.setAlarm(time.UnixMilli(req.AtMS))
		return &wire.ObjectResponse{}, nil
	case wire.ObjectOpAlarmDelete:
		if !l.v.alarm.IsZero() {
			l.setAlarm(time.Time{})
		}
		return &wire.ObjectResponse{}, nil
	}
	return l.e.socketCall(ctx, l, req)
}

// Object serves binding_call op 6 for any invocation (wasm.Objects):
// object-scoped ops go to the object the invocation runs for, the rest
// (stubs, ids, connections) act within the caller's project.
func (e *Engine) Object(ctx context.Context, c *host.Call, req wire.ObjectRequest) (*wire.ObjectResponse, error) {
	if c == nil {
		return nil, errors.New("object call outside an invocation")
	}
	switch req.Op {
	case wire.ObjectOpStubFetch, wire.ObjectOpNewID, wire.ObjectOpIDFromName:
		return e.stubCall(ctx, c, req)
	case wire.ObjectOpConnSend, wire.ObjectOpConnClose:
		return e.connCall(c, req)
	}
	if c.Object == nil {
		return nil, fmt.Errorf("%s: %w", req.Op, ErrNotInObject)
	}
	return c.Object.ObjectCall(ctx, c, req)
}

// maintain evicts idle objects and renews the leases of live ones.
func (e *Engine) maintain() {
	defer e.bg.Done()
	every := min(max(e.cfg.IdleTimeout/4, 50*time.Millisecond), time.Second, e.cfg.LeaseTTL/3)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-e.stop:
			return
		case <-t.C:
			e.evictIdle(time.Now())
			e.renewLeases(time.Now())
			e.unpinRetired()
		}
	}
}

// evictIdle drops the objects idle past their timeout with no event
// queued and their last commit done. Their sockets stay open (a
// hibernating object); their lease is released when they have none.
func (e *Engine) evictIdle(now time.Time) {
	e.mu.Lock()
	var victims []*live
	for k, l := range e.live {
		idle := e.cfg.IdleTimeout
		if l.cls.IdleTimeoutMS > 0 {
			idle = time.Duration(l.cls.IdleTimeoutMS) * time.Millisecond
		}
		if l.queued.Load() != 0 || now.Sub(time.Unix(0, l.lastUsed.Load())) < idle {
			continue
		}
		select {
		case l.gate <- struct{}{}:
		default:
			continue
		}
		if l.last != nil {
			select {
			case <-l.last.done:
			default:
				<-l.gate
				continue
			}
		}
		delete(e.live, k)
		victims = append(victims, l)
	}
	e.mu.Unlock()
	for _, l := range victims {
		if l.slot != nil {
			l.slot.forget(l.key)
		}
		e.evictions.Add(1)
		if l.lease.Token == 0 {
			continue
		}
		if e.hasSockets(l.key) {
			// Hibernating: the node keeps its sockets, and its lease.
			e.mu.Lock()
			if _, back := e.live[l.key]; !back {
				l.lease.Expires = time.Unix(0, l.leaseUntil.Load())
				e.parked[l.key] = l.lease
			}
			e.mu.Unlock()
			continue
		}
		_ = e.cfg.Store.ObjectLeaseRelease(context.Background(), l.key, l.lease.Token)
		// The gate stays taken: an event that raced the eviction and
		// holds this *live gets a fresh one (acquire looks the map up).
	}
}

// unpinRetired closes the pinned instances of versions no longer active
// (a deploy replaced them): their objects move to the new version on
// their next event, and these instances would otherwise hold their memory.
func (e *Engine) unpinRetired() {
	active := map[*pool.Pool]bool{}
	for _, d := range e.cfg.Registry.Deployed() {
		active[d.Pool] = true
	}
	e.mu.Lock()
	var retired []*slot
	for p, ss := range e.hosts {
		if !active[p] {
			retired = append(retired, ss...)
			delete(e.hosts, p)
		}
	}
	e.mu.Unlock()
	for _, s := range retired {
		s.pin.Unpin()
	}
}

// renewLeases extends leases due to expire within half their time.
func (e *Engine) renewLeases(now time.Time) {
	e.mu.Lock()
	var due []*live
	for _, l := range e.live {
		if l.leaseUntil.Load() != 0 && time.Unix(0, l.leaseUntil.Load()).Sub(now) < e.cfg.LeaseTTL/2 {
			due = append(due, l)
		}
	}
	type parkedLease struct {
		k record.ObjectKey
		l store.ObjectLease
	}
	var parked []parkedLease
	for k, pl := range e.parked {
		if pl.Expires.Sub(now) < e.cfg.LeaseTTL/2 {
			parked = append(parked, parkedLease{k, pl})
		}
	}
	e.mu.Unlock()
	for _, p := range parked {
		err := e.cfg.Store.ObjectLeaseRenew(context.Background(), p.k, p.l.Token, e.cfg.LeaseTTL)
		e.mu.Lock()
		if cur, ok := e.parked[p.k]; ok && cur.Token == p.l.Token {
			if err == nil {
				cur.Expires = time.Now().Add(e.cfg.LeaseTTL)
				e.parked[p.k] = cur
			} else if errors.Is(err, store.ErrFenced) || !e.hasSockets(p.k) {
				delete(e.parked, p.k)
			}
		}
		e.mu.Unlock()
		if errors.Is(err, store.ErrFenced) {
			e.closeMovedSockets(p.k)
		}
	}
	for _, l := range due {
		select {
		case l.gate <- struct{}{}:
		default:
			continue // busy: its next commit or event renews it
		}
		if l.lease.Token != 0 {
			err := e.cfg.Store.ObjectLeaseRenew(context.Background(), l.key, l.lease.Token, e.cfg.LeaseTTL)
			switch {
			case err == nil:
				l.leaseRenewed(time.Now().Add(e.cfg.LeaseTTL))
			case errors.Is(err, store.ErrFenced):
				e.log.Warn("object lease lost to another owner", "object", l.key.String(), "project", l.key.Project)
				l.resetLocked()
				e.closeMovedSockets(l.key)
			}
		}
		<-l.gate
	}
}

// closeMovedSockets closes this node's WebSockets of an object whose lease
// another node took (this node stalled past it, or was declared gone):
// with 1012 (service restart), so clients reconnect, and a reconnect is
// routed to the object's new holder. Messages to the old sockets could
// only run here, where the object can no longer commit.
func (e *Engine) closeMovedSockets(k record.ObjectKey) {
	if e.cfg.Hub == nil {
		return
	}
	conns := e.cfg.Hub.ByObject(k)
	for _, c := range conns {
		_ = c.Close(sockets.CodeServiceRestart, "the object moved to another node; reconnect")
	}
	if len(conns) > 0 {
		e.log.Warn("object lease lost to another node: its WebSockets here are closed for their clients to reconnect",
			"object", k.String(), "project", k.Project, "sockets", len(conns))
	}
}

// LiveObjects lists the objects live on this node of a project.
func (e *Engine) LiveObjects(project string) []record.ObjectKey {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []record.ObjectKey
	for k := range e.live {
		if k.Project == project {
			out = append(out, k)
		}
	}
	slices.SortFunc(out, func(a, b record.ObjectKey) int {
		return strings.Compare(a.Class+"/"+a.ID, b.Class+"/"+b.ID)
	})
	return out
}
