package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/stratahq/strata/internal/clock"
	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store"
)

// DefaultLease is how long a node may stay silent before the others
// declare it gone.
const DefaultLease = 15 * time.Second

// forget is how long a gone node stays listed before its row is deleted.
const forget = 24 * time.Hour

// Config configures a node's membership.
type Config struct {
	Store   store.Nodes
	ID      string // the node id (DefaultID when the operator gives none)
	Addr    string // the address other nodes and balancers reach it at
	Version string
	// Lease: silent this long, a node is gone (DefaultLease when 0). The
	// node heartbeats every third of it.
	Lease time.Duration
	// Load reports the invocations in flight, sent with each heartbeat.
	Load   func() int
	Clock  clock.Clock // what Nodes compares heartbeats with; nil: the real clock
	Logger *slog.Logger
	// Released, when set, hears what was released each time this node
	// released another's leases (a node it declared gone) or its own
	// (Release, as it exits): the server wakes the engines that can take
	// the work here and on the other nodes.
	Released func(store.NodeReleased)
}

// Membership keeps one node's row in the store.
type Membership struct {
	cfg Config

	// beatMu serialises heartbeats, so a tick that read the old state
	// never lands after the write of a new one.
	beatMu sync.Mutex
	mu     sync.Mutex
	state  string
	stop   context.CancelFunc
	done   chan struct{}
}

// New returns the membership of the node cfg describes; Join records it.
func New(cfg Config) *Membership {
	if cfg.Lease <= 0 {
		cfg.Lease = DefaultLease
	}
	if cfg.Load == nil {
		cfg.Load = func() int { return 0 }
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Membership{cfg: cfg, state: record.NodeJoining}
}

// DefaultID is a node's id when the operator gives none: the host's name
// and the port the node listens on, so two nodes on one machine differ and
// a node restarted on its port is the same node (it takes its durable
// objects back at once).
func DefaultID(listenAddr string) string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "strata"
	}
	_, port, _ := net.SplitHostPort(listenAddr)
	if port == "" {
		return host
	}
	return host + "-" + port
}

// DefaultAddr is the address a node advertises when the operator gives
// none: the one it listens on, with the host's name in place of an
// unspecified IP (0.0.0.0, ::), which no other machine can dial.
func DefaultAddr(listenAddr string) string {
	host, port, err := net.SplitHostPort(listenAddr)
	if err != nil {
		return listenAddr
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		if h, err := os.Hostname(); err == nil && h != "" {
			host = h
		}
	}
	return net.JoinHostPort(host, port)
}

// ID is the node's id: the owner name of its leases.
func (m *Membership) ID() string { return m.cfg.ID }

// Lease is how long a silent node counts as live.
func (m *Membership) Lease() time.Duration { return m.cfg.Lease }

