package layering

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/stratahq/strata/"

// layers is the table of docs/RATIONALE.md's "Project structure": a
// package may import Strata packages of lower layers only. Every package
// of the module must be listed, so a new package has to be placed (and
// documented) to pass.
var layers = map[string]int{
	// 0: leaves. Records, wire formats, pure helpers; they import no layer.
	"internal/record": 0, "internal/clock": 0, "internal/batch": 0, "internal/instrument": 0,
	"internal/schedule": 0, "internal/trace": 0, "internal/naming": 0, "internal/humanlog": 0,
	"sdk": 0, "sdk/go/wire": 0, "sdk/go/internal/hostcall": 0,
	"sdk/go/internal/dispatch": 0,
	// The in-process Amazon States Language interpreter: pure, so the
	// flow engine and the API can both build on it.
	"internal/asl": 0,
	// 1: contracts over records: the storage contract, the admin API's
	// wire types, the per-invocation host environment, routing, builds,
	// the guest SDK, the generated queries.
	"internal/store": 1, "internal/apitype": 1, "internal/host": 1, "internal/route": 1,
	"internal/build": 1, "internal/store/sqlite/internal/sqlitedb": 1, "internal/store/postgres/internal/pgdb": 1,
	"sdk/go": 1, "sdk/go/db": 1, "sdk/go/fetch": 1, "sdk/go/kv": 1, "sdk/go/secrets": 1,
	"sdk/go/objects": 1, "sdk/go/sockets": 1,
	// AWS Lambda's event shapes: pure translation over the wire format.
	"internal/lambda": 1,
	// 2: engines without a database: the Wasm runtime, the store's rules
	// over a dialect, bindings, metering, scaffolding.
	"internal/wasm": 2, "internal/wasm/wasmtest": 2, "internal/store/sqlstore": 2,
	"internal/store/storetest": 2, "internal/bindings": 2, "internal/meter": 2,
	"internal/scaffold": 2, "sdk/go/flow": 2, "internal/telemetry": 2, "sdk/go/states": 3,
	"internal/sockets": 2, "internal/cluster": 2,
	// 3: instance pools, the store backends (thin dialect adapters),
	// configuration.
	"internal/pool": 3, "internal/process": 3, "internal/metrics": 4, "internal/store/sqlite": 3, "internal/store/postgres": 3, "internal/config": 3,
	// 4: the registry of deployed versions; 5: the invocation pipeline.
	"internal/registry": 4, "internal/invoke": 5,
	// 6: capabilities over invocations, and deploy planning.
	"internal/events": 6, "internal/flow": 6, "internal/deploy": 6, "internal/objects": 6,
	// 7: what serves them.
	"internal/flow/orchestrator": 7, "internal/gateway": 7, "internal/manifest": 7,
	// 8: the Step Functions and Lambda Invoke APIs (over the gateway); 9: the admin API
	// (which runs EXPRESS machines through sfn) and the API's client;
	// 10: the console (over the API); 11: the server that wires every
	// part; 12: the command line; 13: main.
	"internal/sfn": 8, "internal/lambdaapi": 8, "internal/api": 9, "internal/client": 9, "internal/console": 10, "internal/server": 11, "internal/cli": 12,
	"cmd/strata": 13,
}

// only restricts what some packages may import at all (Strata packages
// and third-party modules by prefix), whatever the layers allow.
var only = map[string][]string{
	// The CLI talks to servers through the client; the client knows the
	// API's wire types and nothing of the server's packages.
	"internal/client": {"internal/apitype", "sdk/go/wire"},
	// The SDK is compiled into guests: nothing of the host.
	"sdk/go": {"sdk/"}, "sdk/go/db": {"sdk/"}, "sdk/go/fetch": {"sdk/"}, "sdk/go/kv": {"sdk/"},
	"sdk/go/secrets": {"sdk/"}, "sdk/go/flow": {"sdk/"}, "sdk/go/wire": {}, "sdk/go/internal/hostcall": {},
	"sdk/go/objects": {"sdk/"}, "sdk/go/sockets": {"sdk/"}, "sdk/go/internal/dispatch": {}, "sdk/go/states": {"sdk/"},
	// The storage contract and the records are leaves above the databases.
	"internal/store":  {"internal/record"},
	"internal/record": {},
	"internal/asl":    {"internal/record"},
	"internal/lambda": {"sdk/go/wire"},
}

