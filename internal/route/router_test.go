package route

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/sdk/go/wire"
)

// routes builds store routes from "METHOD PATH -> fn" lines.
func routes(t testing.TB, lines ...string) []record.Route {
	t.Helper()
	var out []record.Route
	for _, l := range lines {
		spec, fn, ok := strings.Cut(l, " -> ")
		require.True(t, ok, l)
		p, err := Parse(spec)
		require.NoError(t, err, l)
		out = append(out, record.Route{Project: "p", Method: p.Method, Path: p.Path, Function: fn})
	}
	return out
}

func ps(kv ...string) []wire.Param {
	var out []wire.Param
	for i := 0; i < len(kv); i += 2 {
		out = append(out, wire.Param{Name: kv[i], Value: kv[i+1]})
	}
	return out
}

func TestRouterMatch(t *testing.T) {
	r, err := NewRouter(routes(t,
		"GET / -> root",
		"GET /hello -> hello",
		"GET /hello/ -> hello-slash",
		"GET /hello/{name} -> hello-name",
		"POST /hello/{name} -> hello-post",
		"GET /hello/world -> hello-world",
		"GET /users/me -> me",
		"POST /users/{id} -> user-post",
		"GET /users/{id}/posts/{post} -> post",
		"GET /users/{uid}/files/{path...} -> user-files",
		"/files/{path...} -> files",
		"GET /files/special -> files-special",
		"* /any -> any",
		"DELETE /any -> any-delete",
		"HEAD /head -> head-only",
		"GET /head -> head-get",
		"PUT /put -> put-only",
		"GET /a/{x}/c -> axc",
		"GET /a/b/d -> abd",
		"GET /static/* -> static",
		"GET /deep/{a}/{b}/{c} -> deep",
		"/catch/{rest...} -> catch",
		"GET /catch/{x}/y -> catch-xy",
	))
	require.NoError(t, err)

	tests := []struct {
		method, path string
		fn           string
		params       []wire.Param
		allowed      []string
	}{
		{"GET", "/", "root", nil, nil},
		{"GET", "/hello", "hello", nil, nil},
		{"GET", "/hello/", "hello-slash", nil, nil},
		{"GET", "/hello/bob", "hello-name", ps("name", "bob"), nil},
		{"POST", "/hello/bob", "hello-post", ps("name", "bob"), nil},
		{"GET", "/hello/world", "hello-world", nil, nil},
		// The literal /hello/world has no POST, so the {name} route serves it.
		{"POST", "/hello/world", "hello-post", ps("name", "world"), nil},
		{"PUT", "/hello/world", "", nil, []string{"GET", "HEAD", "POST"}},
		{"GET", "/hello/bob/x", "", nil, nil},
		{"GET", "/users/me", "me", nil, nil},
		{"POST", "/users/me", "user-post", ps("id", "me"), nil},
		{"GET", "/users/7", "", nil, []string{"POST"}},
		{"GET", "/users/7/posts/9", "post", ps("id", "7", "post", "9"), nil},
		{"GET", "/users/7/files/a/b/c.txt", "user-files", ps("uid", "7", "path", "a/b/c.txt"), nil},
		{"GET", "/users/7/files/", "user-files", ps("uid", "7", "path", ""), nil},
		{"GET", "/users/7/files", "", nil, nil},
		{"GET", "/files/special", "files-special", nil, nil},
		{"POST", "/files/special", "files", ps("path", "special"), nil},
		{"PATCH", "/files/x//y/", "files", ps("path", "x//y/"), nil},
		{"GET", "/files", "", nil, nil},
		{"GET", "/any", "any", nil, nil},
		{"DELETE", "/any", "any-delete", nil, nil},
		{"TRACE", "/any", "any", nil, nil},
		{"HEAD", "/head", "head-only", nil, nil},
		{"GET", "/head", "head-get", nil, nil},
		{"HEAD", "/hello", "hello", nil, nil},
		{"HEAD", "/put", "", nil, []string{"PUT"}},
		{"TRACE", "/hello", "", nil, []string{"GET", "HEAD"}},
		// Backtracking: the literal "a/b" branch fails at "c", so {x} is tried.
		{"GET", "/a/b/c", "axc", ps("x", "b"), nil},
		{"GET", "/a/b/d", "abd", nil, nil},
		{"GET", "/a/z/d", "", nil, nil},
		{"GET", "/static/css/site.css", "static", nil, nil},
		{"GET", "/static/", "static", nil, nil},
		{"GET", "/deep/1/2/3", "deep", ps("a", "1", "b", "2", "c", "3"), nil},
		{"GET", "/deep/1//3", "", nil, nil}, // a {param} never matches an empty segment
		{"GET", "/catch/q/y", "catch-xy", ps("x", "q"), nil},
		{"POST", "/catch/q/y", "catch", ps("rest", "q/y"), nil},
		{"GET", "/catch/q/z", "catch", ps("rest", "q/z"), nil},
		{"GET", "/nope", "", nil, nil},
		{"GET", "", "", nil, nil},
		{"GET", "relative", "", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			fn, params, allowed, ok := r.Match(tt.method, tt.path)
			assert.Equal(t, tt.fn != "", ok)
			assert.Equal(t, tt.fn, fn)
			assert.Equal(t, tt.params, params)
			assert.Equal(t, tt.allowed, allowed)
		})
	}
}

