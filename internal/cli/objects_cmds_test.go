package cli_test

import (
	"bytes"
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/internal/api"
	"github.com/stratahq/strata/internal/cli"
	"github.com/stratahq/strata/internal/objects"
	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store"
	"github.com/stratahq/strata/internal/store/sqlite"
)

// liveObjects stands for the object engine: the objects it holds.
type liveObjects []record.ObjectKey

func (l liveObjects) LiveObjects(project string) []record.ObjectKey {
	var out []record.ObjectKey
	for _, k := range l {
		if k.Project == project {
			out = append(out, k)
		}
	}
	return out
}

const (
	counterID = "00000000000000000000000000000000000000000000000000000000000000bb"
	blogToken = "blog-tok" // a deploy token limited to project blog
)

// objectsServer is the admin API over a real SQLite store holding shop's
// Room "lobby" (live, with an alarm) and a Counter, and blog's Room
// "lobby" (same class and id as shop's); the store's clock is t0.
func objectsServer(t *testing.T) (*strata, store.Store, string) {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "strata.db"))
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	st.SetNow(func() time.Time { return t0 })
	require.NoError(t, st.TokenPut(ctx, record.Token{Hash: api.HashToken("tok"), Name: "test", Scope: record.ScopeAdmin}))
	require.NoError(t, st.TokenPut(ctx, record.Token{Hash: api.HashToken(blogToken), Name: "blog-ci", Project: "blog", Scope: record.ScopeDeploy}))
	lobbyID, err := objects.IDFromName("Room", "lobby")
	require.NoError(t, err)
	seed := func(k record.ObjectKey, name string, alarm time.Time, es ...record.ObjectEntry) {
		l, err := st.ObjectLeaseAcquire(ctx, k, "node-1", time.Hour)
		require.NoError(t, err)
		var n int64
		for _, e := range es {
			n += int64(len(e.Key) + len(e.Value))
		}
		errs, err := st.ObjectCommit(ctx, []store.ObjectWrite{{Key: k, Token: l.Token, Name: name, Puts: es,
			Bytes: n, Keys: int64(len(es)), SetAlarm: alarm}}, time.Hour)
		require.NoError(t, err)
		require.NoError(t, errs[0])
	}
	lobby := record.ObjectKey{Project: "shop", Class: "Room", ID: lobbyID}
	seed(lobby, "lobby", t0.Add(90*time.Minute),
		record.ObjectEntry{Key: "msg/001", Value: []byte("hello")},
		record.ObjectEntry{Key: "msg/002", Value: []byte(strings.Repeat("long ", 30))},
		record.ObjectEntry{Key: "msg/003", Value: []byte{0, 1, 2, '\n'}},
		record.ObjectEntry{Key: "topic", Value: []byte("news\n")})
	seed(record.ObjectKey{Project: "shop", Class: "Counter", ID: counterID}, "", time.Time{},
		record.ObjectEntry{Key: "n", Value: []byte("41")})
	seed(record.ObjectKey{Project: "blog", Class: "Room", ID: lobbyID}, "lobby", time.Time{},
		record.ObjectEntry{Key: "topic", Value: []byte("blog's")})
	srv := httptest.NewServer(api.New(api.Config{Store: st, Objects: liveObjects{lobby}}))
	t.Cleanup(srv.Close)
	return &strata{url: srv.URL}, st, lobbyID
}

// runAs runs `strata args... --server URL --token token`.
func (s *strata) runAs(t *testing.T, token string, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	args = append(args, "--server", s.url, "--token", token)
	code := cli.Run(context.Background(), args, cli.IO{In: strings.NewReader(""), Out: &out, Err: &errOut})
	return result{code, out.String(), errOut.String()}
}

func TestObjectsList(t *testing.T) {
	s, _, _ := objectsServer(t)
	r := s.run(t, "", "objects", "list", "--project", "shop")
	require.Equal(t, 0, r.code, r.errOut)
	require.Empty(t, r.errOut)
	golden(t, "objects_list.golden", r.out)

	r = s.run(t, "", "objects", "ls", "--project", "shop", "--class", "Counter", "--limit", "1")
	require.Equal(t, 0, r.code, r.errOut)
	require.Contains(t, r.out, counterID)
	require.NotContains(t, r.out, "Room")
	require.Equal(t, "more objects may follow: --after Counter/"+counterID+"\n", r.errOut)

	r = s.run(t, "", "objects", "list", "--project", "shop", "--after", "Counter/"+counterID)
	require.Equal(t, 0, r.code, r.errOut)
	require.NotContains(t, r.out, counterID)
	require.Contains(t, r.out, "lobby")

	// A token of every project, outside any project directory, must say
	// which project.
	t.Chdir(t.TempDir())
	r = s.run(t, "", "objects", "list")
	require.Equal(t, cli.ExitFailure, r.code)
	require.Contains(t, r.errOut, "objects belong to a project: name it with ?project= (strata objects ... --project P)")

	r = s.run(t, "", "objects", "list", "--project", "Not A Name")
	require.Equal(t, cli.ExitUsage, r.code)
	require.Contains(t, r.errOut, `--project "Not A Name"`)
}

// TestObjectsProjectDirectory: inside a project, commands act on its
// project without --project; the flag still wins.
func TestObjectsProjectDirectory(t *testing.T) {
	s, _, lobbyID := objectsServer(t)
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "strata.yaml"), []byte("project: blog\nfunctions:\n  api: {source: ./api}\n"), 0o644))
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "sub"), 0o755))
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "api"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "api", "main.go"), []byte("package main\n\nfunc main() {}\n"), 0o644))
	t.Chdir(filepath.Join(dir, "sub"))

	r := s.run(t, "", "objects", "storage", "get", "Room", lobbyID, "topic")
	require.Equal(t, result{0, "blog's", ""}, r)
	r = s.run(t, "", "objects", "storage", "get", "Room", lobbyID, "topic", "--project", "shop")
	require.Equal(t, result{0, "news\n", ""}, r)
}

