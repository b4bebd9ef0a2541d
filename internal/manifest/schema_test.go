package manifest

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/internal/deploy"
	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/route"
)

const schemaPath = "../../schema/strata.schema.json"

func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	f, err := os.Open(schemaPath)
	require.NoError(t, err)
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	require.NoError(t, err)
	c := jsonschema.NewCompiler()
	require.NoError(t, c.AddResource("strata.schema.json", doc))
	sch, err := c.Compile("strata.schema.json")
	require.NoError(t, err)
	return sch
}

// validateYAML converts YAML to JSON the way an editor's language server
// sees it and validates it against the schema.
func validateYAML(t *testing.T, sch *jsonschema.Schema, data []byte) error {
	t.Helper()
	js, err := yaml.YAMLToJSON(data)
	require.NoError(t, err)
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(js))
	require.NoError(t, err)
	return sch.Validate(inst)
}

// TestSchemaTestdata checks every testdata manifest against the schema. The
// first line of each file says what the schema must make of it:
//
//	# schema: accept    valid for the schema (all ok_* files; bad ones whose
//	                    problem the schema cannot see, e.g. a missing path)
//	# schema: reject    the schema catches a problem too
//	# schema: n/a       editors see other data than Parse: YAML syntax errors,
//	                    duplicate keys, several documents
func TestSchemaTestdata(t *testing.T) {
	sch := compileSchema(t)
	files, err := filepath.Glob("testdata/*.yaml")
	require.NoError(t, err)
	var rejects int
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".yaml")
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(file)
			require.NoError(t, err)
			first, _, _ := strings.Cut(string(data), "\n")
			verdict, ok := strings.CutPrefix(first, "# schema: ")
			require.True(t, ok, "first line must be a # schema: comment")
			verdict, _, _ = strings.Cut(verdict, " ")
			if strings.HasPrefix(name, "ok_") {
				require.Equal(t, "accept", verdict)
			}
			switch verdict {
			case "accept":
				assert.NoError(t, validateYAML(t, sch, data))
			case "reject":
				rejects++
				assert.Error(t, validateYAML(t, sch, data))
			case "n/a":
				// Editors see something else than Parse does (a YAML error,
				// the last of duplicate keys, the first document only).
				require.False(t, strings.HasPrefix(name, "ok_"))
			default:
				t.Fatalf("unknown schema verdict %q", verdict)
			}
		})
	}
	assert.GreaterOrEqual(t, rejects, 10)
}