func TestRouterRootCatchAll(t *testing.T) {
	r, err := NewRouter(routes(t, "* /{rest...} -> all", "GET /api/{v} -> api"))
	require.NoError(t, err)
	for _, tt := range []struct {
		method, path, fn string
		params           []wire.Param
	}{
		{"GET", "/", "all", ps("rest", "")},
		{"GET", "/x/y", "all", ps("rest", "x/y")},
		{"GET", "/api/1", "api", ps("v", "1")},
		{"POST", "/api/1", "all", ps("rest", "api/1")},
		{"GET", "/api/1/2", "all", ps("rest", "api/1/2")},
	} {
		fn, params, _, ok := r.Match(tt.method, tt.path)
		assert.True(t, ok, tt.path)
		assert.Equal(t, tt.fn, fn, tt.path)
		assert.Equal(t, tt.params, params, tt.path)
	}
}

func TestRouterParamNamesPerRoute(t *testing.T) {
	// Same shape, different methods, different names: each route keeps its own.
	r, err := NewRouter(routes(t, "GET /u/{id} -> get", "PUT /u/{user} -> put"))
	require.NoError(t, err)
	_, params, _, _ := r.Match("GET", "/u/1")
	assert.Equal(t, ps("id", "1"), params)
	_, params, _, _ = r.Match("PUT", "/u/1")
	assert.Equal(t, ps("user", "1"), params)
}

func TestRouterWideNode(t *testing.T) {
	// Enough siblings to switch the node to a map.
	var lines []string
	for i := range 40 {
		lines = append(lines, fmt.Sprintf("GET /n%d/{id} -> f%d", i, i))
	}
	r, err := NewRouter(routes(t, lines...))
	require.NoError(t, err)
	for i := range 40 {
		fn, params, _, ok := r.Match("GET", fmt.Sprintf("/n%d/x", i))
		require.True(t, ok)
		assert.Equal(t, fmt.Sprintf("f%d", i), fn)
		assert.Equal(t, ps("id", "x"), params)
	}
	_, _, _, ok := r.Match("GET", "/n40/x")
	assert.False(t, ok)
}

func TestNewRouterErrors(t *testing.T) {
	tests := []struct {
		name   string
		routes []record.Route
		err    string
	}{
		{
			name: "clash renamed param",
			routes: []record.Route{
				{Project: "a", Method: "GET", Path: "/u/{id}", Function: "f"},
				{Project: "b", Method: "GET", Path: "/u/{name}", Function: "g"},
			},
			err: `route GET /u/{name} (project "b", function "g") clashes with GET /u/{id} (project "a", function "f")`,
		},
		{
			name: "clash catch-alls",
			routes: []record.Route{
				{Project: "a", Method: "*", Path: "/s/*", Function: "f"},
				{Project: "a", Method: "*", Path: "/s/{rest...}", Function: "g"},
			},
			err: `route * /s/{rest...} (project "a", function "g") clashes with * /s/* (project "a", function "f")`,
		},
		{
			name:   "bad path",
			routes: []record.Route{{Project: "a", Method: "GET", Path: "/a//b", Function: "f"}},
			err:    `route GET /a//b of function "f": path "/a//b" has an empty segment ("//")`,
		},
		{
			name:   "bad method",
			routes: []record.Route{{Project: "a", Method: "", Path: "/a", Function: "f"}},
			err:    `route  /a of function "f": method "" is not one of GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS or *`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewRouter(tt.routes)
			require.EqualError(t, err, tt.err)
		})
	}
}

func TestNewRouterKeepsServingDespiteBadRoutes(t *testing.T) {
	r, err := NewRouter([]record.Route{
		{Project: "a", Method: "GET", Path: "/u/{id}", Function: "first"},
		{Project: "b", Method: "GET", Path: "/u/{name}", Function: "second"},
		{Project: "b", Method: "GET", Path: "/bad//path", Function: "bad"},
		{Project: "b", Method: "GET", Path: "/ok", Function: "ok"},
	})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "clashes with")
	assert.Contains(t, err.Error(), "empty segment")
	require.NotNil(t, r)
	fn, params, _, ok := r.Match("GET", "/u/7")
	assert.True(t, ok)
	assert.Equal(t, "first", fn)
	assert.Equal(t, ps("id", "7"), params)
	fn, _, _, ok = r.Match("GET", "/ok")
	assert.True(t, ok)
	assert.Equal(t, "ok", fn)
}

