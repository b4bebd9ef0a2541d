package manifest

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/internal/deploy"
)

// TestSchemaAgreesWithGoOnWorkflows does for workflows and the routes that
// start them what TestSchemaAgreesWithGo does for the rest. Documents are
// given to Parse as JSON (which is YAML), so the Go verdict is the
// manifest's own, not a validator's alone.
func TestSchemaAgreesWithGoOnWorkflows(t *testing.T) {
	sch := compileSchema(t)
	wasm := filepath.Join("testdata", "fn", "mod.wasm")
	check := func(t *testing.T, doc map[string]any) {
		t.Helper()
		js, err := json.Marshal(doc)
		require.NoError(t, err)
		_, goErr := Parse("t.yaml", js)
		inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(js))
		require.NoError(t, err)
		schemaErr := sch.Validate(inst)
		assert.Equal(t, goErr == nil, schemaErr == nil, "doc %s: go says %v, schema says %v", js, goErr, schemaErr)
	}
	// project declares workflows wfs and function f (a reactor) with routes.
	project := func(wfs map[string]any, routes ...any) map[string]any {
		f := map[string]any{"wasm": wasm, "kind": "reactor"}
		if len(routes) > 0 {
			f["routes"] = routes
		}
		doc := map[string]any{"project": "p", "functions": map[string]any{"f": f}}
		if wfs != nil {
			doc["workflows"] = wfs
		}
		return doc
	}
	wf := func(settings map[string]any) map[string]any {
		if _, ok := settings["function"]; !ok {
			settings["function"] = "f"
		}
		return map[string]any{"w": settings}
	}

	t.Run("names", func(t *testing.T) {
		for _, n := range []string{"fulfil", "a-1", "a", "a-", strings.Repeat("w", 63), strings.Repeat("w", 64), "", "Fulfil", "1a", "-a", "a_b", "a.b", "héllo"} {
			doc := project(map[string]any{n: map[string]any{"function": "f"}})
			_, err := Parse("t.yaml", mustJSON(t, doc))
			require.Equal(t, deploy.ValidateName(n) == nil, err == nil, "%s: %v", n, err)
			check(t, project(map[string]any{n: map[string]any{"function": "f"}}))
			// A route naming it, where it exists.
			check(t, project(map[string]any{n: map[string]any{"function": "f"}}, map[string]any{"route": "POST /x", "workflow": n}))
		}
	})
	t.Run("settings", func(t *testing.T) {
		for _, n := range []any{deploy.MinHistoryLimit - 1, deploy.MinHistoryLimit, 50000, deploy.MaxHistoryLimit, deploy.MaxHistoryLimit + 1, -1, 0, nil, "500", 100.5, true} {
			check(t, project(wf(map[string]any{"history_limit": n})))
		}
		// Retentions: the schema checks the syntax; the range is Go's
		// alone. Only in-range values and syntax errors are compared.
		for _, d := range []any{"168h", "1m", "90m", "1h30m", "8760h", "1.5h", "60s", "7d", "soon", "", "1 h", 3600, nil} {
			if s, ok := d.(string); ok {
				if v, err := time.ParseDuration(s); err == nil {
					require.NoError(t, deploy.ValidateRetention(v), s)
				}
			}
			check(t, project(wf(map[string]any{"retention": d})))
		}
		for _, fn := range []any{"f", 42, nil, ""} {
			check(t, project(map[string]any{"w": map[string]any{"function": fn}}))
		}
		check(t, project(map[string]any{"w": map[string]any{}}))    // no function
		check(t, project(map[string]any{"w": nil}))                 // nothing at all
		check(t, project(map[string]any{"w": "f"}))                 // the short form is not one
		check(t, project(wf(map[string]any{"histroy_limit": 100}))) // unknown key
		check(t, project(nil))                                      // no workflows: fine
		check(t, map[string]any{"project": "p", "workflows": []any{"w"}, "functions": map[string]any{"f": map[string]any{"wasm": wasm}}})
	})
	t.Run("routes", func(t *testing.T) {
		w := wf(map[string]any{})
		for _, r := range []map[string]any{
			{"route": "POST /x", "workflow": "w"},
			{"route": "POST /x", "workflow": "w", "async": false},
			{"route": "POST /x", "workflow": "w", "async": true},
			{"route": "POST /x", "workflow": "w", "async": nil},
			{"route": "POST /x", "workflow": nil, "async": true},
			{"route": "POST /x", "workflow": "w", "rate_limit": 5, "burst": 2},
			{"route": "POST /x", "workflow": 42},
			{"route": "POST /x", "workflow": []any{"w"}},
			{"route": "POST /x", "workflow": ""},
			{"workflow": "w"},
		} {
			check(t, project(w, r))
		}
	})
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	js, err := json.Marshal(v)
	require.NoError(t, err)
	return js
}
