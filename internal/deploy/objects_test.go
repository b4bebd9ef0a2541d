package deploy

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/internal/apitype"
	"github.com/stratahq/strata/internal/record"
)

// chatWithObjects: rooms defines Room and Lobby (listed out of order) and
// serves an object route and a WebSocket route; api binds Room.
func chatWithObjects() apitype.Spec {
	s := spec("chat", fn("rooms", sha('1'), "GET /"), fn("api", sha('2'), "GET /a"))
	r := &s.Functions[0]
	r.Config.Objects = []record.ObjectClass{{Name: "Room", IdleTimeoutMS: 30000}, {Name: "Lobby"}}
	r.Routes = append(r.Routes,
		apitype.RouteSpec{Method: "GET", Path: "/rooms/{name}/ws", Object: "Room", ObjectParam: "name"},
		apitype.RouteSpec{Method: "*", Path: "/chat", WebSocket: true},
	)
	s.Functions[1].Config.Bindings = []record.Binding{{Name: "rooms", Kind: record.BindingObject, Resource: "Room"}}
	return s
}

func TestObjectsFirstDeploy(t *testing.T) {
	s := chatWithObjects()
	p, err := Compute(s, State{})
	require.NoError(t, err)
	ap := p.ApplyParams(s, testNow)
	require.NoError(t, ap.Validate())
	assert.Contains(t, ap.Routes, record.Route{Project: "chat", Method: "GET", Path: "/rooms/{name}/ws", Function: "rooms", Object: "Room", ObjectParam: "name"})
	assert.Contains(t, ap.Routes, record.Route{Project: "chat", Method: "*", Path: "/chat", Function: "rooms", WebSocket: true})
	for _, v := range ap.NewVersions {
		if v.Function == "rooms" {
			// Sorted, whatever the order of the request.
			assert.Equal(t, []record.ObjectClass{{Name: "Lobby"}, {Name: "Room", IdleTimeoutMS: 30000}}, v.Config.Objects)
		}
	}
	var out bytes.Buffer
	require.NoError(t, p.Write(&out))
	assert.Contains(t, out.String(), "object +Lobby, object +Room")
	assert.Contains(t, out.String(), "+ route GET /rooms/{name}/ws → rooms (object Room by {name})\n")
	assert.Contains(t, out.String(), "+ route * /chat → rooms (websocket)\n")

	// Once deployed: the same spec with its classes in the other order
	// plans nothing; a changed class is a change of rooms alone.
	st := applied(t, s, State{})
	again := chatWithObjects()
	objs := again.Functions[0].Config.Objects
	objs[0], objs[1] = objs[1], objs[0]
	p, err = Compute(again, st)
	require.NoError(t, err)
	assert.True(t, p.Empty(), "%+v", p)

	again.Functions[0].Config.Objects[0].StorageLimitBytes = 1 << 20
	p, err = Compute(again, st)
	require.NoError(t, err)
	require.Len(t, p.Change, 1)
	assert.Equal(t, []string{"object ~Lobby"}, p.Change[0].Fields)

	again = chatWithObjects()
	again.Functions[0].Routes[1].ObjectParam = ""
	again.Functions[0].Routes[1].Object = ""
	again.Functions[0].Routes[2].WebSocket = false
	p, err = Compute(again, st)
	require.NoError(t, err)
	require.Len(t, p.RoutesChange, 2)
	assert.Equal(t, []string{"websocket on→off"}, p.RoutesChange[0].Fields)
	assert.Equal(t, []string{"object Room by {name}→none"}, p.RoutesChange[1].Fields)
}

