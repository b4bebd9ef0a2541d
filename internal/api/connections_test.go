package api_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/internal/api"
	"github.com/stratahq/strata/internal/apitype"
	"github.com/stratahq/strata/internal/client"
	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/sockets"
	"github.com/stratahq/strata/internal/store/sqlite"
)

// TestConnectionsProjectScoped is the attack on the connection routes: a
// token of project a lists only a's connections, may not ask for b's, and
// closing b's connection by its id is 404 and leaves it open; its own
// closes.
func TestConnectionsProjectScoped(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "s.db"))
	require.NoError(t, err)
	defer st.Close()
	secret := api.NewToken()
	require.NoError(t, st.TokenPut(ctx, record.Token{Hash: api.HashToken(secret), Name: "a", Project: "a", Scope: record.ScopeDeploy}))

	hub := sockets.NewHub(sockets.Config{})
	accepted := make(chan *sockets.Conn, 2)
	ws := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Query().Get("project")
		c, err := hub.Accept(w, r, sockets.Owner{Project: p, Function: "f" + p, Route: "GET /ws"}, []string{"t"}, sockets.Handlers{})
		if err == nil {
			accepted <- c
		}
	}))
	defer ws.Close()
	defer hub.Close()
	conns := map[string]*sockets.Conn{}
	for _, p := range []string{"a", "b"} {
		cl, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(ws.URL, "http")+"/ws?project="+p, nil)
		require.NoError(t, err)
		defer cl.CloseNow()
		go func() { _, _, _ = cl.Read(ctx) }() // answers the close handshake
		conns[p] = <-accepted
	}

	srv := httptest.NewServer(api.New(api.Config{Store: st, Sockets: hub}))
	defer srv.Close()
	call := func(method, path string) (int, string) {
		req, _ := http.NewRequest(method, srv.URL+apitype.Prefix+path, nil)
		req.Header.Set("Authorization", "Bearer "+secret)
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	code, body := call("GET", "/connections")
	require.Equal(t, http.StatusOK, code, body)
	var list apitype.ConnectionList
	require.NoError(t, json.Unmarshal([]byte(body), &list))
	require.Len(t, list.Connections, 1)
	got := list.Connections[0]
	require.Equal(t, conns["a"].ID(), got.ID)
	require.Equal(t, "a", got.Project)
	require.Equal(t, "fa", got.Function)
	require.Equal(t, "GET /ws", got.Route)
	require.Equal(t, []string{"t"}, got.Tags)

	code, _ = call("GET", "/connections?project=b")
	require.Equal(t, http.StatusForbidden, code)

	code, body = call("DELETE", "/connections/"+conns["b"].ID())
	require.Equal(t, http.StatusNotFound, code, body)
	_, ok := hub.Get(conns["b"].ID())
	require.True(t, ok, "project b's connection was closed by project a's token")
	code, _ = call("DELETE", "/connections/0123456789abcdef0123456789abcdef")
	require.Equal(t, http.StatusNotFound, code)

	// The CLI's client: the same view, and the same refusal.
	cl := client.New(srv.URL, secret)
	cis, err := cl.Connections(ctx, "")
	require.NoError(t, err)
	require.Len(t, cis, 1)
	require.Equal(t, conns["a"].ID(), cis[0].ID)
	require.Error(t, cl.ConnectionClose(ctx, conns["b"].ID()))

	require.NoError(t, cl.ConnectionClose(ctx, conns["a"].ID()))
	<-conns["a"].Done()
	code, body = call("GET", "/connections")
	require.Equal(t, http.StatusOK, code)
	require.NoError(t, json.Unmarshal([]byte(body), &list))
	require.Empty(t, list.Connections)
}
