package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/internal/api"
	"github.com/stratahq/strata/internal/apitype"
	"github.com/stratahq/strata/internal/objects"
	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store"
	"github.com/stratahq/strata/internal/store/sqlite"
)

// liveSet stands for the object engine: the objects it holds in memory.
type liveSet []record.ObjectKey

func (l liveSet) LiveObjects(project string) []record.ObjectKey {
	var out []record.ObjectKey
	for _, k := range l {
		if k.Project == project {
			out = append(out, k)
		}
	}
	return out
}

// Tokens of the objects tests: the admin testToken reaches every project;
// these reach one.
const (
	shopRead   = "shop-read-token"
	shopDeploy = "shop-deploy-token"
	blogDeploy = "blog-deploy-token"
)

type objectsAPI struct {
	srv *httptest.Server
	st  store.Store
}

// seedObject writes an object the way the engine does: it takes the
// object's lease and commits a write under it.
func seedObject(t *testing.T, st store.Store, k record.ObjectKey, name string, alarm time.Time, entries ...record.ObjectEntry) {
	t.Helper()
	ctx := context.Background()
	l, err := st.ObjectLeaseAcquire(ctx, k, "node-1", time.Hour)
	require.NoError(t, err)
	var bytes int64
	for _, e := range entries {
		bytes += int64(len(e.Key) + len(e.Value))
	}
	errs, err := st.ObjectCommit(ctx, []store.ObjectWrite{{Key: k, Token: l.Token, Name: name, Puts: entries,
		Bytes: bytes, Keys: int64(len(entries)), SetAlarm: alarm}}, time.Hour)
	require.NoError(t, err)
	require.NoError(t, errs[0])
}

func mustName(t *testing.T, class, name string) string {
	t.Helper()
	id, err := objects.IDFromName(class, name)
	require.NoError(t, err)
	return id
}

var (
	alarmAt = time.Date(2026, 5, 1, 9, 30, 0, 0, time.UTC)
	// The objects of the tests: three of project shop (two Rooms, one
	// Counter, its Room "lobby" live on this node) and one of blog whose
	// class and id equal shop's lobby.
	lobbyID   = ""
	randomID  = "00000000000000000000000000000000000000000000000000000000000000aa"
	counterID = "00000000000000000000000000000000000000000000000000000000000000bb"
)

func newObjectsAPI(t *testing.T) *objectsAPI {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "strata.db"))
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	for _, tk := range []record.Token{
		{Hash: api.HashToken(testToken), Name: "admin", Scope: record.ScopeAdmin},
		{Hash: api.HashToken(shopRead), Name: "shop-ro", Project: "shop", Scope: record.ScopeRead},
		{Hash: api.HashToken(shopDeploy), Name: "shop-ci", Project: "shop", Scope: record.ScopeDeploy},
		{Hash: api.HashToken(blogDeploy), Name: "blog-ci", Project: "blog", Scope: record.ScopeDeploy},
	} {
		require.NoError(t, st.TokenPut(ctx, tk))
	}
	lobbyID = mustName(t, "Room", "lobby")
	lobby := record.ObjectKey{Project: "shop", Class: "Room", ID: lobbyID}
	seedObject(t, st, lobby, "lobby", alarmAt,
		record.ObjectEntry{Key: "msg/001", Value: []byte("hello")},
		record.ObjectEntry{Key: "msg/002", Value: []byte("world")},
		record.ObjectEntry{Key: "msg/003", Value: []byte{0, 1, 2}},
		record.ObjectEntry{Key: "topic", Value: []byte("news")})
	seedObject(t, st, record.ObjectKey{Project: "shop", Class: "Room", ID: randomID}, "", time.Time{},
		record.ObjectEntry{Key: "k", Value: []byte("v")})
	seedObject(t, st, record.ObjectKey{Project: "shop", Class: "Counter", ID: counterID}, "", time.Time{},
		record.ObjectEntry{Key: "n", Value: []byte("41")})
	seedObject(t, st, record.ObjectKey{Project: "blog", Class: "Room", ID: lobbyID}, "lobby", time.Time{},
		record.ObjectEntry{Key: "secret", Value: []byte("blog's")})
	srv := httptest.NewServer(api.New(api.Config{Store: st, Objects: liveSet{lobby, {Project: "blog", Class: "Room", ID: randomID}}}))
	t.Cleanup(srv.Close)
	return &objectsAPI{srv: srv, st: st}
}

// errMsg is the message of an error answer.
func errMsg(t *testing.T, a answer) string {
	t.Helper()
	var e struct {
		Error string `json:"error"`
	}
	require.NoError(t, json.Unmarshal(a.body, &e), "body: %s", a.body)
	return e.Error
}

