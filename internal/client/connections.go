package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/stratahq/strata/internal/apitype"
)

// Connections lists the server's live WebSocket connections of project
// ("": the token's project, or every project for a token of every
// project), oldest first. Each node holds its own connections.
func (c *Client) Connections(ctx context.Context, project string) ([]apitype.ConnectionInfo, error) {
	path := "/connections"
	if project != "" {
		path += "?project=" + url.QueryEscape(project)
	}
	var out apitype.ConnectionList
	return out.Connections, c.getJSON(ctx, http.MethodGet, path, nil, &out)
}

// ConnectionClose closes one WebSocket connection (code 1000).
func (c *Client) ConnectionClose(ctx context.Context, id string) error {
	return c.getJSON(ctx, http.MethodDelete, "/connections/"+url.PathEscape(id), nil, nil)
}
