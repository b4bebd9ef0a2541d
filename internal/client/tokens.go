package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/stratahq/strata/internal/apitype"
)

// TokenCreate creates a token (req.Project "": every project; req.Scope
// "": admin). The answer holds the token's value, shown this once.
func (c *Client) TokenCreate(ctx context.Context, req apitype.TokenCreateRequest) (*apitype.TokenCreated, error) {
	var out apitype.TokenCreated
	return &out, c.getJSON(ctx, http.MethodPost, "/tokens", req, &out)
}

// Tokens lists tokens (never their values).
func (c *Client) Tokens(ctx context.Context) ([]apitype.TokenInfo, error) {
	var out []apitype.TokenInfo
	return out, c.getJSON(ctx, http.MethodGet, "/tokens", nil, &out)
}

// TokenRevoke deletes a token by id or unique name.
func (c *Client) TokenRevoke(ctx context.Context, ref string) (*apitype.TokenInfo, error) {
	var out apitype.TokenInfo
	return &out, c.getJSON(ctx, http.MethodDelete, "/tokens/"+url.PathEscape(ref), nil, &out)
}
