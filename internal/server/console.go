package server

import (
	"net/http"

	"github.com/stratahq/strata/internal/console"
	"github.com/stratahq/strata/internal/gateway"
)

// newConsole builds the web console over the node's API and store. Its
// sessions are signed with a key derived from the secret key, which every
// node of a store shares, so a session works on any node.
func (s *Server) newConsole() (*console.Console, error) {
	return console.New(console.Config{
		API: s.api, Store: s.st, Flows: s.fl, Traces: s.st, Prices: s.cfg.Prices,
		Key: s.bnd.Derive("console sessions"), Logger: s.log, Stopping: s.stopping, SyncLogs: s.inv.SyncLogs,
	})
}

// serveAdmin serves the admin API and, beside it, the console.
func (s *Server) serveAdmin(w http.ResponseWriter, r *http.Request) {
	if gateway.IsConsolePath(r.URL.Path) {
		s.console.ServeHTTP(w, r)
		return
	}
	s.api.ServeHTTP(w, r)
}