func TestValidateObjects(t *testing.T) {
	for name, tc := range map[string]struct {
		edit func(s *apitype.Spec)
		want string
	}{
		"bad class name": {func(s *apitype.Spec) { s.Functions[0].Config.Objects[0].Name = "1Room" },
			`config: objects: name must be a letter followed by up to 63 letters, digits or _, got "1Room"`},
		"class twice in a function": {func(s *apitype.Spec) {
			s.Functions[0].Config.Objects = append(s.Functions[0].Config.Objects, record.ObjectClass{Name: "Room"})
		}, `objects: "Room" is listed twice`},
		"class in two functions": {func(s *apitype.Spec) {
			s.Functions[1].Config.Objects = []record.ObjectClass{{Name: "Room"}}
		}, `object class "Room" is defined by functions "rooms" and "api"`},
		"idle timeout": {func(s *apitype.Spec) { s.Functions[0].Config.Objects[0].IdleTimeoutMS = 500 },
			`object "Room": idle_timeout: must be a duration between 1s and 24h, e.g. "30s", got 500ms`},
		"storage limit": {func(s *apitype.Spec) { s.Functions[0].Config.Objects[0].StorageLimitBytes = 11 << 30 },
			`object "Room": storage_limit: must be a size between 1KiB and 10GiB, e.g. "50MiB" (units B, KiB, MiB, GiB), got 11GiB`},
		"command module": {func(s *apitype.Spec) { s.Functions[0].Config.Kind = record.KindCommand },
			`objects: a command module cannot define durable object classes`},
		"unknown class": {func(s *apitype.Spec) { s.Functions[0].Routes[1].Object = "Zoo" },
			`function "rooms": route GET /rooms/{name}/ws: unknown object class "Zoo"`},
		"other function's class": {func(s *apitype.Spec) {
			s.Functions[1].Routes = append(s.Functions[1].Routes, apitype.RouteSpec{Method: "GET", Path: "/r/{id}", Object: "Room", ObjectParam: "id"})
		}, `function "api": route GET /r/{id}: object class "Room" is defined by function "rooms"`},
		"param not in path": {func(s *apitype.Spec) { s.Functions[0].Routes[1].ObjectParam = "id" },
			`route GET /rooms/{name}/ws: object_param "id" is not a parameter of the path`},
		"param without object": {func(s *apitype.Spec) { s.Functions[0].Routes[0].ObjectParam = "id" },
			`route GET /: object_param "id" needs an object`},
		"object and async": {func(s *apitype.Spec) { s.Functions[0].Routes[1].Async = true },
			`a route that forwards to object class "Room" cannot be async or start a workflow`},
		"websocket and object": {func(s *apitype.Spec) { s.Functions[0].Routes[2].Object = "Room" },
			`route * /chat: a websocket route cannot be async, start a workflow or forward to an object`},
		"websocket POST": {func(s *apitype.Spec) { s.Functions[0].Routes[2].Method = "POST" },
			`route POST /chat: a websocket route's method must be GET or none, got POST`},
		"unknown bound class": {func(s *apitype.Spec) { s.Functions[1].Config.Bindings[0].Resource = "Zoo" },
			`function "api": bindings: "rooms": unknown object class "Zoo"`},
		"bad bound class": {func(s *apitype.Spec) { s.Functions[1].Config.Bindings[0].Resource = "Ro-om" },
			`bindings: "rooms": object class must be a letter`},
		"class bound as kv": {func(s *apitype.Spec) { s.Functions[1].Config.Bindings[0].Kind = record.BindingKV },
			`bindings: "rooms": resource must be a lowercase letter`},
		"class named as database": {func(s *apitype.Spec) {
			s.Databases = []apitype.DatabaseSpec{{Name: "lobby", Engine: record.EngineSQLite, MaxConnections: 10}}
			s.Functions[0].Config.Objects[1].Name = "lobby"
		}, `object class "lobby": a sql resource has that name; class, database and kv names must differ`},
		"database bound as object": {func(s *apitype.Spec) {
			s.Databases = []apitype.DatabaseSpec{{Name: "main", Engine: record.EngineSQLite, MaxConnections: 10}}
			s.Functions[1].Config.Bindings[0].Resource = "main"
		}, `bindings: "rooms": "main" is a sql resource, not object`},
	} {
		t.Run(name, func(t *testing.T) {
			s := chatWithObjects()
			tc.edit(&s)
			err := Validate(s)
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrInvalidSpec)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
	require.NoError(t, Validate(chatWithObjects()))
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"1B": 1, "1024B": 1024, "1KiB": 1 << 10, "50MiB": 50 << 20, "10GiB": 10 << 30, "0B": 0, "007KiB": 7 << 10} {
		got, err := ParseSize(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
		if want > 0 {
			back, err := ParseSize(SizeString(want))
			require.NoError(t, err)
			assert.Equal(t, want, back, "SizeString(%d) = %s", want, SizeString(want))
		}
	}
	for _, in := range []string{"", "B", "1", "50MB", "50mib", "50 MiB", "1.5GiB", "-1KiB", "+1KiB", "1TiB", "99999999999999999999B", "9999999999999GiB"} {
		_, err := ParseSize(in)
		assert.Error(t, err, in)
	}
	assert.Equal(t, "1536KiB", SizeString(1536<<10))
	assert.Equal(t, "1000B", SizeString(1000))
	require.NoError(t, ValidateObjectIdleTimeout(24*time.Hour))
	require.Error(t, ValidateObjectIdleTimeout(24*time.Hour+time.Millisecond))
}