func decode[T any](t *testing.T, a answer) T {
	t.Helper()
	var v T
	require.NoError(t, json.Unmarshal(a.body, &v), "body: %s", a.body)
	return v
}

func TestObjectsList(t *testing.T) {
	o := newObjectsAPI(t)

	r := call(t, o.srv, shopRead, "GET", "/objects", "")
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	list := decode[apitype.ObjectList](t, r)
	require.Empty(t, list.Next)
	require.Len(t, list.Objects, 3)
	// By class then id: Counter before Room; the random id sorts before
	// the derived one here because it starts with zeros.
	require.Equal(t, []string{"Counter/" + counterID, "Room/" + randomID, "Room/" + lobbyID},
		[]string{list.Objects[0].Class + "/" + list.Objects[0].ID, list.Objects[1].Class + "/" + list.Objects[1].ID, list.Objects[2].Class + "/" + list.Objects[2].ID})
	lobby := list.Objects[2]
	require.Equal(t, "shop", lobby.Project)
	require.Equal(t, "lobby", lobby.Name)
	require.Equal(t, int64(4), lobby.Keys)
	require.Equal(t, int64(len("msg/001hellomsg/002worldmsg/003")+3+len("topicnews")), lobby.Bytes)
	require.NotNil(t, lobby.AlarmAt)
	require.True(t, lobby.AlarmAt.Equal(alarmAt))
	require.True(t, lobby.Live, "the engine holds shop's lobby")
	require.False(t, list.Objects[1].Live)
	require.Nil(t, list.Objects[1].AlarmAt)
	require.False(t, list.Objects[0].CreatedAt.IsZero())

	t.Run("class filter", func(t *testing.T) {
		list := decode[apitype.ObjectList](t, call(t, o.srv, shopRead, "GET", "/objects?class=Counter", ""))
		require.Len(t, list.Objects, 1)
		require.Equal(t, counterID, list.Objects[0].ID)
		list = decode[apitype.ObjectList](t, call(t, o.srv, shopRead, "GET", "/objects?class=Nope", ""))
		require.Empty(t, list.Objects)
	})

	t.Run("pages", func(t *testing.T) {
		var seen []string
		after := ""
		for range 4 {
			r := call(t, o.srv, shopRead, "GET", "/objects?limit=2&after="+url.QueryEscape(after), "")
			require.Equal(t, http.StatusOK, r.status, "%s", r.body)
			page := decode[apitype.ObjectList](t, r)
			for _, x := range page.Objects {
				seen = append(seen, x.ID)
			}
			if page.Next == "" {
				break
			}
			after = page.Next
		}
		require.Equal(t, []string{counterID, randomID, lobbyID}, seen)
	})

	t.Run("admin token names the project", func(t *testing.T) {
		r := call(t, o.srv, testToken, "GET", "/objects", "")
		require.Equal(t, http.StatusBadRequest, r.status)
		require.Contains(t, string(r.body), "objects belong to a project: name it with ?project=")
		list := decode[apitype.ObjectList](t, call(t, o.srv, testToken, "GET", "/objects?project=blog", ""))
		require.Len(t, list.Objects, 1)
		require.Equal(t, "blog", list.Objects[0].Project)
		require.False(t, list.Objects[0].Live, "blog's live object is another id")
	})

	t.Run("bad parameters", func(t *testing.T) {
		for _, q := range []string{"project=shop&limit=0", "project=shop&limit=1001", "project=shop&limit=x", "project=shop&class=no/such",
			"project=shop&after=nocursor", "project=Bad_Name"} {
			r := call(t, o.srv, testToken, "GET", "/objects?"+q, "")
			require.Equal(t, http.StatusBadRequest, r.status, "%s: %s", q, r.body)
		}
	})
}