// Join records the node as joining and starts its heartbeats. It fails
// with a message saying what to do when a live node holds the id at
// another address (store.ErrNodeIDTaken).
func (m *Membership) Join(ctx context.Context) error {
	err := m.cfg.Store.NodeJoin(ctx, store.NodeJoinParams{ID: m.cfg.ID, Addr: m.cfg.Addr, Version: m.cfg.Version, Lease: m.cfg.Lease})
	var taken *store.NodeIDTakenError
	if errors.As(err, &taken) {
		h := taken.Holder
		return fmt.Errorf("node id %q is in use by a live node at %s (%s, last heartbeat %s ago): "+
			"give this node another id with --node-id, or stop the other node first (its id frees once it exits or stays silent for %s)",
			m.cfg.ID, h.Addr, h.State, max(m.cfg.Clock.Now().Sub(h.Heartbeat), 0).Round(time.Millisecond), m.cfg.Lease)
	}
	if err != nil {
		return fmt.Errorf("join the cluster as node %s: %w", m.cfg.ID, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	m.mu.Lock()
	m.stop, m.done = cancel, make(chan struct{})
	m.mu.Unlock()
	go m.loop(ctx)
	return nil
}

// SetState records a new state at once (serving, draining, gone). A node
// never goes back: once draining it is not serving again (a load that
// ends during a drain does not undo it).
func (m *Membership) SetState(ctx context.Context, state string) error {
	m.mu.Lock()
	if rank[state] < rank[m.state] {
		m.mu.Unlock()
		return nil
	}
	m.state = state
	m.mu.Unlock()
	return m.beat(ctx)
}

// rank orders the states a node goes through.
var rank = map[string]int{record.NodeJoining: 0, record.NodeServing: 1, record.NodeDraining: 2, record.NodeGone: 3}

// State is the state the node last recorded.
func (m *Membership) State() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.state
}

// Leave stops the heartbeats and records the node gone, so its id frees
// at once and the list shows it left. Idempotent; a node that never
// joined does nothing.
func (m *Membership) Leave(ctx context.Context) error {
	m.mu.Lock()
	stop, done := m.stop, m.done
	m.stop = nil
	m.mu.Unlock()
	if stop == nil {
		return nil
	}
	stop()
	<-done
	return m.SetState(ctx, record.NodeGone)
}

func (m *Membership) beat(ctx context.Context) error {
	m.beatMu.Lock()
	defer m.beatMu.Unlock()
	m.mu.Lock()
	state := m.state
	m.mu.Unlock()
	return m.cfg.Store.NodeHeartbeat(ctx, store.NodeHeartbeatParams{ID: m.cfg.ID, Addr: m.cfg.Addr, State: state, Load: m.cfg.Load()})
}

// loop heartbeats every third of the lease and declares silent nodes gone.
func (m *Membership) loop(ctx context.Context) {
	defer close(m.done)
	t := time.NewTicker(m.cfg.Lease / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		m.tick(ctx)
	}
}

func (m *Membership) tick(ctx context.Context) {
	err := m.beat(ctx)
	if errors.Is(err, store.ErrNotFound) {
		// Silent past its lease (a stall), this node's row was taken by
		// another node with its id, or forgotten: join again, which
		// fails while the other holds the id.
		m.cfg.Logger.Error("this node's membership row is gone or held by another node; joining again", "node", m.cfg.ID, "addr", m.cfg.Addr)
		err = m.cfg.Store.NodeJoin(ctx, store.NodeJoinParams{ID: m.cfg.ID, Addr: m.cfg.Addr, Version: m.cfg.Version, Lease: m.cfg.Lease})
		if err == nil {
			err = m.beat(ctx)
		}
	}
	if err != nil && ctx.Err() == nil {
		m.cfg.Logger.Warn("node heartbeat", "node", m.cfg.ID, "err", err)
	}
	gone, err := m.cfg.Store.NodeExpire(ctx, store.NodeExpireParams{Lease: m.cfg.Lease, Forget: forget})
	if err != nil && ctx.Err() == nil {
		m.cfg.Logger.Warn("expire silent nodes", "err", err)
	}
	for _, id := range gone {
		m.cfg.Logger.Warn("node declared gone: no heartbeat within the lease; releasing its leases so other nodes take its work",
			"node", id, "lease", m.cfg.Lease)
		m.release(ctx, id)
	}
}

// Release ends the leases this node still holds (workflow tasks, objects,
// received messages), for a node that stops: the others take the work at
// once instead of after the leases run out. Call it after the engines
// stopped, so nothing claims anew behind it.
func (m *Membership) Release(ctx context.Context) {
	m.release(ctx, m.cfg.ID)
}

// release ends node id's leases. Only the node that marked id gone runs it
// (NodeExpire returns an id once), and a failure only delays the work:
// the leases still run out on their own.
func (m *Membership) release(ctx context.Context, id string) {
	r, err := m.cfg.Store.NodeRelease(ctx, id)
	if err != nil {
		if ctx.Err() == nil {
			m.cfg.Logger.Warn("release the leases of a node; they run out on their own", "node", id, "err", err)
		}
		return
	}
	if r.Tasks+r.Objects+r.Messages == 0 {
		return
	}
	m.cfg.Logger.Info("released the leases of a node", "node", id, "workflow_tasks", r.Tasks,
		"objects", r.Objects, "messages", r.Messages)
	if m.cfg.Released != nil {
		m.cfg.Released(r)
	}
}

// Nodes lists the store's nodes as this node sees them: a node silent
// for the lease is shown gone even before a heartbeat loop marked it.
func (m *Membership) Nodes(ctx context.Context) ([]record.Node, error) {
	ns, err := m.cfg.Store.NodeList(ctx)
	if err != nil {
		return nil, err
	}
	now := m.cfg.Clock.Now()
	for i := range ns {
		if ns[i].State != record.NodeGone && now.Sub(ns[i].Heartbeat) >= m.cfg.Lease {
			ns[i].State = record.NodeGone
		}
	}
	return ns, nil
}

// ValidID checks an operator's --node-id: it names the node's leases and
// shows in logs, so it is short and printable.
func ValidID(id string) error {
	if id == "" || len(id) > 128 || strings.TrimFunc(id, func(r rune) bool {
		return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_.:", r)
	}) != "" {
		return fmt.Errorf("node id %q: want 1 to 128 letters, digits, '-', '_', '.' or ':'", id)
	}
	return nil
}