// owners: a third-party module may be imported only by these packages.
var owners = map[string][]string{
	"github.com/tetratelabs/wazero":  {"internal/wasm"},
	"github.com/jackc/pgx":           {"internal/store/postgres", "internal/store/postgres/internal/pgdb", "internal/bindings"},
	"modernc.org/sqlite":             {"internal/store/sqlite", "internal/bindings"},
	"github.com/coder/websocket":     {"internal/sockets"},
	"github.com/theory/jsonpath":     {"internal/asl"},
	"github.com/xiatechs/jsonata-go": {"internal/asl"},
}

type pkg struct {
	ImportPath string
	Imports    []string
}

func TestImportLayering(t *testing.T) {
	cmd := exec.Command("go", "list", "-json", "github.com/stratahq/strata/...")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("go list: %v\n%s", err, errb.String())
	}
	var pkgs []pkg
	for dec := json.NewDecoder(&out); dec.More(); {
		var p pkg
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) < 40 {
		t.Fatalf("go list found only %d packages: the check would prove nothing", len(pkgs))
	}
	for _, v := range violations(pkgs) {
		t.Error(v)
	}
}

// The check itself catches each kind of violation.
func TestLayeringCatches(t *testing.T) {
	m := func(s string) string { return module + s }
	got := violations([]pkg{
		{ImportPath: m("internal/store"), Imports: []string{m("internal/invoke")}},
		{ImportPath: m("internal/pool"), Imports: []string{m("internal/invoke"), "github.com/tetratelabs/wazero"}},
		{ImportPath: m("internal/client"), Imports: []string{m("internal/api"), m("internal/apitype")}},
		{ImportPath: m("internal/newthing")},
		{ImportPath: m("internal/invoke"), Imports: []string{m("internal/pool"), m("internal/wasm"), "github.com/tetratelabs/wazero/api"}},
		{ImportPath: m("internal/gateway"), Imports: []string{m("internal/invoke")}},
	})
	want := []string{
		"internal/client imports internal/api: it may import only internal/apitype, sdk/go/wire",
		"internal/invoke imports github.com/tetratelabs/wazero/api: only internal/wasm may",
		"internal/newthing: not in the layer table; place it in docs/RATIONALE.md (Project structure) and here",
		"internal/pool (layer 3) imports internal/invoke (layer 5)",
		"internal/pool imports github.com/tetratelabs/wazero: only internal/wasm may",
		"internal/store imports internal/invoke: it may import only internal/record",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("violations:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// violations lists every import of pkgs that the tables forbid, sorted.
func violations(pkgs []pkg) []string {
	var bad []string
	for _, p := range pkgs {
		name := strings.TrimPrefix(p.ImportPath, module)
		if skipped(name) {
			continue
		}
		layer, ok := layers[name]
		if !ok {
			bad = append(bad, name+": not in the layer table; place it in docs/RATIONALE.md (Project structure) and here")
			continue
		}
		for _, imp := range p.Imports {
			if !strings.HasPrefix(imp, module) {
				for mod, who := range owners {
					if strings.HasPrefix(imp, mod) && !contains(who, name) {
						bad = append(bad, name+" imports "+imp+": only "+strings.Join(who, ", ")+" may")
					}
				}
				continue
			}
			dep := strings.TrimPrefix(imp, module)
			if allowed, ok := only[name]; ok && !hasPrefix(dep, allowed) {
				bad = append(bad, name+" imports "+dep+": it may import only "+strings.Join(allowed, ", "))
				continue
			}
			// A dep missing from the table is reported when it is visited.
			if dl, ok := layers[dep]; ok && dl >= layer {
				bad = append(bad, name+" (layer "+strconv.Itoa(layer)+") imports "+dep+" (layer "+strconv.Itoa(dl)+")")
			}
		}
	}
	sort.Strings(bad)
	return bad
}

// skipped: examples are separate programs, bench and e2e are harnesses
// that drive the whole binary (they may import anything), and layering
// is this package.
func skipped(name string) bool {
	return strings.HasPrefix(name, "examples/") || name == "bench" || strings.HasPrefix(name, "bench/") ||
		name == "e2e" || name == "internal/layering" ||
		strings.Contains(name, "/testdata/")
}

func hasPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if s == p || (strings.HasSuffix(p, "/") && strings.HasPrefix(s, p)) {
			return true
		}
	}
	return false
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
