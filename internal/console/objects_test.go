package console_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/internal/api"
	"github.com/stratahq/strata/internal/console"
	"github.com/stratahq/strata/internal/objects"
	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/sockets"
	"github.com/stratahq/strata/internal/store"
)

// objFixture is the console fixture with durable objects in its store
// and WebSockets open in a hub the API serves: project a's Counter
// "lobby" (a text value, one that is markup, a binary one and a long
// one) and 50 objects of class Page (with lobby, a page of the list and
// one more), and project b's Counter "vault"; a connection of each
// project.
type objFixture struct {
	*fixture
	lobby, vault record.ObjectKey
	hub          *sockets.Hub
	conns        map[string]*sockets.Conn // project → its connection
}

const xss = `<script>alert("x")</script>`

func setupObjects(t *testing.T) *objFixture {
	t.Helper()
	ctx := context.Background()
	f := &objFixture{fixture: setup(t), conns: map[string]*sockets.Conn{}}
	key := func(project, class, name string) record.ObjectKey {
		id, err := objects.IDFromName(class, name)
		require.NoError(t, err)
		return record.ObjectKey{Project: project, Class: class, ID: id}
	}
	f.lobby, f.vault = key("a", "Counter", "lobby"), key("b", "Counter", "vault")
	put := func(k record.ObjectKey, name string, entries ...record.ObjectEntry) store.ObjectWrite {
		l, err := f.st.ObjectLeaseAcquire(ctx, k, "test", time.Hour)
		require.NoError(t, err)
		w := store.ObjectWrite{Key: k, Token: l.Token, Name: name, Puts: entries, Keys: int64(len(entries))}
		for _, e := range entries {
			w.Bytes += int64(len(e.Key) + len(e.Value))
		}
		return w
	}
	writes := []store.ObjectWrite{
		put(f.lobby, "lobby",
			record.ObjectEntry{Key: "count", Value: []byte("3")},
			record.ObjectEntry{Key: "html", Value: []byte(xss)},
			record.ObjectEntry{Key: "bin", Value: []byte{0, 1, 2, 0xff}},
			record.ObjectEntry{Key: "long", Value: []byte(strings.Repeat("x", 1000))}),
		put(f.vault, "vault", record.ObjectEntry{Key: "secret", Value: []byte("of project b")}),
	}
	for i := range 50 {
		writes = append(writes, put(key("a", "Page", fmt.Sprintf("p%02d", i)), fmt.Sprintf("p%02d", i),
			record.ObjectEntry{Key: "k", Value: []byte("v")}))
	}
	errs, err := f.st.ObjectCommit(ctx, writes, time.Hour)
	require.NoError(t, err)
	for _, e := range errs {
		require.NoError(t, e)
	}

	// A WebSocket of each project, accepted into the hub the API lists.
	f.hub = sockets.NewHub(sockets.Config{})
	t.Cleanup(f.hub.Close)
	accepted := make(chan *sockets.Conn, 2)
	ws := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Query().Get("project")
		owner := sockets.Owner{Project: p, Function: "f" + p, Route: "GET /ws"}
		if p == "a" {
			owner.Object = f.lobby
		}
		c, err := f.hub.Accept(w, r, owner, []string{"room-" + p}, sockets.Handlers{})
		if err == nil {
			accepted <- c
		}
	}))
	t.Cleanup(ws.Close)
	for _, p := range []string{"a", "b"} {
		cl, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(ws.URL, "http")+"/ws?project="+p, nil)
		require.NoError(t, err)
		t.Cleanup(func() { cl.CloseNow() })
		go func() { _, _, _ = cl.Read(ctx) }() // answers the close handshake
		f.conns[p] = <-accepted
	}

	// The fixture's console again, over an API that serves the hub.
	a := api.New(api.Config{Store: f.st, Sockets: f.hub})
	c, err := console.New(console.Config{API: a, Store: f.st, Traces: f.st, Key: []byte("0123456789abcdef0123456789abcdef")})
	require.NoError(t, err)
	f.srv = httptest.NewServer(c)
	t.Cleanup(f.srv.Close)
	return f
}

func objectURL(k record.ObjectKey) string {
	return "/objects/" + k.Class + "/" + k.ID + "?project=" + k.Project
}

