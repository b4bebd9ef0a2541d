package e2e

import (
	"fmt"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// haproxyPath is Debian's haproxy, which `make deps` installs.
const haproxyPath = "/usr/sbin/haproxy"

// TestClusterRollingRestartBehindHAProxy (issue 16, scope 6b): three
// nodes on one PostgreSQL behind a real HAProxy whose health check is
// /_strata/ready (503 while a node loads or drains); while clients keep requesting a function through the
// balancer, each node in turn is sent SIGTERM, drains, exits and is
// started again on its port. No request through the balancer fails.
func TestClusterRollingRestartBehindHAProxy(t *testing.T) {
	requireHAProxy(t)
	if os.Getenv("STRATA_TEST_POSTGRES") == "" {
		t.Skip("STRATA_TEST_POSTGRES not set")
	}
	t.Parallel()
	store := pgStoreArgs(t, "strata_e2e_haproxy")
	ports := []int{freePort(t), freePort(t), freePort(t)}
	args := func(i int) []string {
		return append([]string{"--addr", "127.0.0.1:" + strconv.Itoa(ports[i]), "--node-id", fmt.Sprintf("node-%d", i),
			"--node-lease", "3s", "--drain-timeout", "10s"}, store...)
	}
	nodes := make([]*proc, 3)
	var tok string
	nodes[0], _, tok = startServer(t, args(0)...)
	for i := 1; i < 3; i++ {
		nodes[i], _ = startNode(t, args(i)...)
	}
	dir := copyProject(t, "hello")
	mustRun(t, dir, "deploy", "--server", "http://127.0.0.1:"+strconv.Itoa(ports[0]), "--token", tok)
	for i := range 3 {
		url := fmt.Sprintf("http://127.0.0.1:%d/hello/n", ports[i])
		waitFor(t, time.Minute, "node "+strconv.Itoa(i)+" to serve hello", func() error {
			if r := do(t, "GET", url, nil, nil); r.status != 200 {
				return fmt.Errorf("%d %s", r.status, r.body)
			}
			return nil
		})
	}

	front := startHAProxy(t, ports, "conn-failure empty-response response-timeout 503") + "/hello/lb"
	waitFor(t, time.Minute, "haproxy to serve", func() error {
		resp, err := http.Get(front)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	})

	// Clients through the balancer, until the restarts are over.
	var ok, failed atomic.Int64
	var firstFailure atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 20 * time.Second}
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := client.Get(front)
				if err == nil {
					resp.Body.Close()
				}
				if err != nil || resp.StatusCode != 200 {
					failed.Add(1)
					firstFailure.CompareAndSwap(nil, fmt.Sprint(err, " ", resp))
					continue
				}
				ok.Add(1)
			}
		}()
	}
	for i := range 3 {
		before := ok.Load()
		_ = nodes[i].cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-nodes[i].done:
		case <-time.After(time.Minute):
			t.Fatalf("node %d did not exit after SIGTERM", i)
		}
		if code := nodes[i].cmd.ProcessState.ExitCode(); code != 0 {
			t.Fatalf("node %d exited %d after SIGTERM", i, code)
		}
		nodes[i], _ = startNode(t, args(i)...)
		// The node serves again and the balancer has seen it healthy
		// (rise 2 at 100 ms; a second of slack for a loaded machine)
		// before the next one goes.
		url := fmt.Sprintf("http://127.0.0.1:%d/hello/n", ports[i])
		waitFor(t, time.Minute, "node "+strconv.Itoa(i)+" to serve again", func() error {
			if r := do(t, "GET", url, nil, nil); r.status != 200 {
				return fmt.Errorf("%d %s", r.status, r.body)
			}
			return nil
		})
		time.Sleep(time.Second)
		t.Logf("node %d restarted; %d requests served through the balancer meanwhile", i, ok.Load()-before)
	}
	close(stop)
	wg.Wait()
	t.Logf("%d requests through the balancer, %d failed", ok.Load(), failed.Load())
	if failed.Load() > 0 {
		t.Fatalf("%d requests failed through the balancer during the rolling restart; first: %v", failed.Load(), firstFailure.Load())
	}
	if ok.Load() < 100 {
		t.Fatalf("only %d requests were served: the load did not run", ok.Load())
	}
}
