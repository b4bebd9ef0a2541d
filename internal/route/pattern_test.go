package route

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseValid(t *testing.T) {
	tests := []struct {
		in     string
		method string
		path   string
		shape  string
		params []string
	}{
		{"/", Any, "/", "/", nil},
		{"GET /hello/{name}", "GET", "/hello/{name}", "/hello/{}", []string{"name"}},
		{"POST /users/{id}/avatar", "POST", "/users/{id}/avatar", "/users/{}/avatar", []string{"id"}},
		{"/files/{path...}", Any, "/files/{path...}", "/files/{...}", []string{"path"}},
		{"* /{rest...}", Any, "/{rest...}", "/{...}", []string{"rest"}},
		{"DELETE   /a/", "DELETE", "/a/", "/a/", nil},
		{"OPTIONS /a/*", "OPTIONS", "/a/*", "/a/{...}", nil},
		{"HEAD /a.b/..c/...", "HEAD", "/a.b/..c/...", "/a.b/..c/...", nil},
		{"PATCH /_strat/x", "PATCH", "/_strat/x", "/_strat/x", nil},
		{"PUT /_stratax", "PUT", "/_stratax", "/_stratax", nil},
		{"GET /ünï/%41", "GET", "/ünï/%41", "/ünï/%41", nil},
		{"GET /{a}/{_b2}/{c...}", "GET", "/{a}/{_b2}/{c...}", "/{}/{}/{...}", []string{"a", "_b2", "c"}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			p, err := Parse(tt.in)
			require.NoError(t, err)
			assert.Equal(t, tt.method, p.Method)
			assert.Equal(t, tt.path, p.Path)
			assert.Equal(t, tt.shape, p.Shape())
			assert.Equal(t, tt.params, p.Params())
			assert.Equal(t, tt.method+" "+tt.shape, p.Key())
		})
	}
}

func TestParseInvalid(t *testing.T) {
	tests := []struct {
		in  string
		err string
	}{
		{"", `route is empty; write "[METHOD ]/path", e.g. "GET /hello/{name}"`},
		{"GET", `route "GET" has no path; write e.g. "GET /hello"`},
		{"get", `route "get" has no path; write e.g. "GET /hello"`},
		{"GET ", `route "GET " has no path; write e.g. "GET /hello"`},
		{"hello", `path "hello" must start with "/"`},
		{"GET hello", `path "hello" must start with "/"`},
		{"get /x", `method "get" must be upper case: "GET"`},
		{"FETCH /x", `method "FETCH" is not one of GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS or *`},
		{"/a//b", `path "/a//b" has an empty segment ("//")`},
		{"//", `path "//" has an empty segment ("//")`},
		{"/a/{id", `path "/a/{id": segment "{id" is not a valid parameter; write {name} or {name...}`},
		{"/a/{}", `path "/a/{}": parameter name "" must be a letter or _ followed by letters, digits or _`},
		{"/a/{1x}", `path "/a/{1x}": parameter name "1x" must be a letter or _ followed by letters, digits or _`},
		{"/a/{x-y}", `path "/a/{x-y}": parameter name "x-y" must be a letter or _ followed by letters, digits or _`},
		{"/a/{...}", `path "/a/{...}": parameter name "" must be a letter or _ followed by letters, digits or _`},
		{"/a/{rest...}/b", `path "/a/{rest...}/b": catch-all "{rest...}" must be the last segment`},
		{"/a/*/b", `path "/a/*/b": catch-all "*" must be the last segment`},
		{"/a/{rest...}/", `path "/a/{rest...}/": catch-all "{rest...}" must be the last segment`},
		{"/u/{id}/v/{id}", `path "/u/{id}/v/{id}": parameter "id" appears twice`},
		{"/u/{id}/{id...}", `path "/u/{id}/{id...}": parameter "id" appears twice`},
		{"/file-{name}", `path "/file-{name}": segment "file-{name}" mixes text and a parameter; a parameter must be a whole segment`},
		{"/a*", `path "/a*": segment "a*": '*' is only allowed as a whole last segment`},
		{"/a?b=1", `path "/a?b=1": segment "a?b=1": "?" is not allowed in a route path`},
		{"/a#x", `path "/a#x": segment "a#x": "#" is not allowed in a route path`},
		{"/a\tb", `path "/a\tb": segment "a\tb": spaces and control characters are not allowed`},
		{"GET /a b", `path "/a b": segment "a b": spaces and control characters are not allowed`},
		{"/a/./b", `path "/a/./b": segment "." is not allowed (request paths are cleaned before matching)`},
		{"/..", `path "/..": segment ".." is not allowed (request paths are cleaned before matching)`},
		{"/_strata", `path "/_strata" is reserved for the platform (/_strata/...)`},
		{"GET /_strata/health", `path "/_strata/health" is reserved for the platform (/_strata/...)`},
		{"/_strata/", `path "/_strata/" is reserved for the platform (/_strata/...)`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			_, err := Parse(tt.in)
			require.Error(t, err)
			assert.Equal(t, tt.err, err.Error())
		})
	}
}