// TestSchemaAgreesWithGo feeds the same values to the schema and to the Go
// validators and requires the same verdict, so the two cannot drift apart.
func TestSchemaAgreesWithGo(t *testing.T) {
	sch := compileSchema(t)
	check := func(t *testing.T, doc map[string]any, goErr error) {
		t.Helper()
		js, err := json.Marshal(doc)
		require.NoError(t, err)
		inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(js))
		require.NoError(t, err)
		schemaErr := sch.Validate(inst)
		assert.Equal(t, goErr == nil, schemaErr == nil, "doc %s: go says %v, schema says %v", js, goErr, schemaErr)
	}
	withFunction := func(fn map[string]any) map[string]any {
		fn["source"] = "./x"
		return map[string]any{"project": "p", "functions": map[string]any{"f": fn}}
	}

	t.Run("routes", func(t *testing.T) {
		routes := []string{
			"/", "GET /", "GET /hello/{name}", "POST /users/{id}/avatar", "/files/{path...}", "* /{rest...}",
			"DELETE   /a/", "OPTIONS /a/*", "/*", "HEAD /a.b/..c/...", "/.well-known/x", "/_strat/x", "/_stratax",
			"GET /ünï/%41", "GET /{a}/{_b2}/{c...}", "/a-b_c~d!$&'()+,;=:@",
			"", "GET", "get", "hello", "GET hello", "get /x", "FETCH /x", "*", "GET\t/x", " /x", "/x ",
			"/a//b", "//", "/a/{id", "/a/{}", "/a/{1x}", "/a/{x-y}", "/a/{...}", "/a/{rest...}/b", "/a/*/b",
			"/a/{rest...}/", "/file-{name}", "/a*", "/a?b=1", "/a#x", "/a\tb", "GET /a b", "/a/./b", "/..", "/.",
			"/_strata", "GET /_strata/health", "/_strata/", "* /_strata/x/y", "/a\x7f",
		}
		for _, r := range routes {
			t.Run(r, func(t *testing.T) {
				_, err := route.Parse(r)
				check(t, withFunction(map[string]any{"routes": []any{r}}), err)
			})
		}
	})
	t.Run("names", func(t *testing.T) {
		for _, n := range []string{"a", "hello", "a-b-1", "a-", strings.Repeat("x", 63), strings.Repeat("x", 64), "", "A", "1a", "-a", "a_b", "héllo"} {
			check(t, map[string]any{"project": n, "functions": map[string]any{"f": map[string]any{"source": "x"}}}, deploy.ValidateName(n))
			check(t, map[string]any{"project": "p", "functions": map[string]any{n: map[string]any{"source": "x"}}}, deploy.ValidateName(n))
		}
	})
	t.Run("limits", func(t *testing.T) {
		for _, n := range []int{deploy.MinMemoryMB - 1, deploy.MinMemoryMB, deploy.DefaultMemoryMB, deploy.MaxMemoryMB, deploy.MaxMemoryMB + 1} {
			check(t, withFunction(map[string]any{"memory": n}), deploy.ValidateMemoryMB(n))
		}
		for _, n := range []int{deploy.MinConcurrency - 1, deploy.MinConcurrency, deploy.MaxConcurrency, deploy.MaxConcurrency + 1} {
			check(t, withFunction(map[string]any{"max_concurrency": n}), deploy.ValidateMaxConcurrency(n))
		}
		for _, n := range []int{-1, 0, 50, deploy.MaxCPUMS, deploy.MaxCPUMS + 1} {
			fn := withFunction(map[string]any{"cpu_ms": n, "timeout": "15m"})
			check(t, fn, deploy.ValidateCPUMS(int64(n)))
		}
		for _, k := range []string{"reactor", "command", "Reactor", "wasm", ""} {
			check(t, withFunction(map[string]any{"kind": k}), deploy.ValidateKind(k))
		}
	})
	t.Run("env", func(t *testing.T) {
		for _, k := range []string{"A", "_", "a_B9", "9A", "A-B", "A B", "É"} {
			check(t, withFunction(map[string]any{"env": map[string]any{k: "v"}}), deploy.ValidateEnvKey(k))
		}
	})
	t.Run("events", func(t *testing.T) {
		for _, n := range []string{"orders", "a-1", "_async", "_x", "Orders", "a_b", "", strings.Repeat("q", 64)} {
			check(t, map[string]any{"project": "p", "queues": map[string]any{n: map[string]any{}}, "functions": map[string]any{"f": map[string]any{"source": "x"}}}, deploy.ValidateQueueName(n))
			check(t, map[string]any{"project": "p", "topics": map[string]any{n: nil}, "functions": map[string]any{"f": map[string]any{"source": "x"}}}, deploy.ValidateQueueName(n))
			check(t, withFunction(map[string]any{"queue": n}), deploy.ValidateQueueName(n))
			check(t, withFunction(map[string]any{"topics": []any{n}}), deploy.ValidateQueueName(n))
		}
		queue := func(q map[string]any) map[string]any {
			return map[string]any{"project": "p", "queues": map[string]any{"q": q}, "functions": map[string]any{"f": map[string]any{"source": "x"}}}
		}
		for _, n := range []int{deploy.MinMaxReceives - 1, deploy.MinMaxReceives, deploy.DefaultMaxReceives, deploy.MaxMaxReceives, deploy.MaxMaxReceives + 1} {
			check(t, queue(map[string]any{"max_receives": n}), deploy.ValidateMaxReceives(n))
		}
		for _, n := range []int{deploy.MinBatchSize - 1, deploy.MinBatchSize, deploy.MaxBatchSize, deploy.MaxBatchSize + 1} {
			check(t, withFunction(map[string]any{"queue": map[string]any{"name": "q", "batch_size": n}}), deploy.ValidateBatchSize(n))
		}
		for _, n := range []int{-1, 0, deploy.DefaultRetries, deploy.MaxRetries, deploy.MaxRetries + 1} {
			check(t, withFunction(map[string]any{"retries": n}), deploy.ValidateRetries(n))
		}
		for _, n := range []int{-1, 0, 10, deploy.MaxConcurrency, deploy.MaxConcurrency + 1} {
			check(t, withFunction(map[string]any{"provisioned": n, "max_concurrency": deploy.MaxConcurrency}), deploy.ValidateProvisioned(n, deploy.MaxConcurrency))
		}
		for _, r := range []float64{-1, 0, 0.001, 0.5, 100, deploy.MaxRateLimit, deploy.MaxRateLimit + 0.5} {
			check(t, withFunction(map[string]any{"routes": []any{map[string]any{"route": "GET /x", "rate_limit": r}}}), deploy.ValidateRateLimit(r))
		}
		for _, n := range []int{-1, 0, 1, deploy.MaxBurst, deploy.MaxBurst + 1} {
			check(t, withFunction(map[string]any{"routes": []any{map[string]any{"route": "GET /x", "rate_limit": 1, "burst": n}}}), deploy.ValidateBurst(n))
		}
		// Visibility timeouts: syntax only, as for timeouts.
		for _, d := range []string{"30s", "1s", "12h", "1m30s", "soon", "30", ""} {
			_, err := time.ParseDuration(d)
			check(t, queue(map[string]any{"visibility_timeout": d}), err)
		}
		// The mapping form of a route carries the same route syntax.
		for _, r := range []string{"POST /hooks/{id}", "/a//b", "/_strata/x", "get /x"} {
			_, err := route.Parse(r)
			check(t, withFunction(map[string]any{"routes": []any{map[string]any{"route": r, "async": true}}}), err)
		}
	})
	t.Run("timeouts", func(t *testing.T) {
		// The schema checks the syntax; the range is Go's alone. Only
		// in-range values and syntax errors are compared.
		for _, d := range []string{"10s", "1m30s", "1ms", "15m", "250ms", "1.5s", "0h1m0s", ".5s", "forever", "10", "", "5 s", "1d"} {
			_, err := parseTimeout(d)
			check(t, withFunction(map[string]any{"timeout": d}), err)
		}
	})
}