func TestObjectsShow(t *testing.T) {
	s, _, _ := objectsServer(t)
	r := s.run(t, "", "objects", "show", "Room", "name:lobby", "--project", "shop")
	require.Equal(t, result{0, r.out, ""}, r)
	golden(t, "objects_show.golden", r.out)

	r = s.run(t, "", "objects", "show", "Room", "nothex", "--project", "shop")
	require.Equal(t, cli.ExitFailure, r.code)
	require.Equal(t, "error: object id \"nothex\": 6 characters, want 64 lowercase hex digits: bad object id (or name:NAME for the object reached by NAME) (400)\n", r.errOut)

	r = s.run(t, "", "objects", "show", "Room", counterID, "--project", "shop")
	require.Equal(t, cli.ExitFailure, r.code)
	require.Equal(t, "error: object \"Room/"+counterID+"\" not found in project shop (404)\n", r.errOut)

	r = s.run(t, "", "objects", "show", "Room")
	require.Equal(t, cli.ExitUsage, r.code)
	require.Contains(t, r.errOut, "strata objects show takes 2 argument(s), got 1")
}

func TestObjectsStorageGet(t *testing.T) {
	s, _, _ := objectsServer(t)
	// One value: the bytes as stored, nothing added.
	r := s.run(t, "", "objects", "storage", "get", "Room", "name:lobby", "topic", "--project", "shop")
	require.Equal(t, result{0, "news\n", ""}, r)
	r = s.run(t, "", "objects", "storage", "get", "Room", "name:lobby", "msg/003", "--project", "shop")
	require.Equal(t, result{0, "\x00\x01\x02\n", ""}, r)

	r = s.run(t, "", "objects", "storage", "get", "Room", "name:lobby", "--project", "shop")
	require.Equal(t, 0, r.code, r.errOut)
	golden(t, "objects_storage.golden", r.out)

	r = s.run(t, "", "objects", "storage", "get", "Room", "name:lobby", "--project", "shop", "--prefix", "msg/", "--reverse", "--limit", "2")
	require.Equal(t, result{0, "KEY      VALUE\nmsg/003  \"\\x00\\x01\\x02\\n\"\nmsg/002  " +
		strings.Repeat("long ", 16) + "…\n", "more keys may follow: raise --limit or narrow with --prefix, --start, --end\n"}, r)

	r = s.run(t, "", "objects", "storage", "get", "Room", "name:lobby", "nokey", "--project", "shop")
	require.Equal(t, cli.ExitFailure, r.code)
	require.Contains(t, r.errOut, `storage key "nokey" not found in object Room/`)

	r = s.run(t, "", "objects", "storage", "get", "Room", "name:lobby", "topic", "--prefix", "msg/", "--project", "shop")
	require.Equal(t, cli.ExitUsage, r.code)
	require.Contains(t, r.errOut, "KEY reads one value; --prefix, --start, --end, --limit and --reverse list a range: not both")

	r = s.run(t, "", "objects", "storage", "get", "Room")
	require.Equal(t, cli.ExitUsage, r.code)
	require.Contains(t, r.errOut, "takes 2 or 3 arguments, got 1")
}

func TestObjectsDelete(t *testing.T) {
	s, st, lobbyID := objectsServer(t)
	r := s.run(t, "", "objects", "delete", "Room", "name:lobby", "--project", "shop")
	require.Equal(t, result{0, "deleted Room/" + lobbyID + "\n", ""}, r)
	_, err := st.ObjectInfo(context.Background(), record.ObjectKey{Project: "shop", Class: "Room", ID: lobbyID})
	require.ErrorIs(t, err, store.ErrNotFound)

	r = s.run(t, "", "objects", "delete", "Room", "name:lobby", "--project", "shop")
	require.Equal(t, result{cli.ExitFailure, "", "error: object \"Room/" + lobbyID + "\" not found in project shop (404)\n"}, r)

	// blog's object of the same class and id is still there.
	r = s.run(t, "", "objects", "show", "Room", "name:lobby", "--project", "blog")
	require.Equal(t, 0, r.code, r.errOut)
}

// TestObjectsProjectToken: a token limited to blog reaches blog's
// objects with no --project, and shop's are not found for it even by
// exact class and id.
func TestObjectsProjectToken(t *testing.T) {
	s, st, _ := objectsServer(t)
	r := s.runAs(t, blogToken, "objects", "storage", "get", "Room", "name:lobby", "topic")
	require.Equal(t, result{0, "blog's", ""}, r)

	r = s.runAs(t, blogToken, "objects", "list")
	require.Equal(t, 0, r.code, r.errOut)
	require.NotContains(t, r.out, counterID)

	for _, args := range [][]string{
		{"objects", "show", "Counter", counterID},
		{"objects", "storage", "get", "Counter", counterID, "n"},
		{"objects", "delete", "Counter", counterID},
	} {
		r := s.runAs(t, blogToken, args...)
		require.Equal(t, result{cli.ExitFailure, "", "error: object \"Counter/" + counterID + "\" not found in project blog (404)\n"}, r, args)
	}
	r = s.runAs(t, blogToken, "objects", "delete", "Counter", counterID, "--project", "shop")
	require.Equal(t, cli.ExitFailure, r.code)
	require.Contains(t, r.errOut, "token blog-ci is limited to project blog; it may not act on project shop")

	_, err := st.ObjectInfo(context.Background(), record.ObjectKey{Project: "shop", Class: "Counter", ID: counterID})
	require.NoError(t, err, "shop's counter survives")
}
