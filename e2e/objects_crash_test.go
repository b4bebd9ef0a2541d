package e2e

import (
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Crash and restart of durable objects (issue 13): `strata server` is
// killed with SIGKILL while clients increment a counter object
// (e2e/testdata/objcrash) and while an alarm is pending, then restarted on
// the same data dir. What a client saw acknowledged must be there, nothing
// may be half-applied, and the alarm must still fire.

// newObjNode starts a server on a fresh data dir (and store: nil for
// SQLite in the data dir, else pgStoreArgs) and deploys project (a folder
// under e2e/testdata or an example's copy) to it.
func newObjNode(t *testing.T, store []string, project string) *wfNode {
	t.Helper()
	n := &wfNode{t: t, dataDir: t.TempDir(), store: store, project: project}
	n.start()
	n.cli("deploy")
	return n
}

// counterState is GET /counters/{name} of objcrash.
var counterStateRE = regexp.MustCompile(`^a=(\d+) b=(\d+) fired=(\d+)$`)

// counter reads a counter, retrying while the restarted server still
// loads its functions (503) and failing on anything else.
func counter(t *testing.T, url, name string) (a, b, fired int) {
	t.Helper()
	var m []string
	eventually(t, objWait, "GET counter "+name, func() bool {
		r := do(t, "GET", url+"/counters/"+name, nil, nil)
		if r.status == 503 {
			return false
		}
		if m = counterStateRE.FindStringSubmatch(string(r.body)); r.status != 200 || m == nil {
			t.Fatalf("GET counter %s: %d %s", name, r.status, r.body)
		}
		return true
	})
	a, _ = strconv.Atoi(m[1])
	b, _ = strconv.Atoi(m[2])
	fired, _ = strconv.Atoi(m[3])
	return a, b, fired
}

func TestObjectsCrashRestartSQLite(t *testing.T) {
	t.Parallel()
	objectsCrashRestart(t, nil)
}

func TestObjectsCrashRestartPostgres(t *testing.T) {
	t.Parallel()
	objectsCrashRestart(t, pgStoreArgs(t, "strata_e2e_objcrash"))
}

func objectsCrashRestart(t *testing.T, store []string) {
	n := newObjNode(t, store, copyTree(t, filepath.Join(repoRoot(), "e2e", "testdata", "objcrash")))

	// Several clients increment one counter until the server dies. Each
	// counts its 200s; a request that got no answer may or may not have
	// committed, and ends that client.
	const clients = 4
	var acked, unanswered atomic.Int64
	var wg sync.WaitGroup
	url := n.url
	hc := &http.Client{Timeout: 30 * time.Second}
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			deadline := time.Now().Add(2 * objWait)
			for time.Now().Before(deadline) {
				resp, err := hc.Post(url+"/counters/hits/incr", "", nil)
				if err != nil {
					unanswered.Add(1)
					return
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				switch {
				case err != nil:
					unanswered.Add(1)
					return
				case resp.StatusCode == 200 && strings.HasPrefix(string(body), "a="):
					acked.Add(1)
				default:
					// An answer that is not a 200 acknowledged nothing
					// but may still have been cut by the kill.
					unanswered.Add(1)
					return
				}
			}
		}()
	}
	eventually(t, objWait, "50 acknowledged increments", func() bool { return acked.Load() >= 50 })

	// An alarm due shortly after the kill: set, not yet run.
	if r := do(t, "POST", url+"/counters/later/alarm?in=3000", nil, nil); r.status != 200 {
		t.Fatalf("set alarm: %d %s", r.status, r.body)
	}
	if _, _, fired := counter(t, url, "later"); fired != 0 {
		t.Fatalf("the alarm ran before the kill (fired=%d): the server is too slow for this test", fired)
	}

	n.kill()
	wg.Wait()
	ack, lost := acked.Load(), unanswered.Load()
	t.Logf("killed after %d acknowledged increments, %d unanswered", ack, lost)

	n.start()
	a, b, _ := counter(t, n.url, "hits")
	if a != b {
		t.Fatalf("a transaction was half-applied: a=%d b=%d", a, b)
	}
	if int64(a) < ack || int64(a) > ack+lost {
		t.Fatalf("counter is %d after the restart, want %d acknowledged (+ at most %d unanswered)", a, ack, lost)
	}
	// The counter goes on from where it was.
	if r := do(t, "POST", n.url+"/counters/hits/incr", nil, nil); r.status != 200 || string(r.body) != fmt.Sprintf("a=%d", a+1) {
		t.Fatalf("increment after restart: %d %s, want a=%d", r.status, r.body, a+1)
	}

	// The alarm set before the kill runs on the restarted server.
	eventually(t, objWait, "the alarm set before the kill to fire", func() bool {
		_, _, fired := counter(t, n.url, "later")
		return fired >= 1
	})
}
