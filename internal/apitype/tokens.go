package apitype

import "time"

// Whoami answers GET /whoami: the token the request carried is valid.
type Whoami struct {
	Project string `json:"project"` // "*": every project
	Scope   string `json:"scope"`   // admin, deploy or read
	Status  string `json:"status"`  // "authorized"
	Token   string `json:"token"`   // the token's name
}

// TokenInfo describes a token without its secret value. ID is the start
// of the token's hash: it names the token for revocation.
type TokenInfo struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Project   string    `json:"project,omitempty"` // "": every project
	Scope     string    `json:"scope"`             // admin, deploy or read
	CreatedAt time.Time `json:"created_at"`
	// LastUsedAt is when the token was last presented, to within a
	// minute; absent: never.
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
}

// TokenCreateRequest is the body of POST /tokens.
type TokenCreateRequest struct {
	Name    string `json:"name"`
	Project string `json:"project,omitempty"` // "": every project
	Scope   string `json:"scope,omitempty"`   // admin (default), deploy or read
}

// TokenCreated answers POST /tokens: the only time the token is shown.
type TokenCreated struct {
	TokenInfo
	Token string `json:"token"`
}
