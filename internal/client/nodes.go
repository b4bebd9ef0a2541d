package client

import (
	"context"
	"net/http"

	"github.com/stratahq/strata/internal/apitype"
)

// Nodes lists the nodes sharing the server's store (GET /nodes).
func (c *Client) Nodes(ctx context.Context) (*apitype.NodesResponse, error) {
	var out apitype.NodesResponse
	if err := c.getJSON(ctx, http.MethodGet, "/nodes", nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Node reports what the node answering serves (GET /node).
func (c *Client) Node(ctx context.Context) (*apitype.NodeServing, error) {
	var out apitype.NodeServing
	if err := c.getJSON(ctx, http.MethodGet, "/node", nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
