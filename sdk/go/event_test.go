package strata

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestEventFromBinaryRequest(t *testing.T) {
	r := httptest.NewRequest("POST", "/", strings.NewReader(`{"id":1}`))
	r.Header.Set("Ce-Id", "e1")
	r.Header.Set("Ce-Source", "/queues/orders")
	r.Header.Set("Ce-Type", "order.created")
	r.Header.Set("Ce-Time", "2026-11-25T10:00:00Z")
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("X-Strata-Receive-Count", "2")
	if !IsEvent(r) {
		t.Fatal("not recognised as an event")
	}
	e, err := EventFromRequest(r)
	if err != nil {
		t.Fatal(err)
	}
	var v struct{ ID int }
	if e.ID != "e1" || e.Type != "order.created" || e.ReceiveCount != 2 || e.Time.Hour() != 10 || e.DataAs(&v) != nil || v.ID != 1 {
		t.Fatalf("%+v %+v", e, v)
	}
	if _, err := EventFromRequest(httptest.NewRequest("GET", "/", nil)); err == nil {
		t.Fatal("a plain request parsed as an event")
	}
}

func batchReq() *http.Request {
	body := `[{"specversion":"1.0","id":"a","source":"s","type":"t","data":{"n":1}},
	          {"specversion":"1.0","id":"b","source":"s","type":"t","data_base64":"AAEC"}]`
	r := httptest.NewRequest("POST", "/", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/cloudevents-batch+json")
	r.Header.Set("X-Strata-Queue", "orders") // the event engine sets it on every batch
	return r
}

// A batch-typed body without the event engine's X-Strata-Queue (which the
// gateway drops from clients' requests) is an HTTP client's, not a batch of
// the project's events.
func TestBatchNeedsTheEngineHeader(t *testing.T) {
	r := batchReq()
	r.Header.Del("X-Strata-Queue")
	if IsEvent(r) {
		t.Fatal("a batch-typed request without X-Strata-Queue taken for an event")
	}
	if _, err := EventsFromRequest(r); err == nil {
		t.Fatal("a batch-typed request without X-Strata-Queue parsed as events")
	}
}

func TestEventsFromBatch(t *testing.T) {
	evs, err := EventsFromRequest(batchReq())
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 || string(evs[0].Data) != `{"n":1}` || string(evs[1].Data) != "\x00\x01\x02" {
		t.Fatalf("%+v", evs)
	}
}

func TestHandleBatchReportsPartialFailures(t *testing.T) {
	defer func(h http.Handler) { handler = h }(handler)
	HandleBatch(func(ctx context.Context, evs []Event) ([]string, error) { return []string{"b"}, nil })
	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, batchReq())
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"itemIdentifier":"b"`) || strings.Contains(rec.Body.String(), `"a"`) {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
}

func TestHandleEventFailureIs500(t *testing.T) {
	defer func(h http.Handler) { handler = h }(handler)
	HandleEvent(func(ctx context.Context, e Event) error { return errors.New("boom") })
	r := httptest.NewRequest("POST", "/", strings.NewReader("x"))
	r.Header.Set("Ce-Id", "e1")
	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, r)
	if rec.Code != 500 {
		t.Fatalf("%d", rec.Code)
	}
}
