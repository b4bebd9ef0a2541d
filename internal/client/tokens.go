package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/stratahq/strata/internal/api"
)

// TokenCreate creates a token; project "" makes an admin token. The
// answer holds the token's value, shown this once.
func (c *Client) TokenCreate(ctx context.Context, name, project string) (*api.TokenCreated, error) {
	var out api.TokenCreated
	return &out, c.getJSON(ctx, http.MethodPost, "/tokens", api.TokenCreateRequest{Name: name, Project: project}, &out)
}

// Tokens lists tokens (never their values).
func (c *Client) Tokens(ctx context.Context) ([]api.TokenInfo, error) {
	var out []api.TokenInfo
	return out, c.getJSON(ctx, http.MethodGet, "/tokens", nil, &out)
}

// TokenRevoke deletes a token by id or unique name.
func (c *Client) TokenRevoke(ctx context.Context, ref string) (*api.TokenInfo, error) {
	var out api.TokenInfo
	return &out, c.getJSON(ctx, http.MethodDelete, "/tokens/"+url.PathEscape(ref), nil, &out)
}
