package strata

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// Event is a CloudEvents 1.0 event as it reaches a function from a queue, a
// topic or a schedule.
type Event struct {
	ID              string
	Source          string
	Type            string
	Subject         string
	Time            time.Time
	DataContentType string
	Data            []byte
	// Queue is the queue the event was delivered from (for topics, the
	// subscription's internal queue).
	Queue string
	// ReceiveCount is how many times this event has been delivered,
	// counting this one: above 1 means earlier attempts failed.
	ReceiveCount int
}

// DataAs decodes JSON data into v.
func (e Event) DataAs(v any) error {
	if err := json.Unmarshal(e.Data, v); err != nil {
		return fmt.Errorf("event %s: decode data: %w", e.ID, err)
	}
	return nil
}

// IsEvent reports whether r carries a CloudEvent (binary or batch mode).
func IsEvent(r *http.Request) bool {
	return r.Header.Get("Ce-Id") != "" || isBatch(r)
}

// isBatch reports a batch delivery from Strata's event engine: the batch
// content type with the X-Strata-Queue header the engine always sets. The
// gateway drops X-Strata-* headers from clients' requests, so an HTTP
// client posting a batch-typed body is not taken for the event engine.
func isBatch(r *http.Request) bool {
	if r.Header.Get("X-Strata-Queue") == "" {
		return false
	}
	ct, _, _ := strings.Cut(r.Header.Get("Content-Type"), ";")
	return strings.TrimSpace(ct) == "application/cloudevents-batch+json"
}

// EventFromRequest reads the one event of a binary-mode request.
func EventFromRequest(r *http.Request) (Event, error) {
	if r.Header.Get("Ce-Id") == "" {
		return Event{}, fmt.Errorf("request carries no CloudEvent (no ce-id header)")
	}
	data, err := io.ReadAll(r.Body)
	if err != nil {
		return Event{}, err
	}
	e := Event{
		ID: r.Header.Get("Ce-Id"), Source: r.Header.Get("Ce-Source"), Type: r.Header.Get("Ce-Type"),
		Subject: r.Header.Get("Ce-Subject"), DataContentType: r.Header.Get("Content-Type"), Data: data,
		Queue: r.Header.Get("X-Strata-Queue"),
	}
	e.ReceiveCount, _ = strconv.Atoi(r.Header.Get("X-Strata-Receive-Count"))
	if t := r.Header.Get("Ce-Time"); t != "" {
		e.Time, _ = time.Parse(time.RFC3339Nano, t)
	}
	return e, nil
}

// batchEvent is the JSON (structured) form of one event in a batch.
type batchEvent struct {
	ID                 string          `json:"id"`
	Source             string          `json:"source"`
	Type               string          `json:"type"`
	Time               string          `json:"time"`
	Subject            string          `json:"subject"`
	DataContentType    string          `json:"datacontenttype"`
	Data               json.RawMessage `json:"data"`
	DataBase64         string          `json:"data_base64"`
	StrataQueue        string          `json:"strataqueue"`
	StrataReceiveCount int             `json:"stratareceivecount"`
}

// EventsFromRequest reads every event of a request: the batch of a batch-mode
// request, or the one event of a binary-mode request.
func EventsFromRequest(r *http.Request) ([]Event, error) {
	if !isBatch(r) {
		e, err := EventFromRequest(r)
		if err != nil {
			return nil, err
		}
		return []Event{e}, nil
	}
	var raw []batchEvent
	if err := json.NewDecoder(r.Body).Decode(&raw); err != nil {
		return nil, fmt.Errorf("decode event batch: %w", err)
	}
	out := make([]Event, 0, len(raw))
	for _, b := range raw {
		e := Event{ID: b.ID, Source: b.Source, Type: b.Type, Subject: b.Subject, DataContentType: b.DataContentType,
			Queue: b.StrataQueue, ReceiveCount: b.StrataReceiveCount}
		e.Time, _ = time.Parse(time.RFC3339Nano, b.Time)
		switch {
		case b.DataBase64 != "":
			d, err := base64.StdEncoding.DecodeString(b.DataBase64)
			if err != nil {
				return nil, fmt.Errorf("event %s: decode data_base64: %w", b.ID, err)
			}
			e.Data = d
		case len(b.Data) > 0:
			e.Data = []byte(b.Data)
		}
		out = append(out, e)
	}
	return out, nil
}

// HandleEvent registers a handler for events delivered one at a time
// (async invokes, topics, schedules, queues with batch_size 1). Returning an
// error fails the delivery: the event is retried and, after its last
// attempt, sent to the dead-letter queue with the error.
func HandleEvent(f func(ctx context.Context, e Event) error) {
	register("HandleEvent", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		evs, err := EventsFromRequest(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var failed []string
		var lastErr error
		for _, e := range evs {
			if err := f(r.Context(), e); err != nil {
				lastErr = err
				fmt.Fprintf(os.Stderr, "event %s failed: %v\n", e.ID, err)
				failed = append(failed, e.ID)
			}
		}
		if len(evs) == 1 && len(failed) == 1 {
			// The reason travels back to the platform, which keeps it with
			// the event if it ends in a dead-letter queue.
			http.Error(w, "event failed: "+lastErr.Error(), http.StatusInternalServerError)
			return
		}
		writeBatchResult(w, failed)
	}))
}

// HandleBatch registers a handler for queue batches (batch_size > 1). It
// returns the ids of the events that failed: only those are retried, the
// rest are acknowledged (Lambda's partial batch response). Returning an
// error fails the whole batch.
func HandleBatch(f func(ctx context.Context, events []Event) (failed []string, err error)) {
	register("HandleBatch", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		evs, err := EventsFromRequest(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		failed, err := f(r.Context(), evs)
		if err != nil {
			fmt.Fprintf(os.Stderr, "batch of %d events failed: %v\n", len(evs), err)
			http.Error(w, "batch failed: "+err.Error(), http.StatusInternalServerError)
			return
		}
		writeBatchResult(w, failed)
	}))
}

// writeBatchResult answers with the partial batch failure report.
func writeBatchResult(w http.ResponseWriter, failed []string) {
	type item struct {
		ItemIdentifier string `json:"itemIdentifier"`
	}
	rep := struct {
		BatchItemFailures []item `json:"batchItemFailures"`
	}{BatchItemFailures: []item{}}
	for _, id := range failed {
		rep.BatchItemFailures = append(rep.BatchItemFailures, item{id})
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(rep)
}
