package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/stratahq/strata/internal/apitype"
)

// Every objects call acts on one project: Project names it, or "" for the
// token's own (a token of every project must name one).

// ObjectsListParams selects a page of a project's objects; zero fields
// do not filter.
type ObjectsListParams struct {
	Project string
	Class   string
	After   string // the Next of the previous page
	Limit   int    // 0: the server's default (100)
}

// Objects lists a page of a project's durable objects by class then id.
func (c *Client) Objects(ctx context.Context, p ObjectsListParams) (*apitype.ObjectList, error) {
	q := url.Values{}
	setQuery(q, "project", p.Project)
	setQuery(q, "class", p.Class)
	setQuery(q, "after", p.After)
	if p.Limit > 0 {
		q.Set("limit", strconv.Itoa(p.Limit))
	}
	var out apitype.ObjectList
	if err := c.getJSON(ctx, http.MethodGet, "/objects?"+q.Encode(), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// objectPath is where an object lives in the API; id is 64 hex digits or
// name:NAME.
func objectPath(class, id string) string {
	return "/objects/" + url.PathEscape(class) + "/" + url.PathEscape(id)
}

func projectQuery(project string) string {
	if project == "" {
		return ""
	}
	return "?project=" + url.QueryEscape(project)
}

func setQuery(q url.Values, k, v string) {
	if v != "" {
		q.Set(k, v)
	}
}

// Object returns what the server records of one object.
func (c *Client) Object(ctx context.Context, project, class, id string) (*apitype.ObjectInfo, error) {
	var out apitype.ObjectInfo
	if err := c.getJSON(ctx, http.MethodGet, objectPath(class, id)+projectQuery(project), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ObjectValue returns the value of one storage key of an object as last
// committed; a missing key is an *APIError with status 404.
func (c *Client) ObjectValue(ctx context.Context, project, class, id, key string) ([]byte, error) {
	q := url.Values{"key": {key}}
	setQuery(q, "project", project)
	var out apitype.ObjectEntry
	if err := c.getJSON(ctx, http.MethodGet, objectPath(class, id)+"/storage?"+q.Encode(), nil, &out); err != nil {
		return nil, err
	}
	return out.Value, nil
}

// ObjectStorageParams selects a range of an object's storage.
type ObjectStorageParams struct {
	Prefix  string
	Start   string // first key, inclusive
	End     string // key to stop before
	Limit   int    // 0: the server's default (100)
	Reverse bool
}

// ObjectStorage returns a range of an object's storage in key order.
func (c *Client) ObjectStorage(ctx context.Context, project, class, id string, p ObjectStorageParams) (*apitype.ObjectStorage, error) {
	q := url.Values{}
	setQuery(q, "project", project)
	setQuery(q, "prefix", p.Prefix)
	setQuery(q, "start", p.Start)
	setQuery(q, "end", p.End)
	if p.Limit > 0 {
		q.Set("limit", strconv.Itoa(p.Limit))
	}
	if p.Reverse {
		q.Set("reverse", "1")
	}
	var out apitype.ObjectStorage
	if err := c.getJSON(ctx, http.MethodGet, objectPath(class, id)+"/storage?"+q.Encode(), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ObjectDelete deletes an object's storage, alarm and record, fencing a
// live instance of it; an object that does not exist is an *APIError with
// status 404.
func (c *Client) ObjectDelete(ctx context.Context, project, class, id string) (*apitype.ObjectDeleted, error) {
	var out apitype.ObjectDeleted
	if err := c.getJSON(ctx, http.MethodDelete, objectPath(class, id)+projectQuery(project), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
