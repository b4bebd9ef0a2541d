package console

import (
	"crypto/subtle"
	"net/http"
	"strings"

	"github.com/stratahq/strata/internal/api"
)

type loginData struct{ Next string }

func subtleEq(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

func (c *Console) loginPage(w http.ResponseWriter, r *http.Request) {
	c.render(w, http.StatusOK, "login", nil, &view{Title: "Log in", Data: loginData{Next: safeNext(r.URL.Query().Get("next"))}})
}

// login takes a token of any scope and sets the session cookie. The
// token itself is not kept: the cookie holds its hash, signed.
func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 1<<16)
	next := safeNext(r.PostFormValue("next"))
	if !sameOrigin(r) {
		http.Error(w, "403 forbidden: cross-site login", http.StatusForbidden)
		return
	}
	token := strings.TrimSpace(r.PostFormValue("token"))
	tok, err := c.cfg.API.TokenByHash(r.Context(), api.HashToken(token))
	if token == "" || err != nil {
		msg := "That token is not valid (revoked, or never issued)."
		if token == "" {
			msg = "Paste a Strata token (strata token create, or the admin token the server printed)."
		}
		c.render(w, http.StatusForbidden, "login", nil, &view{Title: "Log in", Error: msg, Data: loginData{Next: next}})
		return
	}
	c.setCookie(w, r, c.sessionValue(tok.Hash, c.cfg.Clock.Now()), int(SessionTTL.Seconds()))
	c.cfg.Logger.Info("console login", "token", tok.Name, "project", tok.Project, "scope", tok.Scope)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (c *Console) logout(w http.ResponseWriter, r *http.Request, _ *session) {
	c.setCookie(w, r, "", -1)
	http.Redirect(w, r, Prefix+"/login", http.StatusSeeOther)
}

// safeNext keeps a post-login redirect inside the console.
func safeNext(next string) string {
	if !strings.HasPrefix(next, Prefix+"/") || strings.HasPrefix(next, "//") || strings.Contains(next, "\\") {
		return Prefix + "/"
	}
	return next
}
