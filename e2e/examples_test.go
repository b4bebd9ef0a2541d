package e2e

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"image"
	_ "image/jpeg"
	_ "image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestExampleImageResize(t *testing.T) {
	t.Parallel()
	d := startDev(t, "image-resize")
	png, err := os.ReadFile(filepath.Join(d.dir, "testdata", "in.png"))
	if err != nil {
		t.Fatal(err)
	}
	jpg, err := os.ReadFile(filepath.Join(d.dir, "testdata", "in.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, query string
		body        []byte
		format      string
		w, h        int
	}{
		{"png square", "w=64&h=64", png, "png", 64, 64},
		{"png width keeps aspect", "w=20", png, "png", 20, 15},
		{"jpeg", "w=16&h=12", jpg, "jpeg", 16, 12},
	} {
		r := do(t, "POST", d.url+"/resize?"+tc.query, tc.body, nil)
		if r.status != 200 {
			t.Fatalf("%s: status %d %s", tc.name, r.status, r.body)
		}
		cfg, format, err := image.DecodeConfig(bytes.NewReader(r.body))
		if err != nil {
			t.Fatalf("%s: answer is not an image: %v", tc.name, err)
		}
		if format != tc.format || cfg.Width != tc.w || cfg.Height != tc.h {
			t.Fatalf("%s: got %s %dx%d, want %s %dx%d", tc.name, format, cfg.Width, cfg.Height, tc.format, tc.w, tc.h)
		}
		if r.header.Get("Content-Type") != "image/"+tc.format {
			t.Fatalf("%s: content type %q", tc.name, r.header.Get("Content-Type"))
		}
	}
	if r := do(t, "POST", d.url+"/resize?w=64&h=64", []byte("hello"), nil); r.status != 400 || !bytes.Contains(r.body, []byte("not a PNG or JPEG")) {
		t.Fatalf("not an image: %d %s", r.status, r.body)
	}
	// Over the platform's 6 MiB request cap: refused by the gateway.
	if r := do(t, "POST", d.url+"/resize?w=1", make([]byte, 6<<20+1), nil); r.status != 413 {
		t.Fatalf("oversized body: %d %s", r.status, r.body)
	}
}

func TestExampleWebhookHMAC(t *testing.T) {
	t.Parallel()
	d := startDev(t, "webhook-hmac")
	body := []byte(`{"type":"ping"}`)
	mac := hmac.New(sha256.New, []byte("demo-secret-change-me"))
	mac.Write(body)
	sig := "sha256=" + hex.EncodeToString(mac.Sum(nil))

	r := do(t, "POST", d.url+"/webhook", body, map[string]string{"X-Signature": sig})
	if r.status != 200 || !bytes.Contains(r.body, []byte(`"ok":true`)) {
		t.Fatalf("signed delivery: %d %s", r.status, r.body)
	}
	for name, hdr := range map[string]map[string]string{
		"missing":   nil,
		"malformed": {"X-Signature": "sha256=00"},
		"wrong":     {"X-Signature": "sha256=" + strings.Repeat("ab", 32)},
	} {
		if r := do(t, "POST", d.url+"/webhook", body, hdr); r.status != 401 {
			t.Fatalf("%s signature: %d %s", name, r.status, r.body)
		}
	}
	// A tampered body with the original signature is refused.
	if r := do(t, "POST", d.url+"/webhook", append(body, ' '), map[string]string{"X-Signature": sig}); r.status != 401 {
		t.Fatalf("tampered body: %d %s", r.status, r.body)
	}
}

func TestExampleCommandGuest(t *testing.T) {
	t.Parallel()
	d := startDev(t, "command-guest")
	r := do(t, "GET", d.url+"/greet/world", nil, nil)
	if r.status != 200 || string(r.body) != "hello, world!\n" {
		t.Fatalf("greet: %d %q", r.status, r.body)
	}
	if r := do(t, "GET", d.url+"/greet/ada", nil, map[string]string{"X-Greeting": "hi"}); string(r.body) != "hi, ada!\n" {
		t.Fatalf("greet with header: %q", r.body)
	}
	// Binary-safe round trip of every byte value.
	bin := make([]byte, 4096)
	for i := range bin {
		bin[i] = byte(i * 7)
	}
	r = do(t, "POST", d.url+"/echo", bin, map[string]string{"Content-Type": "application/octet-stream"})
	if r.status != 200 || !bytes.Equal(r.body, bin) {
		t.Fatalf("echo: %d, %d bytes back, equal=%v", r.status, len(r.body), bytes.Equal(r.body, bin))
	}
	if r := do(t, "GET", d.url+"/echo", nil, nil); r.status != 405 {
		t.Fatalf("GET /echo: %d", r.status)
	}
}

// TestCommandGuestRebuildsFromSource checks that the committed guest.wasm
// is what main.c builds to with Debian's clang and wasi-libc (which .ci/run
// installs), so the example's source and module never drift apart.
func TestCommandGuestRebuildsFromSource(t *testing.T) {
	t.Parallel()
	dir := copyProject(t, "command-guest")
	out := filepath.Join(t.TempDir(), "rebuilt.wasm")
	cmd := exec.Command("sh", "build.sh")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "OUT="+out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build.sh (needs clang-14 and wasi-libc; see the README): %v\n%s", err, b)
	}
	rebuilt, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	committed, err := os.ReadFile(filepath.Join(dir, "guest.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(rebuilt, committed) {
		t.Fatalf("examples/command-guest/guest.wasm is stale: run ./build.sh there (rebuilt %d bytes, committed %d)", len(rebuilt), len(committed))
	}
}
