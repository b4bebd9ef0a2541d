package e2e

import (
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// pgLink is a loopback TCP relay in front of PostgreSQL that a test can
// cut and restore, as a network failure between a node and its database
// would: cutting closes every relayed connection and refuses new ones.
type pgLink struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	down  bool
	conns map[net.Conn]bool
}

func newPGLink(t *testing.T, target string) *pgLink {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := &pgLink{ln: ln, target: target, conns: map[net.Conn]bool{}}
	t.Cleanup(func() { ln.Close(); l.cut() })
	go l.serve()
	return l
}

func (l *pgLink) serve() {
	for {
		c, err := l.ln.Accept()
		if err != nil {
			return
		}
		l.mu.Lock()
		down := l.down
		l.mu.Unlock()
		if down {
			c.Close()
			continue
		}
		up, err := net.Dial("tcp", l.target)
		if err != nil {
			c.Close()
			continue
		}
		l.mu.Lock()
		l.conns[c], l.conns[up] = true, true
		l.mu.Unlock()
		go func() { _, _ = io.Copy(up, c); up.Close(); c.Close() }()
		go func() { _, _ = io.Copy(c, up); up.Close(); c.Close() }()
	}
}

// cut drops every relayed connection and refuses new ones until restore.
func (l *pgLink) cut() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.down = true
	for c := range l.conns {
		c.Close()
	}
	l.conns = map[net.Conn]bool{}
}

func (l *pgLink) restore() {
	l.mu.Lock()
	l.down = false
	l.mu.Unlock()
}

// TestNodeLosesItsDatabase (issue 16, bad input): a node whose link to
// PostgreSQL is cut keeps serving what needs no store (a warm route),
// stays up, and once the link is back does what needs the store again (a
// deploy, served) without a restart.
func TestNodeLosesItsDatabase(t *testing.T) {
	pg := os.Getenv("STRATA_TEST_POSTGRES")
	if pg == "" {
		t.Skip("STRATA_TEST_POSTGRES not set")
	}
	t.Parallel()
	u, err := url.Parse(pg)
	if err != nil {
		t.Fatal(err)
	}
	link := newPGLink(t, u.Host)
	via := *u
	via.Host = link.ln.Addr().String()
	_, schema := pgSchema(t, pg, "strata_e2e_outage")
	p, srv, tok := startServer(t, pgStoreArgsIn(t, via.String(), schema)...)

	dir := copyProject(t, "hello")
	mustRun(t, dir, "deploy", "--server", srv, "--token", tok)
	if r := do(t, "GET", srv+"/hello/before", nil, nil); r.status != 200 {
		t.Fatalf("before the cut: %d %s", r.status, r.body)
	}

	link.cut()
	cutAt := time.Now()
	// Warm requests need no store: they are served throughout.
	for i := range 20 {
		if r := do(t, "GET", srv+fmt.Sprintf("/hello/cut%d", i), nil, nil); r.status != 200 || !strings.Contains(string(r.body), fmt.Sprintf("cut%d", i)) {
			t.Fatalf("warm request %d during the cut: %d %s", i, r.status, r.body)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// What needs the store fails with an error, and the node stays up.
	if _, _, code := run(t, dir, nil, "deploy", "--server", srv, "--token", tok); code == 0 {
		t.Fatal("a deploy succeeded while the node could not reach its database")
	}
	if p.exited() {
		t.Fatalf("the node exited when it lost its database")
	}
	link.restore()
	t.Logf("database unreachable for %v", time.Since(cutAt).Round(time.Millisecond))

	// Back: a new version deploys and is served, without a restart.
	manifest := filepath.Join(dir, "strata.yaml")
	b, err := os.ReadFile(manifest)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(manifest, []byte(strings.Replace(string(b), "GREETING: hello", "GREETING: welcome back", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, time.Minute, "a deploy to succeed once the database is back", func() error {
		if out, errOut, code := run(t, dir, nil, "deploy", "--server", srv, "--token", tok); code != 0 {
			return fmt.Errorf("exit %d: %s %s", code, out, errOut)
		}
		return nil
	})
	waitFor(t, time.Minute, "the new version to serve", func() error {
		if r := do(t, "GET", srv+"/hello/after", nil, nil); r.status != 200 || !strings.Contains(string(r.body), "welcome back") {
			return fmt.Errorf("%d %s", r.status, r.body)
		}
		return nil
	})
}
