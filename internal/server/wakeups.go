package server

import (
	"context"
	"log/slog"
	"strings"
)

// wakeBus carries wake-ups between the nodes sharing a store: the
// PostgreSQL store's LISTEN/NOTIFY (store/postgres/wakeups.go). A SQLite
// store has one node and no bus.
type wakeBus interface {
	Publish(ctx context.Context, payload string) error
	Subscribe(ctx context.Context, fn func(payload string), ready chan<- struct{})
}

// Kinds of wake-up.
const (
	wakeQueue     = "q" // a message was sent to queue key
	wakeExecution = "f" // execution key got a signal, cancel or child's end
	wakeDeploy    = "d" // something was deployed or rolled back
)

// sep separates a wake-up's node, kind and key: node ids, queue names and
// execution ids do not hold it.
const sep = "\x1f"

// wakeups publishes this node's wake-ups without ever holding up the
// sender: they queue in a bounded buffer, a full buffer drops them (the
// other nodes' polling catches up), and the publisher coalesces repeats.
type wakeups struct {
	bus  wakeBus
	node string
	out  chan string
	log  *slog.Logger
}

func newWakeups(bus wakeBus, node string, log *slog.Logger) *wakeups {
	return &wakeups{bus: bus, node: node, out: make(chan string, 4096), log: log}
}

// publish tells the other nodes; safe on a nil *wakeups (no bus).
func (w *wakeups) publish(kind, key string) {
	if w == nil {
		return
	}
	select {
	case w.out <- kind + sep + key:
	default:
	}
}

// run publishes until ctx ends.
func (w *wakeups) run(ctx context.Context) {
	for {
		var first string
		select {
		case <-ctx.Done():
			return
		case first = <-w.out:
		}
		batch := map[string]bool{first: true}
	drain:
		for len(batch) < 256 {
			select {
			case p := <-w.out:
				batch[p] = true
			default:
				break drain
			}
		}
		for p := range batch {
			if err := w.bus.Publish(ctx, w.node+sep+p); err != nil && ctx.Err() == nil {
				w.log.Debug("publish a wake-up", "err", err)
			}
		}
	}
}

// listen hands other nodes' wake-ups to handle until ctx ends.
func (w *wakeups) listen(ctx context.Context, ready chan<- struct{}, handle func(kind, key string)) {
	w.bus.Subscribe(ctx, func(payload string) {
		node, rest, ok := strings.Cut(payload, sep)
		if !ok || node == w.node {
			return // this node's own
		}
		kind, key, ok := strings.Cut(rest, sep)
		if ok {
			handle(kind, key)
		}
	}, ready)
}
