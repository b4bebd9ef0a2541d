package invoke

import (
	"strings"
	"testing"
)

func TestNewTraceContinuesValidParent(t *testing.T) {
	in := "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	tc := NewTrace(in)
	if tc.TraceID != "4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Fatalf("trace id not continued: %q", tc.TraceID)
	}
	if tc.ParentID != "00f067aa0ba902b7" {
		t.Fatalf("parent = %q", tc.ParentID)
	}
	if tc.SpanID == tc.ParentID || len(tc.SpanID) != 16 {
		t.Fatalf("span id %q must be new", tc.SpanID)
	}
	if got := tc.Header(); !strings.HasPrefix(got, "00-4bf92f3577b34da6a3ce929d0e0e4736-") || !strings.HasSuffix(got, "-01") {
		t.Fatalf("header = %q", got)
	}
}

func TestNewTraceRejectsMalformed(t *testing.T) {
	for name, h := range map[string]string{
		"empty":          "",
		"uppercase":      "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
		"zero trace":     "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
		"zero span":      "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
		"version ff":     "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		"short":          "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
		"v00 extra data": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-xx",
	} {
		t.Run(name, func(t *testing.T) {
			tc := NewTrace(h)
			if tc.ParentID != "" {
				t.Fatalf("malformed header %q was continued", h)
			}
			if len(tc.TraceID) != 32 || allZero(tc.TraceID) || !isLowerHex(tc.TraceID) {
				t.Fatalf("fresh trace id %q", tc.TraceID)
			}
		})
	}
}

func TestInvocationIDsAreUUIDv7(t *testing.T) {
	seen := map[string]bool{}
	prev := ""
	for i := 0; i < 10000; i++ {
		id := newInvocationID()
		if len(id) != 36 || id[14] != '7' || !strings.ContainsRune("89ab", rune(id[19])) {
			t.Fatalf("not a UUIDv7: %s", id)
		}
		if seen[id] {
			t.Fatalf("duplicate id %s", id)
		}
		seen[id] = true
		// The millisecond prefix never goes backwards.
		if prev != "" && id[:13] < prev[:13] {
			t.Fatalf("ids out of time order: %s after %s", id, prev)
		}
		prev = id
	}
}
