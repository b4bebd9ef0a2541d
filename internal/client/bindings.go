package client

import (
	"bytes"
	"context"
	"net/http"
	"net/url"

	"github.com/stratahq/strata/internal/api"
	"github.com/stratahq/strata/internal/bindings"
	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/sdk/go/wire"
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
func (c *Client) Secrets(ctx context.Context, project string) ([]api.SecretEntry, error) {
	var out []api.SecretEntry
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
func (c *Client) Databases(ctx context.Context) ([]record.DatabaseConfig, error) {
	var out []record.DatabaseConfig
	return out, c.getJSON(ctx, http.MethodGet, "/databases", nil, &out)
}

// Query runs one SQL statement on a database.
func (c *Client) Query(ctx context.Context, database, sql string, args []wire.SQLValue) (*wire.SQLResponse, error) {
	var out wire.SQLResponse
	return &out, c.getJSON(ctx, http.MethodPost, "/databases/"+url.PathEscape(database)+"/query", api.QueryRequest{SQL: sql, Args: args}, &out)
}

// Migrate applies migration files not yet applied to a database and
// returns the names it applied.
func (c *Client) Migrate(ctx context.Context, database string, files []bindings.Migration) ([]string, error) {
	var out struct {
		Applied []string `json:"applied"`
	}
	err := c.getJSON(ctx, http.MethodPost, "/databases/"+url.PathEscape(database)+"/migrate", api.MigrateRequest{Files: files}, &out)
	return out.Applied, err
}
