package e2e

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// hostileProject copies the hello example as project name, function fn,
// with the given routes and greeting, so two projects can be deployed side
// by side and told apart by their answers.
func hostileProject(t *testing.T, name, fn, greeting string, routes ...string) string {
	t.Helper()
	dir := copyProject(t, "hello")
	var b strings.Builder
	fmt.Fprintf(&b, "project: %s\nfunctions:\n  %s:\n    source: ./hello\n    memory: 128\n    timeout: 10s\n    env:\n      GREETING: %s\n    routes:\n", name, fn, greeting)
	for _, r := range routes {
		fmt.Fprintf(&b, "      - %s\n", r)
	}
	if err := os.WriteFile(filepath.Join(dir, "strata.yaml"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// testRouteHijackRefused reproduces issue 9's route hijack (Found 7) on the
// real binary: project "thief" deploying GET /victim/login beside project
// "victim"'s GET /victim/{op} took those requests. Now thief's deploy is
// refused naming victim and its route, and victim keeps answering. urls
// are the nodes: victim deploys through the first, thief through the last,
// so with two nodes on one store the check is shown to read the store, not
// one node's memory.
func testRouteHijackRefused(t *testing.T, tok string, urls ...string) {
	victimURL, thiefURL := urls[0], urls[len(urls)-1]
	victim := hostileProject(t, "victim", "ops", "victim", "GET /victim/{name}")
	mustRun(t, victim, "deploy", "--server", victimURL, "--token", tok)
	for _, u := range urls {
		eventually(t, time.Minute, "victim's route on "+u, func() bool {
			r := do(t, "GET", u+"/victim/login", nil, nil)
			return r.status == 200 && string(r.body) == "victim, login!\n"
		})
	}

	for _, attack := range []string{"GET /victim/login", "POST /victim/login", "/victim/{rest...}", "/{rest...}"} {
		thief := hostileProject(t, "thief", "steal", "thief", attack, "GET /thief/{name}")
		out, errOut, code := run(t, thief, nil, "deploy", "--server", thiefURL, "--token", tok)
		if code == 0 {
			t.Fatalf("thief deployed %s beside victim's GET /victim/{name}:\n%s", attack, out)
		}
		for _, want := range []string{"409", `overlaps GET /victim/{name} of project "victim" (function "ops")`} {
			if !strings.Contains(errOut, want) {
				t.Fatalf("thief's deploy of %s: exit %d, stderr lacks %q:\n%s", attack, code, want, errOut)
			}
		}
	}
	// Nothing of thief's was applied, and victim's route still answers
	// everywhere, for every method it serves.
	for _, u := range urls {
		if r := do(t, "GET", u+"/victim/login", nil, nil); r.status != 200 || string(r.body) != "victim, login!\n" {
			t.Fatalf("victim's route after the attack on %s: %d %q", u, r.status, r.body)
		}
		if r := do(t, "GET", u+"/thief/x", nil, nil); r.status != 404 {
			t.Fatalf("a refused deploy was partly applied on %s: %d %q", u, r.status, r.body)
		}
	}

	// Thief's own paths are fine, and the first deploy wins the other way
	// round too: victim cannot take a prefix thief now owns.
	thief := hostileProject(t, "thief", "steal", "thief", "GET /thief/{name}")
	mustRun(t, thief, "deploy", "--server", thiefURL, "--token", tok)
	eventually(t, time.Minute, "thief's own route", func() bool {
		r := do(t, "GET", thiefURL+"/thief/x", nil, nil)
		return r.status == 200 && string(r.body) == "thief, x!\n"
	})
	grab := hostileProject(t, "victim", "ops", "victim", "GET /victim/{name}", "GET /thief/admin")
	if _, errOut, code := run(t, grab, nil, "deploy", "--server", victimURL, "--token", tok); code == 0 ||
		!strings.Contains(errOut, `overlaps GET /thief/{name} of project "thief" (function "steal"): project "thief" owns /thief/`) {
		t.Fatalf("victim took thief's prefix: exit %d\n%s", code, errOut)
	}
	// And victim redeploys its own routes freely.
	again := hostileProject(t, "victim", "ops", "victim", "GET /victim/{name}", "POST /victim/{name}")
	mustRun(t, again, "deploy", "--server", victimURL, "--token", tok)
}

func TestHostileRouteHijackSQLite(t *testing.T) {
	t.Parallel()
	_, url, tok := startServer(t)
	testRouteHijackRefused(t, tok, url)
}

// TestHostileRouteHijackPostgres runs two nodes on one PostgreSQL schema:
// victim deploys through one, thief through the other.
func TestHostileRouteHijackPostgres(t *testing.T) {
	t.Parallel()
	store := pgStoreArgs(t, "strata_e2e_hijack") // --store and the shared --secret-key-file
	_, url1, tok := startServer(t, store...)
	// A second node on the same store: it prints no token (the store has
	// one already).
	dataDir := t.TempDir()
	p := startProc(t, dataDir, append([]string{"server", "--addr", "127.0.0.1:0", "--data-dir", dataDir}, store...)...)
	urlRe := regexp.MustCompile(`serving on (http://\S+)`)
	var url2 string
	eventually(t, time.Minute, "the second node to start", func() bool {
		if p.exited() {
			t.Fatalf("second node exited:\n%s\n%s", p.out, p.err)
		}
		if m := urlRe.FindStringSubmatch(p.out.String()); m != nil {
			url2 = m[1]
		}
		return url2 != ""
	})
	testRouteHijackRefused(t, tok, url1, url2)
}

// TestHostileClientGateway attacks the gateway of the real binary as an
// anonymous client would (issue 9, Found 5 and 9), against the probe
// project (testdata/hostile-probe): a guest made to answer 101, platform
// headers sent to fool the SDK's event detection, and dot segments, plain
// and escaped, in a path parameter. The store plays no part here, so one
// store (SQLite) is enough.
func TestHostileClientGateway(t *testing.T) {
	t.Parallel()
	_, url, tok := startServer(t)
	dir := copyTree(t, filepath.Join(repoRoot(), "e2e", "testdata", "hostile-probe"))
	mustRun(t, dir, "deploy", "--server", url, "--token", tok)
	addr := strings.TrimPrefix(url, "http://")

	// raw sends requests as written on one TCP connection and reads n
	// answers.
	raw := func(t *testing.T, n int, requests string) []response {
		t.Helper()
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if err := conn.SetDeadline(time.Now().Add(time.Minute)); err != nil { // a hang fails the test
			t.Fatal(err)
		}
		if _, err := io.WriteString(conn, requests); err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(conn)
		var out []response
		for i := 0; i < n; i++ {
			res, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("answer %d of %d: %v", i+1, n, err)
			}
			b, err := io.ReadAll(res.Body)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, response{res.StatusCode, res.Header, b})
		}
		return out
	}

	t.Run("guest status 101", func(t *testing.T) {
		rs := raw(t, 2, "GET /probe?status=101 HTTP/1.1\r\nHost: x\r\n\r\nGET /probe HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		if rs[0].status != 502 || !strings.Contains(string(rs[0].body), "function probe answered status 101") || rs[0].header.Get("Upgrade") != "" {
			t.Fatalf("first answer: %d %v %s", rs[0].status, rs[0].header, rs[0].body)
		}
		// The pipelined request behind it is answered as HTTP on the same
		// connection: it was never switched.
		if rs[1].status != 200 || !strings.Contains(string(rs[1].body), "path=/probe\n") {
			t.Fatalf("pipelined answer: %d %s", rs[1].status, rs[1].body)
		}
	})

	t.Run("forged event headers", func(t *testing.T) {
		r := do(t, "POST", url+"/probe", []byte(`{"amount":1000}`), map[string]string{
			"Ce-Id": "forged", "Ce-Specversion": "1.0", "Ce-Source": "/queues/payments", "Ce-Type": "payment.settled",
			"X-Strata-Queue": "payments", "X-Strata-Receive-Count": "1", "X-Strata-Flow": "orchestrate",
		})
		body := string(r.body)
		if r.status != 200 || !strings.Contains(body, "is_event=false\n") || strings.Contains(body, "header.") || strings.Contains(body, "event.") {
			t.Fatalf("the function saw platform headers from a client: %d\n%s", r.status, body)
		}
		r = do(t, "POST", url+"/probe", []byte(`[{"specversion":"1.0","id":"forged","source":"/queues/payments","type":"t"}]`), map[string]string{
			"Content-Type": "application/cloudevents-batch+json", "X-Strata-Queue": "payments",
		})
		if body := string(r.body); r.status != 200 || !strings.Contains(body, "is_event=false\n") {
			t.Fatalf("a client's batch-typed request was taken for events: %d\n%s", r.status, body)
		}
	})

	t.Run("dot segments", func(t *testing.T) {
		for path, want := range map[string]string{
			"/probe/%2e%2e":             "", // "/": no route
			"/probe/..":                 "",
			"/probe/%2E":                "", // "/probe/": {op} needs a segment
			"/probe/x/%2e%2e/login":     "param.op=login\n",
			"/probe/x/../%2e/login":     "param.op=login\n",
			"/probe/%2e%2e/probe/admin": "param.op=admin\n",
		} {
			rs := raw(t, 1, "GET "+path+" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
			body := string(rs[0].body)
			if want == "" {
				if rs[0].status != 404 {
					t.Fatalf("%s: %d %s, want 404", path, rs[0].status, body)
				}
				continue
			}
			if rs[0].status != 200 || !strings.Contains(body, want) {
				t.Fatalf("%s: %d %s, want %q", path, rs[0].status, body, want)
			}
		}
	})
}
