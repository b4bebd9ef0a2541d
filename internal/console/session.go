package console

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/stratahq/strata/internal/record"
)

// SessionTTL is how long a console session lasts after logging in.
const SessionTTL = 12 * time.Hour

// cookieName is the session cookie's name.
const cookieName = "strata_console"

// session is a logged-in console user: the token that logged in (read
// again from the store on every request, so revoking it ends the session)
// and the CSRF token of this session.
type session struct {
	tok  record.Token
	csrf string
}

// canAct reports whether the session's token may change anything: the
// deploy and admin scopes may; read may only look.
func (s *session) canAct() bool {
	return s.tok.Scope == record.ScopeDeploy || s.tok.Scope == record.ScopeAdmin
}

// sessionValue is the cookie's value for a token hash: the hash, the
// expiry and a random nonce, then an HMAC-SHA256 of them under the key.
// The nonce makes each login's CSRF token different.
func (c *Console) sessionValue(hash string, now time.Time) string {
	nonce := make([]byte, 12)
	_, _ = rand.Read(nonce)
	payload := hash + "." + strconv.FormatInt(now.Add(SessionTTL).Unix(), 10) + "." + hex.EncodeToString(nonce)
	return payload + "." + c.mac("session", payload)
}

func (c *Console) mac(purpose, payload string) string {
	m := hmac.New(sha256.New, c.key)
	m.Write([]byte(purpose + "\x00" + payload))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

var errNoSession = errors.New("no console session: log in")

// parseSession checks a cookie value's signature and expiry and returns
// the token hash it names and the session's CSRF token.
func (c *Console) parseSession(v string, now time.Time) (hash, csrf string, err error) {
	i := strings.LastIndexByte(v, '.')
	if i < 0 {
		return "", "", errNoSession
	}
	payload, sig := v[:i], v[i+1:]
	if !hmac.Equal([]byte(sig), []byte(c.mac("session", payload))) {
		return "", "", errNoSession
	}
	parts := strings.Split(payload, ".")
	if len(parts) != 3 {
		return "", "", errNoSession
	}
	exp, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil || now.Unix() >= exp {
		return "", "", errNoSession
	}
	// The CSRF token is derived from the whole signed payload: it is
	// only known to pages rendered for this session, and a form of an
	// older session does not work in a newer one.
	return parts[0], c.mac("csrf", payload), nil
}

// session authenticates r: a valid cookie whose token still exists.
func (c *Console) session(r *http.Request) (*session, error) {
	ck, err := r.Cookie(cookieName)
	if err != nil {
		return nil, errNoSession
	}
	hash, csrf, err := c.parseSession(ck.Value, c.cfg.Clock.Now())
	if err != nil {
		return nil, err
	}
	tok, err := c.cfg.API.TokenByHash(r.Context(), hash)
	if err != nil {
		return nil, err
	}
	return &session{tok: tok, csrf: csrf}, nil
}

// setCookie writes the session cookie: HttpOnly (no script reads it),
// SameSite=Strict (no other site's page sends it), scoped to the
// console's path.
func (c *Console) setCookie(w http.ResponseWriter, r *http.Request, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: value, Path: Prefix, MaxAge: maxAge,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
}

// sameOrigin refuses a state-changing request another site's page sent:
// browsers set Sec-Fetch-Site or Origin on such posts. It backs the CSRF
// token up, and guards the login form, which has no session yet.
func sameOrigin(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
	default:
		return false
	}
	if o := r.Header.Get("Origin"); o != "" && o != "null" {
		host := strings.TrimPrefix(strings.TrimPrefix(o, "https://"), "http://")
		return host == r.Host
	}
	return true
}
