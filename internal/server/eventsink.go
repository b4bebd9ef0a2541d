package server

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/stratahq/strata/internal/events"
	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store"
	"github.com/stratahq/strata/internal/wasm"
)

// eventSink carries the events guests send (strata.Send, strata.Publish)
// from the runtime to the events engine. It is the one place that decides
// which queues and topics a function may use: those of its own project,
// and never Strata's internal queues.
type eventSink struct {
	// Set in Start before any function is loaded; the runtime is created
	// before the engine, so these cannot be constructor arguments.
	st store.Store
	ev *events.Engine
}

var _ wasm.EventSink = (*eventSink)(nil)

// SendEvent implements wasm.EventSink. Its errors reach the guest, so
// they say what to fix and never name another project.
func (k *eventSink) SendEvent(ctx context.Context, e wasm.OutboundEvent) (string, error) {
	what := "queue"
	if e.Topic {
		what = "topic"
	}
	if strings.HasPrefix(e.Name, "_") {
		return "", fmt.Errorf("%s %s is internal to Strata; send to a queue or topic declared in strata.yaml", what, e.Name)
	}
	fn, err := k.st.FunctionGet(ctx, e.Caller)
	if err != nil {
		return "", fmt.Errorf("look up calling function %s: %w", e.Caller, err)
	}
	project, kind, err := k.owner(ctx, e.Topic, e.Name)
	if errors.Is(err, store.ErrNotFound) || (err == nil && project != fn.Project) {
		// Another project's queue is reported like a missing one: a
		// function learns nothing about other projects.
		return "", fmt.Errorf("%s %s does not exist in project %s (declare it in strata.yaml; a function sends only to its own project's queues and topics)",
			what, e.Name, fn.Project)
	}
	if err != nil {
		return "", fmt.Errorf("look up %s %s: %w", what, e.Name, err)
	}
	if kind != record.QueueUser {
		return "", fmt.Errorf("%s %s is internal to Strata; send to a queue or topic declared in strata.yaml", what, e.Name)
	}
	p := events.SendParams{
		Body: e.Body, ContentType: e.Options.ContentType, Type: e.Options.Type, Subject: e.Options.Subject,
		GroupID: e.Options.GroupID, DedupID: e.Options.DedupID, Delay: time.Duration(e.Options.DelayMS) * time.Millisecond,
		Source: "/functions/" + e.Caller, TraceParent: e.TraceParent,
	}
	var res *events.SendResult
	if e.Topic {
		res, _, err = k.ev.Publish(ctx, e.Name, p)
	} else {
		res, err = k.ev.Send(ctx, e.Name, p)
	}
	if err != nil {
		return "", err
	}
	return res.ID, nil
}

// owner returns the project of a queue or topic, and for queues its kind
// (topics report record.QueueUser: every topic is declared by a user).
func (k *eventSink) owner(ctx context.Context, topic bool, name string) (project, kind string, err error) {
	if topic {
		t, err := k.st.TopicGet(ctx, name)
		if err != nil {
			return "", "", err
		}
		return t.Project, record.QueueUser, nil
	}
	q, err := k.st.QueueGet(ctx, name)
	if err != nil {
		return "", "", err
	}
	return q.Project, q.Kind, nil
}