// parseTimeout is what Parse does with a timeout string.
func parseTimeout(s string) (time.Duration, error) {
	wasm := filepath.Join("testdata", "fn", "mod.wasm")
	m, err := Parse("t.yaml", []byte("project: p\nfunctions:\n  f:\n    wasm: "+wasm+"\n    timeout: \""+s+"\"\n"))
	if err != nil {
		return 0, err
	}
	return m.Functions[0].Timeout, nil
}

// TestSchemaAgreesWithGoOnBindings does for databases, kv namespaces,
// secrets, bindings and fetch what TestSchemaAgreesWithGo does for the rest.
func TestSchemaAgreesWithGoOnBindings(t *testing.T) {
	sch := compileSchema(t)
	check := func(t *testing.T, doc map[string]any, goErr error) {
		t.Helper()
		js, err := json.Marshal(doc)
		require.NoError(t, err)
		inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(js))
		require.NoError(t, err)
		schemaErr := sch.Validate(inst)
		assert.Equal(t, goErr == nil, schemaErr == nil, "doc %s: go says %v, schema says %v", js, goErr, schemaErr)
	}
	project := func(extra map[string]any, fn map[string]any) map[string]any {
		fn["source"] = "./x"
		doc := map[string]any{"project": "p", "functions": map[string]any{"f": fn}}
		for k, v := range extra {
			doc[k] = v
		}
		return doc
	}
	declared := func(n string) bool { return n == "PW" || n == "URL" || n == "USER" }

	t.Run("names", func(t *testing.T) {
		for _, n := range []string{"main", "a-1", "a_b", "Main", "1a", "", "-a", strings.Repeat("d", 63), strings.Repeat("d", 64)} {
			check(t, project(map[string]any{"databases": map[string]any{n: nil}}, map[string]any{}), deploy.ValidateResourceName(n))
			check(t, project(map[string]any{"kv": map[string]any{n: map[string]any{}}}, map[string]any{}), deploy.ValidateResourceName(n))
		}
		for _, n := range []string{"db", "a_b", "a-b", "a1", "Db", "_x", "1a", "", "a.b", strings.Repeat("b", 63), strings.Repeat("b", 64)} {
			check(t, project(map[string]any{"kv": map[string]any{"k": nil}}, map[string]any{"bindings": map[string]any{n: "k"}}), deploy.ValidateBindingName(n))
		}
		for _, n := range []string{"STRIPE_KEY", "a", "_", "A9", "9A", "A-B", "A B", "", "É", strings.Repeat("S", 128), strings.Repeat("S", 129)} {
			check(t, project(map[string]any{"secrets": []any{n}}, map[string]any{}), deploy.ValidateSecretName(n))
		}
	})
	t.Run("databases", func(t *testing.T) {
		for _, n := range []int{0, 1, deploy.DefaultMaxConnections, 1000, 1001} {
			check(t, project(map[string]any{"databases": map[string]any{"d": map[string]any{"max_connections": n}}}, map[string]any{}), deploy.ValidateMaxConnections(n))
		}
		for _, e := range []string{"sqlite", "postgres", "mysql", "SQLite", ""} {
			d := map[string]any{"engine": e}
			if e == "postgres" {
				d["url"] = "postgres://h/db"
			}
			check(t, project(map[string]any{"databases": map[string]any{"d": d}}, map[string]any{}), deploy.ValidateEngine(e))
		}
		for _, u := range []string{
			"${secret:URL}", "postgres://h/db", "postgresql://u@h:5432/db?sslmode=require", "postgres://u:${secret:PW}@h/db",
			"postgres://${secret:USER}:${secret:PW}@h/db", "postgres://u:${secret:PW}@[::1]:5432/db", "postgres://h/db?password=${secret:PW}",
			"postgres://", "postgres://h/a@b",
			"postgres://u:pw@h/db", "postgres://u:@h/db", "postgres://u:p@ss@h/db", "postgres://u:${secret:PW}x@h/db",
			"mysql://h/db", "http://h", "POSTGRES://h/db", "postgres:db", "h/db", "", "${secret:URL", "$URL",
			"${secret:lower-case}", "${secret:URL}${secret:PW}", "${secret:URL}/db",
		} {
			err := deploy.ValidateDatabaseURL("d", record.EnginePostgres, u, declared)
			check(t, project(map[string]any{"secrets": []any{"PW", "URL", "USER"}, "databases": map[string]any{"d": map[string]any{"engine": "postgres", "url": u}}}, map[string]any{}), err)
		}
		// postgres needs a url and sqlite takes none.
		for _, tc := range []struct {
			engine any
			url    any
		}{{"postgres", nil}, {"sqlite", "postgres://h/db"}, {nil, "postgres://h/db"}, {"sqlite", nil}} {
			d := map[string]any{}
			if tc.engine != nil {
				d["engine"] = tc.engine
			}
			if tc.url != nil {
				d["url"] = tc.url
			}
			engine, _ := tc.engine.(string)
			if engine == "" {
				engine = record.EngineSQLite
			}
			u, _ := tc.url.(string)
			check(t, project(map[string]any{"databases": map[string]any{"d": d}}, map[string]any{}), deploy.ValidateDatabaseURL("d", engine, u, declared))
		}
	})
	t.Run("fetch", func(t *testing.T) {
		for _, f := range []string{
			"api.stripe.com", "*.example.org", "*.a.b.example.org", "127.0.0.1:9000", "127.0.0.1", "0.0.0.0", "localhost",
			"localhost:8080", "a", "x-1.example.org", "[::1]", "[::1]:8443", "api.stripe.com:1", "api.stripe.com:65535",
			"example.org:443", "xn--bcher-kva.example",
			"https://api.stripe.com", "api.stripe.com/v1", "10.0.0.0/8", "10.0.0.1-10.0.0.9", "*", "api.*.com", "*.com",
			"**.example.org", "*example.org", "api.stripe.com:0", "api.stripe.com:65536", "api.stripe.com:08", "::1",
			"API.Stripe.com", "", "1.2.3", "01.2.3.4", "256.1.1.1", "1a", "-a.com", "a-.com", "a..b", "a.b.", ".a.b",
			"a_b.com", "*.1.2.3.4", "api.stripe.com:", "api.stripe.com:http", "a b", "[::1]8443", "[::1]:0",
		} {
			check(t, project(nil, map[string]any{"fetch": []any{f}}), deploy.ValidateFetchPattern(f))
		}
		check(t, project(nil, map[string]any{"fetch_private": true}), errors.New("needs fetch"))
		check(t, project(nil, map[string]any{"fetch_private": true, "fetch": []any{}}), errors.New("needs fetch"))
		check(t, project(nil, map[string]any{"fetch_private": false}), nil)
		check(t, project(nil, map[string]any{"fetch_private": true, "fetch": []any{"a.com"}}), nil)
	})
}
