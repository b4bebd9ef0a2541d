package client

import (
	"bytes"
	"context"
	"net/http"
	"net/url"

	"github.com/stratahq/strata/internal/apitype"
)

// secretPath is where a project's secret lives in the API.
func secretPath(project, name string) string {
	return "/projects/" + url.PathEscape(project) + "/secrets/" + url.PathEscape(name)
}

// SecretSet stores a project's secret (encrypted by the server).
func (c *Client) SecretSet(ctx context.Context, project, name string, value []byte) error {
	resp, err := c.do(ctx, http.MethodPut, secretPath(project, name), bytes.NewReader(value), http.Header{"Content-Type": {"application/octet-stream"}})
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		return decodeError(resp)
	}
	return nil
}

// Secrets lists a project's secret names (never values); project ""
// lists every project the token reaches.
func (c *Client) Secrets(ctx context.Context, project string) ([]apitype.SecretEntry, error) {
	var out []apitype.SecretEntry
	path := "/secrets"
	if project != "" {
		path = "/projects/" + url.PathEscape(project) + "/secrets"
	}
	return out, c.getJSON(ctx, http.MethodGet, path, nil, &out)
}

// SecretDelete removes a project's secret.
func (c *Client) SecretDelete(ctx context.Context, project, name string) error {
	resp, err := c.do(ctx, http.MethodDelete, secretPath(project, name), nil, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		return decodeError(resp)
	}
	return nil
}

// Databases lists the SQL databases of every project.
func (c *Client) Databases(ctx context.Context) ([]apitype.Database, error) {
	var out []apitype.Database
	return out, c.getJSON(ctx, http.MethodGet, "/databases", nil, &out)
}

// Query runs one SQL statement on a database.
func (c *Client) Query(ctx context.Context, database, sql string, args []apitype.SQLValue) (*apitype.SQLResponse, error) {
	var out apitype.SQLResponse
	return &out, c.getJSON(ctx, http.MethodPost, "/databases/"+url.PathEscape(database)+"/query", apitype.QueryRequest{SQL: sql, Args: args}, &out)
}

// Migrate applies migration files not yet applied to a database and
// returns the names it applied.
func (c *Client) Migrate(ctx context.Context, database string, files []apitype.Migration) ([]string, error) {
	var out apitype.MigrateResult
	err := c.getJSON(ctx, http.MethodPost, "/databases/"+url.PathEscape(database)+"/migrate", apitype.MigrateRequest{Files: files}, &out)
	return out.Applied, err
}