func TestNewRejectsEmptyMethod(t *testing.T) {
	_, err := New("", "/x")
	require.EqualError(t, err, `method "" is not one of GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS or *`)
}

func TestIsMethod(t *testing.T) {
	for _, m := range Methods {
		assert.True(t, IsMethod(m))
	}
	assert.True(t, IsMethod("*"))
	assert.False(t, IsMethod("TRACE"))
}

// Other frameworks' parameter syntax is refused with the Strata form.
func TestParseForeignSyntax(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"/hello/:name", `path "/hello/:name" uses another framework's parameter syntax (":name"); in Strata write "/hello/{name}"`},
		{"GET /u/:id/posts/:post", `path "/u/:id/posts/:post" uses another framework's parameter syntax (":id", ":post"); in Strata write "/u/{id}/posts/{post}"`},
		{"/files/*path", `path "/files/*path" uses another framework's parameter syntax ("*path"); in Strata write "/files/{path...}"`},
		{"/files/**", `path "/files/**" uses another framework's parameter syntax ("**"); in Strata write "/files/{rest...}"`},
		{"/files/:path*", `path "/files/:path*" uses another framework's parameter syntax (":path*"); in Strata write "/files/{path...}"`},
		{"/hello/<name>", `path "/hello/<name>" uses another framework's parameter syntax ("<name>"); in Strata write "/hello/{name}"`},
		{"/u/<int:id>", `path "/u/<int:id>" uses another framework's parameter syntax ("<int:id>"); in Strata write "/u/{id}"`},
		{"/s/<path:rest>", `path "/s/<path:rest>" uses another framework's parameter syntax ("<path:rest>"); in Strata write "/s/{rest...}"`},
		{"/posts/[slug]", `path "/posts/[slug]" uses another framework's parameter syntax ("[slug]"); in Strata write "/posts/{slug}"`},
		{"/docs/[...parts]", `path "/docs/[...parts]" uses another framework's parameter syntax ("[...parts]"); in Strata write "/docs/{parts...}"`},
		{"/docs/[[...parts]]", `path "/docs/[[...parts]]" uses another framework's parameter syntax ("[[...parts]]"); in Strata write "/docs/{parts...}"`},
		{"/u/{id:[0-9]+}", `path "/u/{id:[0-9]+}" uses another framework's parameter syntax ("{id:[0-9]+}"); in Strata write "/u/{id}"`},
		{"/f/{*rest}", `path "/f/{*rest}" uses another framework's parameter syntax ("{*rest}"); in Strata write "/f/{rest...}"`},
		{"/hello/{name?}", `path "/hello/{name?}": optional parameter "{name?}" is another framework's syntax; Strata has no optional parameters: write two routes, "/hello" and "/hello/{name}"`},
		{"/hello/:name?", `path "/hello/:name?": optional parameter ":name?" is another framework's syntax; Strata has no optional parameters: write two routes, "/hello" and "/hello/{name}"`},
		{"/a/{x?}/b", `path "/a/{x?}/b": optional parameter "{x?}" is another framework's syntax; Strata has no optional parameters: write "/a/{x}/b" and a route without it`},
	} {
		t.Run(tc.in, func(t *testing.T) {
			_, err := Parse(tc.in)
			if err == nil || err.Error() != tc.want {
				t.Fatalf("Parse(%q) error:\n got %v\nwant %s", tc.in, err, tc.want)
			}
		})
	}
	// Literals that only contain these characters stay literals, and
	// Strata's own "*" catch-all stays valid.
	for _, ok := range []string{"/v1/things:batchGet", "/a/b:c", "/files/*", "/x/<", "/x/[]", "/mail/a@b"} {
		if _, err := Parse(ok); err != nil {
			t.Errorf("Parse(%q): %v", ok, err)
		}
	}
}
