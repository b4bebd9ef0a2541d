package console

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/stratahq/strata/internal/apitype"
	"github.com/stratahq/strata/internal/gateway"
)

// The objects and connections pages read through the admin API
// in-process (callAPI), not the store: the API adds what only the node's
// engines know (whether an object is live here; the WebSockets, which
// live in the node's hub and not in the store), resolves name:NAME ids,
// and checks the project, so the console repeats none of it. Each page is
// one API call (two on an object's page), each one store query or an
// in-memory read, whatever the number of rows.

const (
	// objectsPageSize is how many objects a page of the list shows.
	objectsPageSize = 50
	// storagePageSize is how many storage keys an object's page shows.
	storagePageSize = 50
	// valueClip is how many bytes of a stored value a page shows; keyClip
	// how many of a key.
	valueClip = 300
	keyClip   = 200
)

func (c *Console) objectRoutes() {
	c.page("/objects", c.objectsPage)
	c.page("/objects/{class}/{id}", c.objectPage)
	c.action("/objects/{class}/{id}/delete", c.objectDelete)
	c.page("/connections", c.connectionsPage)
	c.action("/connections/{id}/close", c.connectionClose)
}

// getAPI is a GET of the admin API as the session's token, decoded into
// out; an answer other than 200 is an error of the API's status and text
// (so a 404 of another project's object is the page's 404).
func (c *Console) getAPI(ctx context.Context, s *session, path string, out any) error {
	code, body := c.callAPI(ctx, s, "GET", path, nil)
	if code != http.StatusOK {
		return apiError(code, body)
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("console: decode the API's answer to GET %s: %w", path, err)
	}
	return nil
}

// apiError is the API's error answer as an error of its status.
func apiError(code int, body []byte) error {
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(body, &e) != nil || e.Error == "" {
		e.Error = strings.TrimSpace(string(body))
	}
	return gateway.Errorf(code, "%s", e.Error)
}

// objectsProject is the project an objects page shows: the token's own,
// else ?project=, else the first project that has functions (objects
// belong to one project; a token of every project picks one). projects
// are the choices offered to a token of every project.
func (c *Console) objectsProject(r *http.Request, s *session) (project string, projects []string, err error) {
	if s.tok.Project != "" {
		return s.tok.Project, nil, nil
	}
	fns, err := c.functions(r.Context(), s)
	if err != nil {
		return "", nil, err
	}
	for _, f := range fns {
		if !slices.Contains(projects, f.Project) {
			projects = append(projects, f.Project)
		}
	}
	slices.Sort(projects)
	project = r.URL.Query().Get("project")
	if project == "" && len(projects) > 0 {
		project = projects[0]
	}
	return project, projects, nil
}

type objectsData struct {
	Project  string
	Projects []string // offered to a token of every project
	Class    string
	After    string
	Next     string
	Objects  []apitype.ObjectInfo
}

func (c *Console) objectsPage(w http.ResponseWriter, r *http.Request, s *session) (string, *view, error) {
	project, projects, err := c.objectsProject(r, s)
	if err != nil {
		return "", nil, err
	}
	q := r.URL.Query()
	d := objectsData{Project: project, Projects: projects, Class: strings.TrimSpace(q.Get("class")), After: q.Get("after")}
	v := message(r, &view{Title: "Objects", Nav: "objects", Data: &d})
	if project == "" {
		return "objects", v, nil
	}
	aq := url.Values{"project": {project}, "limit": {fmt.Sprint(objectsPageSize)}}
	if d.Class != "" {
		aq.Set("class", d.Class)
	}
	if d.After != "" {
		aq.Set("after", d.After)
	}
	var list apitype.ObjectList
	if err := c.getAPI(r.Context(), s, "/objects?"+aq.Encode(), &list); err != nil {
		if gateway.Status(err) == http.StatusBadRequest {
			// A bad class filter is the user's typing: the page
			// stays, saying what is wrong.
			v.Error = err.Error()
			return "objects", v, nil
		}
		return "", nil, err
	}
	d.Objects, d.Next = list.Objects, list.Next
	return "objects", v, nil
}

// entryRow is one storage entry as a page shows it. A value that is
// printable UTF-8 text is shown as text (escaped by the template like
// any text); anything else as hex. Both are clipped to valueClip bytes;
// Len is the whole value's length.
type entryRow struct {
	Key     string
	Value   string
	Binary  bool
	Len     int
	Clipped bool
}

func entryView(key string, value []byte) entryRow {
	row := entryRow{Key: clipText(key, keyClip), Len: len(value)}
	if printable(value) {
		row.Value = clipText(string(value), valueClip)
		row.Clipped = len(row.Value) < len(value)
		return row
	}
	row.Binary = true
	n := min(len(value), valueClip/2)
	row.Value, row.Clipped = hex.EncodeToString(value[:n]), n < len(value)
	return row
}

