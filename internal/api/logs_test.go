package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/internal/apitype"
	"github.com/stratahq/strata/internal/record"
)

// logLines decodes a GET /logs answer (NDJSON) into "function invocation
// level line" strings.
func logLines(t *testing.T, r answer) []string {
	t.Helper()
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	out := []string{}
	for _, l := range strings.Split(strings.TrimSpace(string(r.body)), "\n") {
		if l == "" {
			continue
		}
		var e apitype.LogEntry
		require.NoError(t, json.Unmarshal([]byte(l), &e), l)
		out = append(out, e.Function+" "+e.InvocationID+" "+e.Level+" "+e.Line)
	}
	return out
}

const traceA = "4bf92f3577b34da6a3ce929d0e0e4736"

// TestLogsFilters: since, until, trace, tail, level and invocation over the API, and a
// project token that tries to reach another project's lines through them.
func TestLogsFilters(t *testing.T) {
	c := newNodes(t, 1)
	n := c.nodes[0]
	c.deployFunctions(t)
	tok := c.createToken(t, "ci-a", "a").Token
	now := time.Now().UTC()
	lines := []record.LogLine{
		{InvocationID: "a-old", Function: "fa", Version: 1, Time: now.Add(-time.Hour), Stream: "stdout", Level: record.LevelInfo, Line: "old a"},
		{InvocationID: "a-1", Function: "fa", Version: 1, Time: now.Add(-time.Minute), Stream: "stderr", Level: record.LevelWarn, Line: "warn a",
			TraceID: traceA, SpanID: "00f067aa0ba902b7"},
		// b's invocation is in the same trace (a route of a that called b):
		// the trace id must not reach it through a's function.
		{InvocationID: "b-secret", Function: "fb", Version: 1, Time: now.Add(-time.Minute), Stream: "stdout", Level: record.LevelError, Line: "b's secret",
			TraceID: traceA, SpanID: "b7ad6b7169203331"},
		{InvocationID: "a-2", Function: "fa", Version: 1, Time: now.Add(-time.Second), Stream: "stdout", Level: record.LevelDebug, Line: "debug a"},
	}
	require.NoError(t, c.st.LogInsert(context.Background(), lines))

	get := func(token, query string) answer { return call(t, n, token, "GET", "/logs?"+query, "") }
	for _, tc := range []struct {
		name, query string
		want        []string
	}{
		{"since a duration", "function=fa&since=10m", []string{"fa a-1 warn warn a", "fa a-2 debug debug a"}},
		{"since a time", "function=fa&since=" + url.QueryEscape(now.Add(-2*time.Minute).Format(time.RFC3339)), []string{"fa a-1 warn warn a", "fa a-2 debug debug a"}},
		{"tail", "function=fa&tail=1", []string{"fa a-2 debug debug a"}},
		{"level", "function=fa&level=warn", []string{"fa a-1 warn warn a"}},
		{"level warning", "function=fa&level=WARNING", []string{"fa a-1 warn warn a"}},
		{"invocation", "function=fa&invocation=a-old", []string{"fa a-old info old a"}},
		{"trace", "function=fa&trace=" + traceA, []string{"fa a-1 warn warn a"}},
		{"another trace", "function=fa&trace=" + strings.Repeat("0", 31) + "1", []string{}},
		{"until a duration", "function=fa&until=30m", []string{"fa a-old info old a"}},
		{"since and until", "function=fa&since=2h&until=30s", []string{"fa a-old info old a", "fa a-1 warn warn a"}},
		{"until a time", "function=fa&until=" + url.QueryEscape(now.Add(-2*time.Minute).Format(time.RFC3339)), []string{"fa a-old info old a"}},
		// The attack: a project-a token names its own function and another
		// project's invocation id; the function filter still applies.
		{"another project's invocation", "function=fa&invocation=b-secret", []string{}},
		{"another project's invocation at error level", "function=fa&invocation=b-secret&level=error&since=1h&tail=5", []string{}},
		{"a trace that crosses into another project", "function=fa&trace=" + traceA + "&level=error&until=1s", []string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, logLines(t, get(tok, tc.query)))
		})
	}
	// Without a function, the filters need an admin token.
	for _, q := range []string{"invocation=b-secret", "level=error", "tail=10", "since=1h", "trace=" + traceA, "until=1m"} {
		r := get(tok, q)
		require.Equal(t, http.StatusForbidden, r.status, q)
		require.Contains(t, string(r.body), "needs a token of every project", q)
	}
	require.Equal(t, []string{"fb b-secret error b's secret"}, logLines(t, get(testToken, "invocation=b-secret")))
	require.Equal(t, []string{"fa a-1 warn warn a", "fb b-secret error b's secret"}, logLines(t, get(testToken, "trace="+traceA)),
		"an admin token follows a trace across projects")
	r := get(testToken, "trace="+traceA+"&function=fb")
	var e apitype.LogEntry
	require.NoError(t, json.Unmarshal(r.body, &e), "%s", r.body)
	require.Equal(t, "b7ad6b7169203331", e.SpanID, "the span id travels with the line")
	require.Equal(t, traceA, e.TraceID)
	require.Equal(t, []string{"fb b-secret error b's secret", "fa a-2 debug debug a"}, logLines(t, get(testToken, "tail=2")))

	// Bad input: the exact messages.
	for _, tc := range []struct{ query, msg string }{
		{"function=fa&since=yesterday", `since must be a positive duration like 10m or an RFC 3339 time like 2026-01-02T15:04:05Z, got "yesterday"`},
		{"function=fa&since=-5m", `since must be a positive duration like 10m or an RFC 3339 time like 2026-01-02T15:04:05Z, got "-5m"`},
		{"function=fa&tail=0", `tail must be a number of lines, 1..10000, got "0"`},
		{"function=fa&tail=ten", `tail must be a number of lines, 1..10000, got "ten"`},
		{"function=fa&level=loud", `level must be debug, info, warn or error, got "loud"`},
		{"function=fa&until=later", `until must be a positive duration like 10m or an RFC 3339 time like 2026-01-02T15:04:05Z, got "later"`},
		{"function=fa&trace=4BF92F3577B34DA6A3CE929D0E0E4736", `trace must be a trace id of 32 lowercase hex digits (the trace_id of a log line, or of a traceparent header), got "4BF92F3577B34DA6A3CE929D0E0E4736"`},
		{"function=fa&trace=" + url.QueryEscape("' OR 1=1 --"), `trace must be a trace id of 32 lowercase hex digits (the trace_id of a log line, or of a traceparent header), got "' OR 1=1 --"`},
	} {
		r := get(tok, tc.query)
		require.Equal(t, http.StatusBadRequest, r.status, tc.query)
		var eb apitype.ErrorBody
		require.NoError(t, json.Unmarshal(r.body, &eb))
		require.Equal(t, tc.msg, eb.Error, tc.query)
	}
}
