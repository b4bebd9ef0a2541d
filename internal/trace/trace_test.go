package trace

import (
	"strings"
	"testing"
)

func TestNewContinuesValidParent(t *testing.T) {
	in := "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	tc := New(in)
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

func TestNewRejectsMalformed(t *testing.T) {
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
			tc := New(h)
			if tc.ParentID != "" {
				t.Fatalf("malformed header %q was continued", h)
			}
			if len(tc.TraceID) != 32 || allZero(tc.TraceID) || !isLowerHex(tc.TraceID) {
				t.Fatalf("fresh trace id %q", tc.TraceID)
			}
		})
	}
}

func TestNewInMatchesNew(t *testing.T) {
	for _, in := range []string{"", "garbage", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"} {
		var buf [HeaderLen]byte
		tc, h := NewIn(&buf, in)
		want := New(in)
		if h != tc.Header() || len(h) != HeaderLen {
			t.Fatalf("NewIn(%q): header %q, context renders %q", in, h, tc.Header())
		}
		if tc.ParentID != want.ParentID || tc.Flags != want.Flags || len(tc.TraceID) != 32 || len(tc.SpanID) != 16 {
			t.Fatalf("NewIn(%q) = %+v, New = %+v", in, tc, want)
		}
		if want.ParentID != "" && tc.TraceID != want.TraceID {
			t.Fatalf("NewIn(%q) did not continue the trace: %+v", in, tc)
		}
	}
}
