package server

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store"
)

// drainStore is the store as the engines see it: once the node drains it
// hands out no new work (no flow task claims, no queue messages, no
// schedule fires, no due object alarms), so other nodes take that work,
// while what is in flight still commits, acks and fails normally.
type drainStore struct {
	store.Store
	draining *atomic.Bool
}

// FlowClaim claims nothing while draining.
func (d drainStore) FlowClaim(ctx context.Context, owner string, now time.Time, leaseFor time.Duration, limit int) ([]record.FlowTask, error) {
	if d.draining.Load() {
		return nil, nil
	}
	return d.Store.FlowClaim(ctx, owner, now, leaseFor, limit)
}

// FlowNextDue reports no task due while draining, so the claim loop
// sleeps its poll interval instead of spinning on tasks it may not claim.
func (d drainStore) FlowNextDue(ctx context.Context) (time.Time, bool, error) {
	if d.draining.Load() {
		return time.Time{}, false, nil
	}
	return d.Store.FlowNextDue(ctx)
}

// MessageReceive only acknowledges what it carries while draining.
func (d drainStore) MessageReceive(ctx context.Context, p store.MessageReceiveParams) ([]record.Message, error) {
	if !d.draining.Load() {
		return d.Store.MessageReceive(ctx, p)
	}
	if len(p.AckIDs) > 0 {
		if _, err := d.Store.MessageAck(ctx, p.Queue, p.AckIDs, p.AckReceipts); err != nil {
			return nil, err
		}
	}
	return nil, nil
}

// QueueNextVisible reports no message coming while draining, so a
// consumer sleeps its poll interval instead of spinning on a backlog it
// may not claim.
func (d drainStore) QueueNextVisible(ctx context.Context, queue string) (time.Time, error) {
	if d.draining.Load() {
		return time.Time{}, nil
	}
	return d.Store.QueueNextVisible(ctx, queue)
}

// ScheduleList lists no schedule to fire while draining: another node
// fires them (a fire is a compare-and-set, so none fires twice).
func (d drainStore) ScheduleList(ctx context.Context) ([]record.Schedule, error) {
	if d.draining.Load() {
		return nil, nil
	}
	return d.Store.ScheduleList(ctx)
}

// ObjectAlarmsDue finds no due alarm while draining.
func (d drainStore) ObjectAlarmsDue(ctx context.Context, now time.Time, limit int) ([]record.ObjectAlarm, error) {
	if d.draining.Load() {
		return nil, nil
	}
	return d.Store.ObjectAlarmsDue(ctx, now, limit)
}

// countRequests counts the HTTP requests in progress on h, for the drain
// to wait for. Health and readiness probes are not counted (a balancer
// polls them throughout), nor WebSocket upgrades (a connection lives as
// long as its client: the drain's end closes them, and their clients
// reconnect to another node).
func (s *Server) countRequests(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/_strata/health" || r.URL.Path == "/_strata/ready" || strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
			h.ServeHTTP(w, r)
			return
		}
		s.requests.Add(1)
		defer s.requests.Add(-1)
		h.ServeHTTP(w, r)
	})
}

// inFlight is what a drain waits for: HTTP requests and invocations
// (queue deliveries and workflow steps included) in progress.
func (s *Server) inFlight() (requests, invocations int) {
	requests = int(s.requests.Load())
	if s.inv != nil {
		invocations = s.inv.Running()
	}
	return requests, invocations
}

// drainRecord bounds recording the draining state in the store.
const drainRecord = 2 * time.Second

// drainPoll is how often a drain looks whether what is in flight ended.
const drainPoll = 10 * time.Millisecond

// Drain prepares the node to stop without failing what it serves (the
// first half of a SIGTERM; Stop is the second). At once: the node is
// recorded draining, /_strata/health and /_strata/ready answer 503 so
// balancers stop sending, streaming answers end, and the engines take no
// new work (drainStore). Requests that still arrive are served. It then
// waits until no HTTP request and no invocation is in flight, or ctx ends,
// and closes the listeners: what is still in flight at ctx's end is cut.
// Idempotent.
func (s *Server) Drain(ctx context.Context) {
	if !s.draining.CompareAndSwap(false, true) {
		return
	}
	start := time.Now()
	// The store hears first, so a node seen draining by its health is
	// listed draining too; a store that does not answer holds the drain
	// up for at most drainRecord.
	if s.members != nil {
		rctx, cancel := context.WithTimeout(ctx, drainRecord)
		if err := s.members.SetState(rctx, record.NodeDraining); err != nil {
			s.log.Warn("record node draining", "err", err)
		}
		cancel()
	}
	if s.gw != nil {
		s.gw.SetDraining()
	}
	s.closeStopping()
	req, inv := s.inFlight()
	s.log.Info("draining: finishing what is in flight", "requests", req, "invocations", inv)
	t := time.NewTicker(drainPoll)
	defer t.Stop()
wait:
	for {
		if req, inv = s.inFlight(); req == 0 && inv == 0 {
			break
		}
		select {
		case <-ctx.Done():
			s.log.Warn("drain deadline reached; cutting what is still in flight", "requests", req, "invocations", inv)
			break wait
		case <-t.C:
		}
	}
	// Close the listeners; connections still open (idle keep-alives, or
	// requests past the deadline) end here.
	for _, hs := range []*http.Server{s.http, s.adminHTTP, s.metricsHTTP} {
		if hs == nil {
			continue
		}
		if err := hs.Shutdown(ctx); err != nil {
			_ = hs.Close()
		}
	}
	s.log.Info("drained", "duration", time.Since(start))
}

// closeStopping ends streaming answers (once: Drain and Stop both do).
func (s *Server) closeStopping() { s.stoppingOnce.Do(func() { close(s.stopping) }) }