// printable reports whether b is UTF-8 text without control characters
// other than tab and line breaks: what reads as text on a page.
func printable(b []byte) bool {
	if !utf8.Valid(b) {
		return false
	}
	for _, r := range string(b) {
		if unicode.IsControl(r) && r != '\n' && r != '\r' && r != '\t' {
			return false
		}
	}
	return true
}

// clipText cuts s to at most n bytes at a rune boundary, invalid UTF-8
// replaced.
func clipText(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

type objectData struct {
	Object  apitype.ObjectInfo
	Entries []entryRow
	More    bool
	Back    string // the list page of the object's project and class
}

// objectPath is the API path of an object.
func objectPath(class, id string) string {
	return "/objects/" + url.PathEscape(class) + "/" + url.PathEscape(id)
}

func (c *Console) objectPage(w http.ResponseWriter, r *http.Request, s *session) (string, *view, error) {
	project, _, err := c.objectsProject(r, s)
	if err != nil {
		return "", nil, err
	}
	if project == "" {
		return "", nil, notFound("object", r.PathValue("class")+"/"+r.PathValue("id"))
	}
	base := objectPath(r.PathValue("class"), r.PathValue("id"))
	pq := "?project=" + url.QueryEscape(project)
	d := objectData{}
	if err := c.getAPI(r.Context(), s, base+pq, &d.Object); err != nil {
		return "", nil, err
	}
	var st apitype.ObjectStorage
	if err := c.getAPI(r.Context(), s, base+"/storage"+pq+"&limit="+fmt.Sprint(storagePageSize), &st); err != nil {
		return "", nil, err
	}
	for _, e := range st.Entries {
		d.Entries = append(d.Entries, entryView(e.Key, e.Value))
	}
	d.More = st.More
	d.Back = Prefix + "/objects?" + url.Values{"project": {project}, "class": {d.Object.Class}}.Encode()
	title := "Object " + d.Object.Class + " " + d.Object.Name
	if d.Object.Name == "" {
		title = "Object " + d.Object.Class + " " + d.Object.ID[:min(len(d.Object.ID), 12)]
	}
	return "object", message(r, &view{Title: title, Nav: "objects", Data: d}), nil
}

// objectDelete deletes an object through the API (which fences a live
// instance anywhere). The form must carry confirm=yes, the box the user
// ticks: a delete is not undone, and a stray click does not make one.
func (c *Console) objectDelete(w http.ResponseWriter, r *http.Request, s *session) {
	class, id := r.PathValue("class"), r.PathValue("id")
	project := s.tok.Project
	if project == "" {
		project = r.PostFormValue("project")
	}
	pq := url.Values{"project": {project}}
	back := Prefix + "/objects/" + url.PathEscape(class) + "/" + url.PathEscape(id) + "?" + pq.Encode()
	if r.PostFormValue("confirm") != "yes" {
		c.done(w, r, back, http.StatusBadRequest, []byte("tick the box to confirm the delete"), "")
		return
	}
	code, body := c.callAPI(r.Context(), s, "DELETE", objectPath(class, id)+"?"+pq.Encode(), nil)
	if code >= 300 {
		c.done(w, r, back, code, body, "")
		return
	}
	c.done(w, r, Prefix+"/objects?"+pq.Encode(), code, body, fmt.Sprintf("object %s/%s deleted", class, id))
}

type connectionsData struct {
	Enabled     bool
	Connections []apitype.ConnectionInfo
}

func (c *Console) connectionsPage(w http.ResponseWriter, r *http.Request, s *session) (string, *view, error) {
	d := connectionsData{Enabled: true}
	v := message(r, &view{Title: "Connections", Nav: "connections", Data: &d})
	var list apitype.ConnectionList
	if err := c.getAPI(r.Context(), s, "/connections", &list); err != nil {
		if gateway.Status(err) == http.StatusServiceUnavailable {
			d.Enabled = false
			return "connections", v, nil
		}
		return "", nil, err
	}
	d.Connections = list.Connections
	return "connections", v, nil
}

// connectionClose closes a WebSocket of this node through the API.
func (c *Console) connectionClose(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.PathValue("id")
	code, body := c.callAPI(r.Context(), s, "DELETE", "/connections/"+url.PathEscape(id), nil)
	c.done(w, r, Prefix+"/connections", code, body, "connection "+id+" closed")
}

// shortID is an object id as a list shows it: its first 12 digits (the
// page of the object shows all 64).
func shortID(id string) string {
	if len(id) <= 12 {
		return id
	}
	return id[:12] + "…"
}
