package lambda

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzHTTPResponse: whatever a function answers, reading it neither
// panics nor fails without ErrBadResponse, and a response it accepts has
// a status the gateway relays and headers without line breaks.
func FuzzHTTPResponse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "http_response", "*.txt"))
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		in, _, _ := strings.Cut(string(data), separator)
		f.Add([]byte(in))
	}
	f.Fuzz(func(t *testing.T, result []byte) {
		resp, err := HTTPResponse(result)
		if err != nil {
			if !errors.Is(err, ErrBadResponse) {
				t.Fatalf("error without ErrBadResponse: %v", err)
			}
			return
		}
		if resp.Status < 200 || resp.Status > 599 {
			t.Fatalf("status %d", resp.Status)
		}
		for _, h := range resp.Headers {
			for _, v := range h.Values {
				if !validHeader(h.Name, v) {
					t.Fatalf("header %q: %q", h.Name, v)
				}
			}
		}
	})
}