func TestObjectGet(t *testing.T) {
	o := newObjectsAPI(t)

	r := call(t, o.srv, shopRead, "GET", "/objects/Room/"+lobbyID, "")
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	info := decode[apitype.ObjectInfo](t, r)
	require.Equal(t, lobbyID, info.ID)
	require.Equal(t, "lobby", info.Name)
	require.True(t, info.Live)

	// name:NAME is the same object as its derived id.
	r = call(t, o.srv, shopRead, "GET", "/objects/Room/name:lobby", "")
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	require.Equal(t, info, decode[apitype.ObjectInfo](t, r))

	// A name with a slash travels escaped in one path segment.
	slashed := mustName(t, "Room", "a/b")
	seedObject(t, o.st, record.ObjectKey{Project: "shop", Class: "Room", ID: slashed}, "a/b", time.Time{})
	r = call(t, o.srv, shopRead, "GET", "/objects/Room/name:"+url.PathEscape("a/b"), "")
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	require.Equal(t, slashed, decode[apitype.ObjectInfo](t, r).ID)

	for _, c := range []struct {
		path   string
		status int
		msg    string
	}{
		{"/objects/Room/" + counterID, 404, `object "Room/` + counterID + `" not found in project shop`},
		{"/objects/Nope/" + lobbyID, 404, `object "Nope/` + lobbyID + `" not found in project shop`},
		{"/objects/Room/name:nobody", 404, "not found in project shop"},
		{"/objects/Room/ABC", 400, `object id "ABC": 3 characters, want 64 lowercase hex digits: bad object id (or name:NAME`},
		{"/objects/Room/" + "00000000000000000000000000000000000000000000000000000000000000AA", 400, "want 64 lowercase hex digits"},
		{"/objects/Room/name:", 400, "object name of 0 bytes"},
		{"/objects/9Room/" + lobbyID, 400, "object class:"},
		{"/objects/Room/" + lobbyID + "/storage?key=nokey", 404, `storage key "nokey" not found in object Room/` + lobbyID + " of project shop"},
		{"/objects/Room/" + counterID + "/storage", 404, "not found in project shop"},
		{"/objects/Room/" + lobbyID + "/storage?reverse=maybe", 400, `reverse="maybe": want 1 or 0`},
	} {
		r := call(t, o.srv, shopRead, "GET", c.path, "")
		require.Equal(t, c.status, r.status, "%s: %s", c.path, r.body)
		require.Contains(t, errMsg(t, r), c.msg, c.path)
	}
}

func TestObjectStorage(t *testing.T) {
	o := newObjectsAPI(t)
	base := "/objects/Room/name:lobby/storage"

	r := call(t, o.srv, shopRead, "GET", base+"?key=msg/003", "")
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	require.JSONEq(t, `{"key":"msg/003","value":"AAEC"}`, string(r.body), "values are base64 in JSON")

	r = call(t, o.srv, shopRead, "GET", base+"?key=msg/001&raw=1", "")
	require.Equal(t, http.StatusOK, r.status)
	require.Equal(t, "hello", string(r.body))

	keys := func(q string) ([]string, bool) {
		t.Helper()
		r := call(t, o.srv, shopRead, "GET", base+q, "")
		require.Equal(t, http.StatusOK, r.status, "%s: %s", q, r.body)
		s := decode[apitype.ObjectStorage](t, r)
		out := []string{}
		for _, e := range s.Entries {
			out = append(out, e.Key+"="+string(e.Value))
		}
		return out, s.More
	}
	for _, c := range []struct {
		q    string
		want []string
		more bool
	}{
		{"", []string{"msg/001=hello", "msg/002=world", "msg/003=\x00\x01\x02", "topic=news"}, false},
		{"?prefix=msg/", []string{"msg/001=hello", "msg/002=world", "msg/003=\x00\x01\x02"}, false},
		{"?prefix=msg/&limit=2", []string{"msg/001=hello", "msg/002=world"}, true},
		{"?prefix=msg/&reverse=1&limit=1", []string{"msg/003=\x00\x01\x02"}, true},
		{"?start=msg/002&end=topic", []string{"msg/002=world", "msg/003=\x00\x01\x02"}, false},
		{"?prefix=none", []string{}, false},
	} {
		got, more := keys(c.q)
		require.Equal(t, c.want, got, c.q)
		require.Equal(t, c.more, more, c.q)
	}
}