// TestObjectsList: the list shows a project's objects by class with their
// names, a class filter, and pages of 50 linked by the next object.
func TestObjectsList(t *testing.T) {
	f := setupObjects(t)
	b := f.browser(t)
	b.login(f.tokens["admin"])

	code, body := b.get("/objects")
	require.Equal(t, http.StatusOK, code, body)
	require.Contains(t, body, `<option selected>a</option>`, "a token of every project sees the first project first")
	require.Contains(t, body, ">lobby<")
	require.Contains(t, body, fmt.Sprintf(`href="%s/objects/Counter/%s?project=a"`, console.Prefix, f.lobby.ID))
	require.NotContains(t, body, "vault")
	require.Equal(t, 50, strings.Count(body, `class="object"`), "a page of 50")
	seen := map[string]bool{}
	for _, m := range nameRE.FindAllStringSubmatch(body, -1) {
		seen[m[1]] = true
	}
	next := regexp1(t, body, `id="next" href="([^"]+)"`)

	// The second page holds the 51st object, and no next link.
	u, err := url.Parse(strings.ReplaceAll(next, "&amp;", "&"))
	require.NoError(t, err)
	code, body = b.get("/objects?" + u.RawQuery)
	require.Equal(t, http.StatusOK, code, body)
	require.Equal(t, 1, strings.Count(body, `class="object"`))
	last := nameRE.FindStringSubmatch(body)
	require.NotNil(t, last)
	require.False(t, seen[last[1]], "%s is on both pages", last[1])
	seen[last[1]] = true
	require.Len(t, seen, 51, "every object on one of the pages")
	require.NotContains(t, body, `id="next"`)
	require.Contains(t, body, `id="first"`)

	// The class filter; project b on a token of every project.
	_, body = b.get("/objects?project=a&class=Counter")
	require.Equal(t, 1, strings.Count(body, `class="object"`))
	require.Contains(t, body, ">lobby<")
	_, body = b.get("/objects?project=b")
	require.Contains(t, body, ">vault<")
	require.NotContains(t, body, ">lobby<")
	// A class that is not a class name is said on the page.
	code, body = b.get("/objects?project=a&class=" + url.QueryEscape("no/such"))
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, `id="error"`)
}

// nameRE finds an object's name in a row of the list.
var nameRE = regexp.MustCompile(`</a></td>\n<td>([a-z0-9]+)</td>`)

func regexp1(t *testing.T, body, re string) string {
	t.Helper()
	m := regexp.MustCompile(re).FindStringSubmatch(body)
	require.NotNil(t, m, "%s in:\n%s", re, body)
	return m[1]
}

// TestObjectPageEscapes: an object's page shows its info and storage,
// text escaped (a stored <script> is text, not markup), binary as hex
// with its length, long values clipped.
func TestObjectPageEscapes(t *testing.T) {
	f := setupObjects(t)
	b := f.browser(t)
	b.login(f.tokens["admin"])
	code, body := b.get(objectURL(f.lobby))
	require.Equal(t, http.StatusOK, code, body)
	require.Contains(t, body, f.lobby.ID)
	require.Contains(t, body, "lobby")
	require.NotContains(t, body, xss, "a stored value is never markup")
	require.NotContains(t, body, "<script")
	require.Contains(t, body, "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;")
	require.Contains(t, body, `<span class="tag">hex</span> <code class="value">000102ff</code>`)
	require.Contains(t, body, "<td>4 B</td>")
	require.Contains(t, body, "<td>1000 B</td>")
	require.Contains(t, body, strings.Repeat("x", 300)+"…")
	require.NotContains(t, body, strings.Repeat("x", 301))
	require.Contains(t, body, `/delete"`, "an admin may delete")
}

// TestObjectDelete: a delete needs the confirmation box; with it the API
// deletes the object (fencing its lease) and the list no longer has it.
func TestObjectDelete(t *testing.T) {
	f := setupObjects(t)
	ctx := context.Background()
	b := f.browser(t)
	b.login(f.tokens["admin"])
	tok := b.csrf()
	path := "/objects/Counter/" + f.lobby.ID + "/delete"

	code, loc, body := b.post(path, url.Values{"csrf": {tok}, "project": {"a"}})
	require.Equal(t, http.StatusSeeOther, code, body)
	require.Contains(t, loc, "error=400")
	_, err := f.st.ObjectInfo(ctx, f.lobby)
	require.NoError(t, err, "not deleted without the box ticked")

	// Without the CSRF token: refused before anything.
	code, _, _ = b.post(path, url.Values{"project": {"a"}, "confirm": {"yes"}})
	require.Equal(t, http.StatusForbidden, code)

	code, loc, body = b.post(path, url.Values{"csrf": {tok}, "project": {"a"}, "confirm": {"yes"}})
	require.Equal(t, http.StatusSeeOther, code, body)
	require.Contains(t, loc, "flash=")
	require.True(t, strings.HasPrefix(loc, console.Prefix+"/objects?"), loc)
	_, err = f.st.ObjectInfo(ctx, f.lobby)
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = f.st.ObjectLeaseAcquire(ctx, f.lobby, "other", time.Hour)
	require.NoError(t, err, "the delete ended the lease the seed held")

	code, body = b.get("/objects?project=a&class=Counter")
	require.Equal(t, http.StatusOK, code)
	require.NotContains(t, body, ">lobby<")
	code, _ = b.get(objectURL(f.lobby))
	require.Equal(t, http.StatusNotFound, code)
	// Deleting it again says so.
	code, loc, _ = b.post(path, url.Values{"csrf": {tok}, "project": {"a"}, "confirm": {"yes"}})
	require.Equal(t, http.StatusSeeOther, code)
	require.Contains(t, loc, "error=404")
}

