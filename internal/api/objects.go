package api

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/stratahq/strata/internal/apitype"
	"github.com/stratahq/strata/internal/deploy"
	"github.com/stratahq/strata/internal/gateway"
	"github.com/stratahq/strata/internal/objects"
	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store"
)

// LiveObjects is what the API needs of the durable object engine: which
// objects of a project this node holds in memory, for the live field.
type LiveObjects interface {
	LiveObjects(project string) []record.ObjectKey
}

var _ LiveObjects = (*objects.Engine)(nil)

// maxObjectsLimit bounds one page of GET /objects and of an object's
// storage; 100 is the default of both.
const (
	maxObjectsLimit     = 1000
	defaultObjectsLimit = 100
)

// routeObjects mounts the admin endpoints of durable objects. They read
// and delete through the store, so they answer on any node, whichever
// holds the object.
//
// Every route acts on one project, never on several: a project-scoped
// token's own (a ?project= naming another is 403), and for a token of
// every project the one ?project= names. Each store call is keyed by that
// project, so another project's class and id, even exact, are an object
// that does not exist (404).
func (a *API) routeObjects() {
	a.handleToken("GET /objects", AnyProject, a.objectsList)
	a.handleToken("GET /objects/{class}/{id}", AnyProject, a.objectGet)
	a.handleToken("GET /objects/{class}/{id}/storage", AnyProject, a.objectStorage)
	a.handleToken("DELETE /objects/{class}/{id}", AnyProject, a.objectDelete)
}

// objectsProject is the project a request acts on (see routeObjects).
func (a *API) objectsProject(r *http.Request, tok record.Token) (string, error) {
	return a.oneProject(r, tok, "objects belong to a project: name it with ?project= (strata objects ... --project P), or use a token of that project")
}

// oneProject is the one project a request of a per-project resource acts
// on: a project-scoped token's own (a ?project= naming another is 403),
// or for a token of every project the one ?project= names (400 with
// missing, which says how to name it, when there is none).
func (a *API) oneProject(r *http.Request, tok record.Token, missing string) (string, error) {
	p := r.URL.Query().Get("project")
	if tok.Project != "" {
		if p != "" && p != tok.Project {
			return "", a.allow(tok, p)
		}
		return tok.Project, nil
	}
	if p == "" {
		return "", gateway.Errorf(http.StatusBadRequest, "%s", missing)
	}
	return p, checkProjectName(p)
}

// objectKey is the object {class}/{id} names in project; {id} is 64
// lowercase hex digits or name:NAME, the id derived from NAME as routes
// and stubs derive it.
func objectKey(r *http.Request, project string) (record.ObjectKey, error) {
	class, id := r.PathValue("class"), r.PathValue("id")
	if err := deploy.ValidateClassName(class); err != nil {
		return record.ObjectKey{}, gateway.Errorf(http.StatusBadRequest, "object class: %v", err)
	}
	if name, ok := strings.CutPrefix(id, "name:"); ok {
		derived, err := objects.IDFromName(class, name)
		if err != nil {
			return record.ObjectKey{}, &gateway.StatusError{Code: http.StatusBadRequest, Err: err}
		}
		id = derived
	} else if err := objects.CheckID(id); err != nil {
		return record.ObjectKey{}, gateway.Errorf(http.StatusBadRequest, "%v (or name:NAME for the object reached by NAME)", err)
	}
	return record.ObjectKey{Project: project, Class: class, ID: id}, nil
}

