package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stratahq/strata/internal/client"
	"github.com/stratahq/strata/internal/deploy"
	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store"
	"github.com/stratahq/strata/internal/store/sqlite"
	"github.com/stratahq/strata/internal/wasm/wasmtest"
)

// Found item 4 of issue 9 (deploy-time compile bombs), on the real binary:
// a compile bomb of one project held the node-wide deploy lock for minutes
// and went on compiling after its client left; an _initialize that never
// returned cost its time at every server start, one function after
// another.

// hostileServer starts `strata server` in dataDir with args and returns
// the process, its URL and an admin client (the token is printed on the
// first start only; later starts reuse tok).
func hostileServer(t *testing.T, dataDir, tok string, args ...string) (*proc, string, *client.Client, string) {
	t.Helper()
	p := startProc(t, dataDir, append([]string{"server", "--addr", "127.0.0.1:0", "--data-dir", dataDir, "--log-level", "debug"}, args...)...)
	urlRe := regexp.MustCompile(`serving on (http://\S+)`)
	tokRe := regexp.MustCompile(`admin token \(shown once, store it now\): (\S+)`)
	var url string
	eventually(t, 3*time.Minute, "strata server to start", func() bool {
		if p.exited() {
			t.Fatalf("strata server exited:\n%s\n%s", p.out, p.err)
		}
		out := p.out.String()
		if m := urlRe.FindStringSubmatch(out); m != nil {
			url = m[1]
		}
		if m := tokRe.FindStringSubmatch(out); m != nil {
			tok = m[1]
		}
		return url != "" && tok != ""
	})
	return p, url, client.New(url, tok), tok
}

// hostileDeploy uploads the modules and deploys one function per module,
// each with a GET route /<project>/<name>.
func hostileSpec(t *testing.T, c *client.Client, project string, fns map[string][]byte) deploy.Spec {
	t.Helper()
	spec := deploy.Spec{Project: project}
	for name, wasm := range fns {
		sum := sha256.Sum256(wasm)
		sha := hex.EncodeToString(sum[:])
		if _, err := c.UploadBlob(context.Background(), sha, wasm); err != nil {
			t.Fatalf("upload %s: %v", name, err)
		}
		spec.Functions = append(spec.Functions, deploy.FunctionSpec{
			Name: name, ModuleSHA256: sha,
			Config: record.FunctionConfig{MemoryMB: 64, TimeoutMS: 5000, MaxConcurrency: 4},
			Routes: []deploy.RouteSpec{{Method: "GET", Path: "/" + project + "/" + name}},
		})
	}
	return spec
}

func TestHostileCompileSQLite(t *testing.T) {
	t.Parallel()
	testHostileCompile(t)
}

func TestHostileCompilePostgres(t *testing.T) {
	testHostileCompile(t, pgStoreArgs(t, "strata_e2e_compile")...)
}