// TestObjectsProjectScope is the attack: project a's tokens ask for
// project b's object by its exact class and id, and by ?project=b, and
// get a 404 or their own project; the delete of it is a 404 (deploy) or
// 403 (read) and leaves it. A read token sees no Delete nor Close.
func TestObjectsProjectScope(t *testing.T) {
	f := setupObjects(t)
	ctx := context.Background()
	for _, name := range []string{"a-read", "a-deploy"} {
		t.Run(name, func(t *testing.T) {
			b := f.browser(t)
			b.login(f.tokens[name])
			code, body := b.get(objectURL(f.vault))
			require.Equal(t, http.StatusNotFound, code, body)
			require.NotContains(t, body, "of project b")
			code, body = b.get("/objects?project=b")
			require.Equal(t, http.StatusOK, code)
			require.Contains(t, body, ">lobby<", "a project's token sees its own project")
			require.NotContains(t, body, "vault")
			require.NotContains(t, body, `id="project"`, "and is offered no other")
			code, body = b.get("/connections")
			require.Equal(t, http.StatusOK, code)
			require.Contains(t, body, f.conns["a"].ID())
			require.NotContains(t, body, f.conns["b"].ID())

			tok := b.csrf()
			code, loc, _ := b.post("/objects/Counter/"+f.vault.ID+"/delete", url.Values{"csrf": {tok}, "project": {"b"}, "confirm": {"yes"}})
			code2, loc2, _ := b.post("/connections/"+f.conns["b"].ID()+"/close", url.Values{"csrf": {tok}})
			if name == "a-read" {
				require.Equal(t, http.StatusForbidden, code)
				require.Equal(t, http.StatusForbidden, code2)
				for _, p := range []string{objectURL(f.lobby), "/connections"} {
					_, body := b.get(p)
					require.NotContains(t, body, "/delete", p)
					require.NotContains(t, body, "/close", p)
				}
			} else {
				require.Equal(t, http.StatusSeeOther, code)
				require.Contains(t, loc, "error=404")
				require.Equal(t, http.StatusSeeOther, code2)
				require.Contains(t, loc2, "error=404")
			}
			_, err := f.st.ObjectInfo(ctx, f.vault)
			require.NoError(t, err, "project b's object is still there")
			_, ok := f.hub.Get(f.conns["b"].ID())
			require.True(t, ok, "project b's connection is still open")
		})
	}
}

// TestConnectionsPage: the node's WebSockets with their route or object
// and tags; Close closes one through the API.
func TestConnectionsPage(t *testing.T) {
	f := setupObjects(t)
	b := f.browser(t)
	b.login(f.tokens["admin"])
	code, body := b.get("/connections")
	require.Equal(t, http.StatusOK, code, body)
	for _, want := range []string{f.conns["a"].ID(), f.conns["b"].ID(), "GET /ws", "room-a", "room-b", "Counter/" + f.lobby.ID, "127.0.0.1"} {
		require.Contains(t, body, want)
	}
	id := f.conns["a"].ID()
	code, loc, body := b.post("/connections/"+id+"/close", url.Values{"csrf": {b.csrf()}})
	require.Equal(t, http.StatusSeeOther, code, body)
	require.Contains(t, loc, "flash=")
	<-f.conns["a"].Done()
	_, ok := f.hub.Get(id)
	require.False(t, ok)
	_, body = b.get("/connections")
	require.NotContains(t, body, id)
	require.Contains(t, body, f.conns["b"].ID())
}

// TestObjectsNoSession: the new pages and actions need a session too.
func TestObjectsNoSession(t *testing.T) {
	f := setupObjects(t)
	b := f.browser(t)
	for _, p := range []string{"/objects", objectURL(f.lobby), "/connections"} {
		code, body := b.get(p)
		require.Equal(t, http.StatusForbidden, code, p)
		require.NotContains(t, body, "lobby", p)
	}
	for _, p := range []string{"/objects/Counter/" + f.lobby.ID + "/delete", "/connections/" + f.conns["a"].ID() + "/close"} {
		code, _, _ := b.post(p, url.Values{"csrf": {"x"}, "confirm": {"yes"}, "project": {"a"}})
		require.Equal(t, http.StatusForbidden, code, p)
	}
}
