package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http/httptest"
	"strings"
	"testing"
)

func sign(secret, body string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(body))
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

func TestVerify(t *testing.T) {
	const secret, body = "demo-secret-change-me", `{"type":"ping"}`
	good := sign(secret, body)
	// The README quotes this value; keep them in step.
	if want := "sha256=f08c9778317e35950ab314973bfb9773e711010bac2404302a7615c1fa20f82e"; good != want {
		t.Fatalf("signature of %s = %s, README says %s", body, good, want)
	}
	tests := []struct {
		name, header, body, want string
	}{
		{"good", good, body, ""},
		{"uppercase hex", "sha256=" + strings.ToUpper(strings.TrimPrefix(good, "sha256=")), body, ""},
		{"missing", "", body, "missing X-Signature header"},
		{"no prefix", strings.TrimPrefix(good, "sha256="), body, "malformed"},
		{"sha1", "sha1=" + strings.TrimPrefix(good, "sha256="), body, "malformed"},
		{"not hex", "sha256=zz", body, "malformed"},
		{"short", good[:len(good)-2], body, "malformed"},
		{"other body", good, body + " ", "does not match"},
		{"other secret", sign("other", body), body, "does not match"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := verify(secret, tt.header, []byte(tt.body))
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("unexpected error %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestHandle(t *testing.T) {
	const body = `{"type":"ping"}`
	tests := []struct {
		name, secret, sig string
		status            int
		resp              string
	}{
		{"accepted", "demo-secret-change-me", sign("demo-secret-change-me", body), 200,
			`{"ok":true,"bytes":15,"sha256":"cdeb977b07509618335ceaa57b4b76fe3ec9c72f50102f74dcfbab92228ec6fb","event":"ping"}`},
		{"bad signature", "demo-secret-change-me", sign("wrong", body), 401, `{"error":"signature does not match the body"}`},
		{"unsigned", "demo-secret-change-me", "", 401, `{"error":"missing X-Signature header"}`},
		{"no secret configured", "", sign("", body), 500, `{"error":"webhook secret is not configured"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("WEBHOOK_SECRET", tt.secret)
			req := httptest.NewRequest("POST", "/webhook", strings.NewReader(body))
			if tt.sig != "" {
				req.Header.Set("X-Signature", tt.sig)
			}
			rec := httptest.NewRecorder()
			handle(rec, req)
			if rec.Code != tt.status || strings.TrimSpace(rec.Body.String()) != tt.resp {
				t.Errorf("got %d %s, want %d %s", rec.Code, rec.Body, tt.status, tt.resp)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q", ct)
			}
		})
	}
}