func TestRouterEmpty(t *testing.T) {
	r, err := NewRouter(nil)
	require.NoError(t, err)
	_, _, allowed, ok := r.Match("GET", "/")
	assert.False(t, ok)
	assert.Nil(t, allowed)
}

func TestMatchAllocations(t *testing.T) {
	r, err := NewRouter(routes(t, "GET /hello -> a", "GET /users/{id}/posts/{post} -> b", "/x/{rest...} -> c"))
	require.NoError(t, err)
	// The common case, a route without parameters, must not allocate; a
	// route with parameters allocates exactly its params slice.
	assert.Zero(t, testing.AllocsPerRun(100, func() { r.Match("GET", "/hello") }))
	assert.Zero(t, testing.AllocsPerRun(100, func() { r.Match("GET", "/missing/path") }))
	assert.Equal(t, 1.0, testing.AllocsPerRun(100, func() { r.Match("GET", "/users/1/posts/2") }))
	assert.Equal(t, 1.0, testing.AllocsPerRun(100, func() { r.Match("GET", "/x/a/b") }))
}

func BenchmarkMatch(b *testing.B) {
	// A realistic API: a few dozen routes over several projects.
	var lines []string
	for _, res := range []string{"users", "orders", "products", "carts", "invoices", "shipments", "reviews", "coupons"} {
		lines = append(lines,
			"GET /api/"+res+" -> list-"+res,
			"POST /api/"+res+" -> create-"+res,
			"GET /api/"+res+"/{id} -> get-"+res,
			"PUT /api/"+res+"/{id} -> put-"+res,
			"DELETE /api/"+res+"/{id} -> del-"+res,
			"GET /api/"+res+"/{id}/history -> hist-"+res,
		)
	}
	lines = append(lines, "GET /hello -> hello", "GET /static/{path...} -> static", "* /{rest...} -> fallback")
	r, err := NewRouter(routes(b, lines...))
	require.NoError(b, err)
	cases := []struct{ name, method, path string }{
		{"static-literal", "GET", "/hello"},
		{"literal-deep", "GET", "/api/shipments"},
		{"one-param", "GET", "/api/invoices/12345"},
		{"param-then-literal", "GET", "/api/reviews/9/history"},
		{"catch-all", "GET", "/static/css/site/main.css"},
		{"fallback", "PATCH", "/api/users/1"},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, _, _, ok := r.Match(c.method, c.path); !ok {
					b.Fatal("no match")
				}
			}
		})
	}
}

func TestRouterMatchRoute(t *testing.T) {
	rs := routes(t, "POST /hooks/{id} -> thumb", "GET /hooks/{id} -> thumb", "GET /plain -> plain")
	rs[0].Async, rs[0].RateLimit, rs[0].RateBurst = true, 100, 200
	r, err := NewRouter(rs)
	require.NoError(t, err)

	rt, params, allowed, ok := r.MatchRoute("POST", "/hooks/7")
	require.True(t, ok)
	assert.Equal(t, record.Route{Project: "p", Method: "POST", Path: "/hooks/{id}", Function: "thumb", Async: true, RateLimit: 100, RateBurst: 200}, *rt)
	assert.Equal(t, ps("id", "7"), params)
	assert.Nil(t, allowed)

	// The same path with another method is another route, without the
	// attributes.
	rt, _, _, ok = r.MatchRoute("GET", "/hooks/7")
	require.True(t, ok)
	assert.False(t, rt.Async)
	assert.Zero(t, rt.RateLimit)

	// Misses answer like Match.
	rt, _, allowed, ok = r.MatchRoute("DELETE", "/hooks/7")
	assert.False(t, ok)
	assert.Nil(t, rt)
	assert.Equal(t, []string{"GET", "HEAD", "POST"}, allowed)
	rt, _, allowed, ok = r.MatchRoute("GET", "/nope")
	assert.False(t, ok)
	assert.Nil(t, rt)
	assert.Nil(t, allowed)
	_, _, _, ok = r.MatchRoute("GET", "")
	assert.False(t, ok)

	// Match and MatchRoute agree.
	for _, c := range []struct{ method, path string }{{"POST", "/hooks/1"}, {"HEAD", "/plain"}, {"PUT", "/plain"}, {"GET", "/x"}} {
		fn, p1, a1, ok1 := r.Match(c.method, c.path)
		rt, p2, a2, ok2 := r.MatchRoute(c.method, c.path)
		assert.Equal(t, ok1, ok2)
		assert.Equal(t, p1, p2)
		assert.Equal(t, a1, a2)
		if ok2 {
			assert.Equal(t, fn, rt.Function)
		}
	}
	assert.Zero(t, testing.AllocsPerRun(100, func() { r.MatchRoute("GET", "/plain") }))
}