// testHostileCompile: project "attacker" deploys compile bombs; project
// "victim" deploys meanwhile and is served.
func testHostileCompile(t *testing.T, args ...string) {
	p, url, c, _ := hostileServer(t, t.TempDir(), "", args...)
	hello := wasmtest.Guest(t, wasmtest.Hello)

	// The bomb whose shape shows is refused at once, naming the cause.
	_, err := c.Deploy(context.Background(), hostileSpec(t, c, "attacker", map[string][]byte{
		"bomb": wasmtest.CompileBomb(12000, false)}), false)
	var ae *client.APIError
	if !errors.As(err, &ae) || ae.Status != 400 || !strings.Contains(err.Error(), "function 0 has 24000 control instructions") {
		t.Fatalf("shape bomb: %v, want a 400 naming its control instructions", err)
	}

	// The bomb whose shape is hidden compiles for a long time under the
	// default budget (compile time grows with the square of its loops:
	// 12,000 took 5.5 s on an idle 2-core machine and 10 s under the e2e
	// suite's load, which let it finish before the victim's deploy; 30,000
	// takes about 40 s idle). Meanwhile the victim deploys and is served.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	bombSpec := hostileSpec(t, c, "attacker", map[string][]byte{"bomb": wasmtest.CompileBomb(30000, true)})
	bombDone := make(chan error, 1)
	go func() {
		_, err := c.Deploy(ctx, bombSpec, false)
		bombDone <- err
	}()
	eventually(t, time.Minute, "the bomb to compile", func() bool {
		return strings.Contains(p.err.String(), `msg="compiling module" module=bomb`)
	})
	if _, err := c.Deploy(context.Background(), hostileSpec(t, c, "victim", map[string][]byte{"api": hello}), false); err != nil {
		t.Fatalf("the victim's deploy while the attacker's bomb compiles: %v", err)
	}
	if r := do(t, "GET", url+"/victim/api", nil, nil); r.status != 200 {
		t.Fatalf("victim route: %d %s", r.status, r.body)
	}
	select {
	case err := <-bombDone:
		t.Fatalf("the bomb's deploy ended before the victim's: %v", err)
	default:
	}

	// The attacker's client goes away: the server stops waiting for the
	// compile (it runs on, holding one compile slot, until wazero ends).
	cancel()
	<-bombDone
	eventually(t, time.Minute, "the server to give up the bomb", func() bool {
		return strings.Contains(p.err.String(), "compile abandoned") &&
			strings.Contains(p.err.String(), "compilation stopped: context canceled")
	})
	fns, err := c.Functions(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fns {
		if f.Project == "attacker" {
			t.Fatalf("a bomb was deployed: %+v", f)
		}
	}
}

// A function whose _initialize never returns (written to the store past a
// deploy's checks, as by an older node) is refused at start after the
// init timeout; meanwhile the node already listens, serves the other
// projects, answers 503 with Retry-After on the loading function's route
// and 503 on /_strata/ready, and prints "serving on" only once loading is
// done.
func TestHostileStartWithHangingInit(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()
	p, _, c, _ := hostileServer(t, dataDir, "")
	if _, err := c.Deploy(context.Background(), hostileSpec(t, c, "fine", map[string][]byte{"api": wasmtest.Guest(t, wasmtest.Hello)}), false); err != nil {
		t.Fatalf("deploy: %v", err)
	}
	p.stop()

	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(dataDir, "strata.db"))
	if err != nil {
		t.Fatal(err)
	}
	wasm := wasmtest.InitLoop(-1)
	sum := sha256.Sum256(wasm)
	sha := hex.EncodeToString(sum[:])
	if err := st.BlobPut(ctx, sha, wasm); err != nil {
		t.Fatal(err)
	}
	if _, err := st.DeploymentApply(ctx, store.DeploymentApplyParams{
		Project:     "hang",
		NewVersions: []store.NewVersionParams{{Function: "hang", ModuleSHA256: sha, Config: record.FunctionConfig{Kind: record.KindReactor, MemoryMB: 64, TimeoutMS: 5000, MaxConcurrency: 4}}},
		Routes:      []record.Route{{Project: "hang", Method: "GET", Path: "/hang", Function: "hang"}},
	}); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	// The node serves before the hanging function is refused: the init
	// timeout is long enough for the checks made while it loads.
	p2 := startProc(t, dataDir, "server", "--addr", "127.0.0.1:0", "--data-dir", dataDir, "--init-timeout", "20s")
	listenRe := regexp.MustCompile(`listening on (http://[^\s,]+)`)
	var url string
	eventually(t, time.Minute, "strata server to listen", func() bool {
		if p2.exited() {
			t.Fatalf("strata server exited:\n%s\n%s", p2.out, p2.err)
		}
		if m := listenRe.FindStringSubmatch(p2.out.String()); m != nil {
			url = m[1]
		}
		return url != ""
	})
	if r := do(t, "GET", url+"/hang", nil, nil); r.status != 503 || r.header.Get("Retry-After") == "" ||
		!strings.Contains(string(r.body), "function hang@1 is still loading on this node") {
		t.Fatalf("the hanging function while it loads: %d %v %s", r.status, r.header, r.body)
	}
	if r := do(t, "GET", url+"/_strata/ready", nil, nil); r.status != 503 || !strings.Contains(string(r.body), `"hang@1"`) {
		t.Fatalf("readiness while loading: %d %s", r.status, r.body)
	}
	var last response
	eventually(t, time.Minute, "the fine project to serve while the other loads", func() bool {
		last = do(t, "GET", url+"/fine/api", nil, nil)
		return last.status == 200
	})
	if r := do(t, "GET", url+"/hang", nil, nil); r.status != 503 {
		t.Fatalf("the hanging function was settled before the fine one served: %d %s", r.status, r.body)
	}
	if strings.Contains(p2.out.String(), "serving on") {
		t.Fatalf("strata server said it serves everything while a function loads:\n%s", p2.out)
	}

	eventually(t, 2*time.Minute, "loading to finish", func() bool { return strings.Contains(p2.out.String(), "serving on") })
	if !strings.Contains(p2.err.String(), "_initialize did not return within the 20s init timeout") {
		t.Fatalf("the hanging function was not refused at start:\n%s", p2.err)
	}
	if r := do(t, "GET", url+"/_strata/ready", nil, nil); r.status != 200 {
		t.Fatalf("readiness once loaded: %d %s", r.status, r.body)
	}
	if r := do(t, "GET", url+"/hang", nil, nil); r.status != 404 {
		t.Fatalf("the refused function: %d %s", r.status, r.body)
	}
	if r := do(t, "GET", url+"/fine/api", nil, nil); r.status != 200 {
		t.Fatalf("the fine project once loaded: %d %s", r.status, r.body)
	}
}
