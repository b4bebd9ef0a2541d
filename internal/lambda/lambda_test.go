package lambda

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stratahq/strata/sdk/go/wire"
)

var update = flag.Bool("update", false, "rewrite the expected output of testdata cases")

// separator splits a case file into its input and its expected output, as
// Caddy's adapt tests do.
const separator = "\n----------\n"

// TestCases runs every case under testdata/KIND/: the input above the
// separator goes through KIND's translation and must give the output
// below it.
func TestCases(t *testing.T) {
	kinds := map[string]func(t *testing.T, in []byte) any{
		"http_event":      httpEventCase,
		"http_response":   httpResponseCase,
		"sqs_event":       sqsEventCase,
		"scheduled_event": scheduledEventCase,
	}
	for kind, run := range kinds {
		files, err := filepath.Glob(filepath.Join("testdata", kind, "*.txt"))
		if err != nil || len(files) == 0 {
			t.Fatalf("no cases for %s: %v", kind, err)
		}
		for _, file := range files {
			t.Run(kind+"/"+strings.TrimSuffix(filepath.Base(file), ".txt"), func(t *testing.T) {
				data, err := os.ReadFile(file)
				if err != nil {
					t.Fatal(err)
				}
				in, want, ok := strings.Cut(string(data), separator)
				if !ok {
					t.Fatalf("%s: no %q line between input and expected output", file, strings.TrimSpace(separator))
				}
				var out bytes.Buffer
				enc := json.NewEncoder(&out)
				enc.SetEscapeHTML(false)
				enc.SetIndent("", "\t")
				if err := enc.Encode(run(t, []byte(in))); err != nil {
					t.Fatal(err)
				}
				got := out.String()
				if *update {
					if err := os.WriteFile(file, []byte(in+separator+got), 0o644); err != nil {
						t.Fatal(err)
					}
					return
				}
				if got != want {
					t.Errorf("%s: output differs (go test -run TestCases -update rewrites it)\n--- got\n%s--- want\n%s", file, got, want)
				}
			})
		}
	}
}

type caseInvocation struct {
	Account   string    `json:"account"`
	Function  string    `json:"function"`
	RequestID string    `json:"requestId"`
	Time      time.Time `json:"time"`
}

func (c caseInvocation) inv() Invocation {
	return Invocation(c)
}

func decode(t *testing.T, in []byte, v any) {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(in))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		t.Fatalf("case input: %v", err)
	}
}

func httpEventCase(t *testing.T, in []byte) any {
	var c struct {
		Invocation caseInvocation `json:"invocation"`
		Route      string         `json:"route"`
		Protocol   string         `json:"protocol"`
		Request    struct {
			Method     string        `json:"method"`
			Path       string        `json:"path"`
			RawQuery   string        `json:"rawQuery"`
			Host       string        `json:"host"`
			RemoteAddr string        `json:"remoteAddr"`
			Headers    []wire.Header `json:"headers"`
			Params     []wire.Param  `json:"params"`
			Body       string        `json:"body"`
			BodyBase64 string        `json:"bodyBase64"`
		} `json:"request"`
	}
	decode(t, in, &c)
	r := c.Request
	req := &wire.Request{Method: r.Method, Path: r.Path, RawQuery: r.RawQuery, Host: r.Host, RemoteAddr: r.RemoteAddr,
		Headers: r.Headers, Params: r.Params, Body: []byte(r.Body)}
	if r.BodyBase64 != "" {
		b, err := base64.StdEncoding.DecodeString(r.BodyBase64)
		if err != nil {
			t.Fatal(err)
		}
		req.Body = b
	}
	method, path, _ := strings.Cut(c.Route, " ")
	got, err := HTTPEventRequest(c.Invocation.inv(), RouteKey(method, path), c.Protocol, req)
	if err != nil {
		t.Fatal(err)
	}
	if got.Method != "POST" || len(got.Headers) != 1 || got.Headers[0].Values[0] != "application/json" {
		t.Fatalf("event request: %+v", got)
	}
	return json.RawMessage(got.Body)
}

// caseResponse is how a case shows a response, or the error instead.
type caseResponse struct {
	Status     int           `json:"status,omitempty"`
	Headers    []wire.Header `json:"headers,omitempty"`
	Body       string        `json:"body,omitempty"`
	BodyBase64 string        `json:"bodyBase64,omitempty"`
	Error      string        `json:"error,omitempty"`
}

func httpResponseCase(t *testing.T, in []byte) any {
	resp, err := HTTPResponse(in)
	if err != nil {
		if !errors.Is(err, ErrBadResponse) {
			t.Fatalf("error %v does not wrap ErrBadResponse", err)
		}
		return caseResponse{Error: err.Error()}
	}
	out := caseResponse{Status: resp.Status, Headers: resp.Headers}
	if utf8.Valid(resp.Body) {
		out.Body = string(resp.Body)
	} else {
		out.BodyBase64 = base64.StdEncoding.EncodeToString(resp.Body)
	}
	return out
}

func sqsEventCase(t *testing.T, in []byte) any {
	var c struct {
		Invocation caseInvocation `json:"invocation"`
		Queue      string         `json:"queue"`
		Messages   []struct {
			ID           string            `json:"id"`
			Receipt      string            `json:"receipt"`
			Body         string            `json:"body"`
			BodyBase64   string            `json:"bodyBase64"`
			ReceiveCount int               `json:"receiveCount"`
			SentAt       time.Time         `json:"sentAt"`
			GroupID      string            `json:"groupId"`
			DedupID      string            `json:"dedupId"`
			SequenceNo   int64             `json:"sequenceNo"`
			Attributes   map[string]string `json:"attributes"`
		} `json:"messages"`
	}
	decode(t, in, &c)
	var msgs []Message
	for _, m := range c.Messages {
		body := []byte(m.Body)
		if m.BodyBase64 != "" {
			b, err := base64.StdEncoding.DecodeString(m.BodyBase64)
			if err != nil {
				t.Fatal(err)
			}
			body = b
		}
		msgs = append(msgs, Message{ID: m.ID, Receipt: m.Receipt, Queue: c.Queue, Body: body, ReceiveCount: m.ReceiveCount,
			SentAt: m.SentAt, GroupID: m.GroupID, DedupID: m.DedupID, SequenceNo: m.SequenceNo, Attributes: m.Attributes})
	}
	got, err := SQSEventRequest(c.Invocation.inv(), c.Queue, msgs)
	if err != nil {
		t.Fatal(err)
	}
	return json.RawMessage(got.Body)
}

func scheduledEventCase(t *testing.T, in []byte) any {
	var c struct {
		Invocation caseInvocation `json:"invocation"`
		ID         string         `json:"id"`
		Schedule   string         `json:"schedule"`
		Due        time.Time      `json:"due"`
	}
	decode(t, in, &c)
	got, err := ScheduledEventRequest(c.Invocation.inv(), c.ID, c.Schedule, c.Due)
	if err != nil {
		t.Fatal(err)
	}
	return json.RawMessage(got.Body)
}
