package invoke

import (
	"context"
	"strings"
	"testing"

	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store"
	"github.com/stratahq/strata/internal/wasm/wasmtest"
)

// TestLogsReadableWhenInvokeReturns: the caller writes its response when
// Invoke returns; a reader that then syncs (as GET /logs does) finds every
// line of the invocation in the store, with its trace and span ids. No
// Close, no waiting.
func TestLogsReadableWhenInvokeReturns(t *testing.T) {
	b := setup(t)
	b.deploy(t, "hello", wasmtest.Guest(t, wasmtest.Hello), helloCfg)
	ctx := context.Background()
	for i := range 20 {
		res, err := b.inv.Invoke(ctx, req("/n"))
		if err != nil {
			t.Fatal(err)
		}
		if err := b.inv.SyncLogs(ctx); err != nil {
			t.Fatal(err)
		}
		got, err := b.st.LogList(ctx, store.LogListParams{InvocationID: res.InvocationID})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0].Line != "hello guest handling GET /n" || got[0].Level != record.LevelInfo {
			t.Fatalf("invocation %d: lines in the store when Invoke returned: %+v", i, got)
		}
		// The line carries the invocation's trace and span, so it can be
		// found from a trace (strata logs --trace) and shown under its span.
		if got[0].TraceID != res.Trace.TraceID || got[0].SpanID != res.Trace.SpanID || len(got[0].SpanID) != 16 {
			t.Fatalf("invocation %d: line trace %q span %q, want %q %q", i, got[0].TraceID, got[0].SpanID, res.Trace.TraceID, res.Trace.SpanID)
		}
	}
}

// TestPanicLogsAreErrors: a guest panic's "panic:" line and the platform's
// "invocation failed" line are readable at once and are errors, so
// `strata logs --level error` finds them.
func TestPanicLogsAreErrors(t *testing.T) {
	b := setup(t)
	b.deploy(t, "hello", wasmtest.Guest(t, wasmtest.Panic), helloCfg)
	ctx := context.Background()
	res, err := b.inv.Invoke(ctx, req("/"))
	if err == nil {
		t.Fatal("the panic guest did not fail")
	}
	if err := b.inv.SyncLogs(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := b.st.LogList(ctx, store.LogListParams{InvocationID: res.InvocationID, MinLevel: record.LevelError})
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, l := range got {
		lines = append(lines, l.Stream+" "+l.Line)
	}
	all := strings.Join(lines, "\n")
	if !strings.Contains(all, "stderr panic: guest panicked on purpose") || !strings.Contains(all, "platform invocation failed: hello@1: ") {
		t.Fatalf("error lines of the panicking invocation:\n%s", all)
	}
}

func TestLineLevel(t *testing.T) {
	for _, tc := range []struct {
		line string
		want record.LogLevel
	}{
		{"hello guest handling GET /", record.LevelInfo},
		{"", record.LevelInfo},
		{"Error reading the file", record.LevelInfo}, // a sentence, not a level word
		{"ERROR could not connect", record.LevelError},
		{"WARN slow query", record.LevelWarn},
		{"[DEBUG] cache miss", record.LevelDebug},
		{"INFO: started", record.LevelInfo},
		{"2026/12/02 17:00:00 ERROR db down", record.LevelError},   // slog's default logger
		{"2026/12/02 17:00:00 WARN+2 odd level", record.LevelWarn}, // slog's in-between levels
		{"2026/12/02 17:00:00 ordinary log.Println", record.LevelInfo},
		{`time=2026-12-02T17:00:00Z level=WARN msg="disk low"`, record.LevelWarn}, // slog text
		{`time=2026-12-02T17:00:00Z level=error msg=x`, record.LevelError},
		{`{"time":"2026-12-02T17:00:00Z","level":"DEBUG","msg":"x"}`, record.LevelDebug}, // slog JSON
		{`{"severity":"ERROR","message":"x"}`, record.LevelError},
		{`{"level":8,"msg":"x"}`, record.LevelError},
		{`{"msg":"no level"}`, record.LevelInfo},
		{`{not json`, record.LevelInfo},
		{"panic: boom", record.LevelError},
		{"fatal error: all goroutines are asleep - deadlock!", record.LevelError},
		{"error: bad input", record.LevelError},
		{"warning: deprecated", record.LevelWarn},
		{"goroutine 1 [running]:", record.LevelInfo},
		{"OK WARN not first", record.LevelInfo}, // only timestamps may come before the level word
	} {
		t.Run(tc.line, func(t *testing.T) {
			if got := lineLevel(tc.line); got != tc.want {
				t.Fatalf("lineLevel(%q) = %s, want %s", tc.line, got, tc.want)
			}
		})
	}
}
