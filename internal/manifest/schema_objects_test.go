package manifest

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/internal/deploy"
)

// TestSchemaAgreesWithGoOnObjects does for durable object classes, object
// and WebSocket routes and class bindings what TestSchemaAgreesWithGo does
// for the rest: on each document, Parse and the schema give the same
// verdict. Ranges the schema leaves to Go (idle timeouts, storage limits)
// are compared only where the value is in range or malformed.
func TestSchemaAgreesWithGoOnObjects(t *testing.T) {
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
	// project declares classes objs and function f (a reactor) with
	// routes; workflow w is f's, for routes that try to start it.
	project := func(objs map[string]any, routes ...any) map[string]any {
		f := map[string]any{"wasm": wasm, "kind": "reactor"}
		if len(routes) > 0 {
			f["routes"] = routes
		}
		doc := map[string]any{
			"project":   "p",
			"functions": map[string]any{"f": f},
			"workflows": map[string]any{"w": map[string]any{"function": "f"}},
		}
		if objs != nil {
			doc["objects"] = objs
		}
		return doc
	}
	class := func(settings map[string]any) map[string]any {
		if _, ok := settings["function"]; !ok {
			settings["function"] = "f"
		}
		return map[string]any{"Room": settings}
	}

	t.Run("names", func(t *testing.T) {
		for _, n := range []string{"Room", "room", "R", "Chat_Room2", strings.Repeat("R", 64), strings.Repeat("R", 65), "", "1Room", "_Room", "Room-1", "Room.x", "Rööm"} {
			doc := project(map[string]any{n: map[string]any{"function": "f"}})
			_, err := Parse("t.yaml", mustJSON(t, doc))
			require.Equal(t, deploy.ValidateClassName(n) == nil, err == nil, "%s: %v", n, err)
			check(t, doc)
		}
	})
	t.Run("settings", func(t *testing.T) {
		for _, d := range []any{"30s", "1s", "24h", "1h30m", "90m", "soon", "", "1 h", "30d", 30, nil, true} {
			check(t, project(class(map[string]any{"idle_timeout": d})))
		}
		for _, s := range []any{"50MiB", "1KiB", "1024B", "10GiB", "512KiB", "50MB", "50mib", "50 MiB", "MiB", "1.5GiB", "-1KiB", "", 1024, nil, []any{"1KiB"}} {
			if v, ok := s.(string); ok {
				if n, err := deploy.ParseSize(v); err == nil {
					require.NoError(t, deploy.ValidateObjectStorageLimit(n), v)
				}
			}
			check(t, project(class(map[string]any{"storage_limit": s})))
		}
		for _, n := range []any{0, 50, 9999, -1, 900001, "50", 1.5, nil} {
			check(t, project(class(map[string]any{"cpu_ms": n}))) // below f's 10s timeout, or out of range
		}
		for _, fn := range []any{"f", 42, nil, ""} {
			check(t, project(map[string]any{"Room": map[string]any{"function": fn}}))
		}
		check(t, project(map[string]any{"Room": map[string]any{}}))   // no function
		check(t, project(map[string]any{"Room": nil}))                // nothing at all
		check(t, project(map[string]any{"Room": "f"}))                // the short form is not one
		check(t, project(class(map[string]any{"idle_timout": "1m"}))) // unknown key
		check(t, project(nil))                                        // no objects: fine
		check(t, map[string]any{"project": "p", "objects": []any{"Room"}, "functions": map[string]any{"f": map[string]any{"wasm": wasm}}})
	})
	t.Run("routes", func(t *testing.T) {
		room := class(map[string]any{})
		for _, r := range []map[string]any{
			{"route": "GET /r/{name}", "object": "Room"},
			{"route": "GET /r/{name}", "object": "Room", "id": "name"},
			{"route": "GET /r/{name}", "object": nil},
			{"route": "GET /r/{name}", "object": "Room", "async": false},
			{"route": "GET /r/{name}", "object": "Room", "async": true},
			{"route": "GET /r/{name}", "object": "Room", "async": nil},
			{"route": "GET /r/{name}", "object": "Room", "workflow": "w"},
			{"route": "GET /r/{name}", "object": "Room", "workflow": nil},
			{"route": "GET /r", "object": "Room"},
			{"route": "GET /r/{name}", "id": "name"},
			{"route": "GET /r/{name}", "id": "name", "object": nil},
			{"route": "GET /r/{name}", "object": 42},
			{"route": "GET /r/{name}", "object": ""},
			{"route": "GET /r/{name}", "object": "Room", "rate_limit": 5, "burst": 2},
			{"route": "/ws", "websocket": true},
			{"route": "GET /ws", "websocket": true},
			{"route": "POST /ws", "websocket": true},
			{"route": "POST /ws", "websocket": false},
			{"route": "/ws", "websocket": nil},
			{"route": "/ws", "websocket": "yes"},
			{"route": "/ws", "websocket": true, "async": true},
			{"route": "/ws", "websocket": true, "async": false},
			{"route": "/ws", "websocket": true, "workflow": "w"},
			{"route": "/ws/{name}", "websocket": true, "object": "Room"},
			{"route": "/ws/{name}", "websocket": false, "object": "Room"},
			{"object": "Room"},
		} {
			check(t, project(room, r))
		}
	})
	t.Run("bindings", func(t *testing.T) {
		for _, res := range []any{"Room", "main", "Room_2", "room-x", 42, ""} {
			doc := project(map[string]any{"Room": map[string]any{"function": "f"}, "Room_2": map[string]any{"function": "f"}})
			doc["databases"] = map[string]any{"main": map[string]any{}, "room-x": map[string]any{}}
			doc["functions"].(map[string]any)["f"].(map[string]any)["bindings"] = map[string]any{"b": res}
			check(t, doc)
		}
	})
}