// queryLimit reads ?limit= (1..maxObjectsLimit, default 100).
func queryLimit(r *http.Request) (int, error) {
	s := r.URL.Query().Get("limit")
	if s == "" {
		return defaultObjectsLimit, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > maxObjectsLimit {
		return 0, gateway.Errorf(http.StatusBadRequest, "limit %q: want 1..%d", s, maxObjectsLimit)
	}
	return n, nil
}

// queryBool reads a flag parameter: 1 or true is set; absent, 0 or false
// is not.
func queryBool(r *http.Request, name string) (bool, error) {
	switch s := r.URL.Query().Get(name); s {
	case "", "0", "false":
		return false, nil
	case "1", "true":
		return true, nil
	default:
		return false, gateway.Errorf(http.StatusBadRequest, "%s=%q: want 1 or 0", name, s)
	}
}

// live is the set of objects of project this node holds in memory.
func (a *API) live(project string) map[record.ObjectKey]bool {
	if a.cfg.Objects == nil {
		return nil
	}
	m := map[record.ObjectKey]bool{}
	for _, k := range a.cfg.Objects.LiveObjects(project) {
		m[k] = true
	}
	return m
}

func objectInfo(o *record.ObjectInfo, live bool) apitype.ObjectInfo {
	out := apitype.ObjectInfo{Project: o.Key.Project, Class: o.Key.Class, ID: o.Key.ID, Name: o.Name,
		Bytes: o.Bytes, Keys: o.Keys, CreatedAt: o.CreatedAt, UpdatedAt: o.UpdatedAt, Live: live}
	if !o.AlarmAt.IsZero() {
		at := o.AlarmAt
		out.AlarmAt = &at
	}
	return out
}

func (a *API) objectsList(w http.ResponseWriter, r *http.Request, tok record.Token) error {
	project, err := a.objectsProject(r, tok)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	p := store.ObjectsListParams{Project: project, Class: q.Get("class"), After: q.Get("after")}
	if p.Class != "" {
		if err := deploy.ValidateClassName(p.Class); err != nil {
			return gateway.Errorf(http.StatusBadRequest, "class: %v", err)
		}
	}
	if p.After != "" && strings.LastIndexByte(p.After, '/') < 0 {
		// The store would refuse it as a 500; it is the caller's.
		return gateway.Errorf(http.StatusBadRequest, "after %q: want CLASS/ID, the next of the previous page", p.After)
	}
	if p.Limit, err = queryLimit(r); err != nil {
		return err
	}
	list, err := a.cfg.Store.ObjectsList(r.Context(), p)
	if err != nil {
		return err
	}
	live := a.live(project)
	out := apitype.ObjectList{Objects: make([]apitype.ObjectInfo, 0, len(list))}
	for i := range list {
		out.Objects = append(out.Objects, objectInfo(&list[i], live[list[i].Key]))
	}
	if len(list) == p.Limit {
		// A full page may have a successor; an empty next page is the
		// price of not asking for one more row.
		out.Next = list[len(list)-1].Key.String()
	}
	return writeJSON(w, http.StatusOK, out)
}

// objectLookup resolves the request's object and its info: 400 for a bad
// class or id, 404 for an object its project does not hold.
func (a *API) objectLookup(r *http.Request, tok record.Token) (*record.ObjectInfo, error) {
	project, err := a.objectsProject(r, tok)
	if err != nil {
		return nil, err
	}
	key, err := objectKey(r, project)
	if err != nil {
		return nil, err
	}
	return a.cfg.Store.ObjectInfo(r.Context(), key) // the store names the object and project
}

func (a *API) objectGet(w http.ResponseWriter, r *http.Request, tok record.Token) error {
	info, err := a.objectLookup(r, tok)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, objectInfo(info, a.live(info.Key.Project)[info.Key]))
}

// objectStorage reads an object's storage as it was last committed (a
// live instance's uncommitted writes are not there yet): one key with
// ?key= (JSON, or the bare value with ?raw=1), else a range of entries.
func (a *API) objectStorage(w http.ResponseWriter, r *http.Request, tok record.Token) error {
	info, err := a.objectLookup(r, tok)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	if q.Has("key") {
		return a.objectValue(w, r, info.Key, q.Get("key"))
	}
	p := store.ObjectListParams{Key: info.Key, Prefix: q.Get("prefix"), Start: q.Get("start"), End: q.Get("end")}
	if p.Limit, err = queryLimit(r); err != nil {
		return err
	}
	if p.Reverse, err = queryBool(r, "reverse"); err != nil {
		return err
	}
	es, err := a.cfg.Store.ObjectList(r.Context(), p)
	if err != nil {
		return err
	}
	out := apitype.ObjectStorage{Entries: make([]apitype.ObjectEntry, 0, len(es)), More: len(es) == p.Limit}
	for _, e := range es {
		out.Entries = append(out.Entries, apitype.ObjectEntry{Key: e.Key, Value: e.Value})
	}
	return writeJSON(w, http.StatusOK, out)
}

func (a *API) objectValue(w http.ResponseWriter, r *http.Request, key record.ObjectKey, k string) error {
	raw, err := queryBool(r, "raw")
	if err != nil {
		return err
	}
	es, err := a.cfg.Store.ObjectGet(r.Context(), key, []string{k})
	if err != nil {
		return err
	}
	if len(es) == 0 {
		return &store.NotFoundError{Kind: "storage key", Name: k, More: "in object " + key.String() + " of project " + key.Project}
	}
	if raw {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", strconv.Itoa(len(es[0].Value)))
		w.WriteHeader(http.StatusOK)
		_, err := w.Write(es[0].Value)
		return err
	}
	return writeJSON(w, http.StatusOK, apitype.ObjectEntry{Key: es[0].Key, Value: es[0].Value})
}

// objectDelete removes an object's storage, alarm and record. The store
// bumps its lease token in the same transaction, so a live instance
// anywhere is fenced: its next commit or lease renewal fails and it
// reloads from the store (events that only read may see its cache until
// then).
func (a *API) objectDelete(w http.ResponseWriter, r *http.Request, tok record.Token) error {
	project, err := a.objectsProject(r, tok)
	if err != nil {
		return err
	}
	key, err := objectKey(r, project)
	if err != nil {
		return err
	}
	existed, err := a.cfg.Store.ObjectDelete(r.Context(), key)
	if err != nil {
		return err
	}
	if !existed {
		return &store.NotFoundError{Kind: "object", Name: key.String(), More: "in project " + project}
	}
	a.cfg.Logger.Info("object deleted", "project", project, "class", key.Class, "id", key.ID)
	return writeJSON(w, http.StatusOK, apitype.ObjectDeleted{Class: key.Class, ID: key.ID, Existed: true})
}