func TestObjectDelete(t *testing.T) {
	o := newObjectsAPI(t)
	ctx := context.Background()
	lobby := record.ObjectKey{Project: "shop", Class: "Room", ID: lobbyID}
	// A live instance holds the lease; deleting must fence it.
	held, err := o.st.ObjectLeaseAcquire(ctx, lobby, "node-1", time.Hour)
	require.NoError(t, err)

	r := call(t, o.srv, shopRead, "DELETE", "/objects/Room/name:lobby", "")
	require.Equal(t, http.StatusForbidden, r.status, "a read token deletes nothing: %s", r.body)

	r = call(t, o.srv, shopDeploy, "DELETE", "/objects/Room/name:lobby", "")
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	require.Equal(t, apitype.ObjectDeleted{Class: "Room", ID: lobbyID, Existed: true}, decode[apitype.ObjectDeleted](t, r))

	_, err = o.st.ObjectInfo(ctx, lobby)
	require.ErrorIs(t, err, store.ErrNotFound)
	es, err := o.st.ObjectList(ctx, store.ObjectListParams{Key: lobby})
	require.NoError(t, err)
	require.Empty(t, es)
	errs, err := o.st.ObjectCommit(ctx, []store.ObjectWrite{{Key: lobby, Token: held.Token,
		Puts: []record.ObjectEntry{{Key: "late", Value: []byte("x")}}, Bytes: 5, Keys: 1}}, time.Hour)
	require.NoError(t, err)
	require.ErrorIs(t, errs[0], store.ErrFenced, "the instance that held the lease can no longer commit")

	r = call(t, o.srv, shopDeploy, "DELETE", "/objects/Room/name:lobby", "")
	require.Equal(t, http.StatusNotFound, r.status, "a second delete finds nothing: %s", r.body)
	require.Equal(t, `object "Room/`+lobbyID+`" not found in project shop`, errMsg(t, r))

	r = call(t, o.srv, shopDeploy, "DELETE", "/objects/Room/xyz", "")
	require.Equal(t, http.StatusBadRequest, r.status, "%s", r.body)

	// blog's object of the same class and id is untouched.
	_, err = o.st.ObjectInfo(ctx, record.ObjectKey{Project: "blog", Class: "Room", ID: lobbyID})
	require.NoError(t, err)
}

// TestObjectsProjectIsolation is the attack: blog's token, knowing shop's
// class and exact ids, must neither see nor delete shop's objects. Every
// lookup is keyed by the token's project, so shop's objects do not exist
// for it (404, no hint that they do); naming shop is refused (403).
func TestObjectsProjectIsolation(t *testing.T) {
	o := newObjectsAPI(t)
	ctx := context.Background()

	// blog's token lists blog's object only.
	list := decode[apitype.ObjectList](t, call(t, o.srv, blogDeploy, "GET", "/objects", ""))
	require.Len(t, list.Objects, 1)
	require.Equal(t, "blog", list.Objects[0].Project)

	// shop's objects by exact class and id: not found, as if nobody
	// held them.
	for _, c := range []struct{ method, path string }{
		{"GET", "/objects/Room/" + randomID},
		{"GET", "/objects/Counter/" + counterID},
		{"GET", "/objects/Counter/" + counterID + "/storage"},
		{"GET", "/objects/Counter/" + counterID + "/storage?key=n"},
		{"DELETE", "/objects/Room/" + randomID},
		{"DELETE", "/objects/Counter/" + counterID},
	} {
		r := call(t, o.srv, blogDeploy, c.method, c.path, "")
		require.Equal(t, http.StatusNotFound, r.status, "%s %s: %s", c.method, c.path, r.body)
		require.Contains(t, string(r.body), "in project blog", "%s %s", c.method, c.path)
		require.NotContains(t, string(r.body), "shop", "%s %s", c.method, c.path)
	}
	// The same class and id exists in both projects: blog's token gets
	// blog's, never shop's storage.
	r := call(t, o.srv, blogDeploy, "GET", "/objects/Room/"+lobbyID+"/storage", "")
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	s := decode[apitype.ObjectStorage](t, r)
	require.Equal(t, []apitype.ObjectEntry{{Key: "secret", Value: []byte("blog's")}}, s.Entries)
	require.False(t, decode[apitype.ObjectInfo](t, call(t, o.srv, blogDeploy, "GET", "/objects/Room/"+lobbyID, "")).Live,
		"shop's lobby is live, blog's is not")

	// Naming shop with ?project= is refused outright.
	for _, c := range []struct{ method, path string }{
		{"GET", "/objects?project=shop"},
		{"GET", "/objects/Room/" + lobbyID + "?project=shop"},
		{"GET", "/objects/Room/" + lobbyID + "/storage?project=shop"},
		{"DELETE", "/objects/Counter/" + counterID + "?project=shop"},
	} {
		r := call(t, o.srv, blogDeploy, c.method, c.path, "")
		require.Equal(t, http.StatusForbidden, r.status, "%s %s: %s", c.method, c.path, r.body)
		require.Contains(t, string(r.body), "token blog-ci is limited to project blog; it may not act on project shop")
	}

	// shop's objects are all still there.
	for _, k := range []record.ObjectKey{
		{Project: "shop", Class: "Room", ID: randomID},
		{Project: "shop", Class: "Room", ID: lobbyID},
		{Project: "shop", Class: "Counter", ID: counterID},
	} {
		_, err := o.st.ObjectInfo(ctx, k)
		require.NoError(t, err, k.String())
	}
}
