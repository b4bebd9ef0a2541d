package api

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/stratahq/strata/internal/bindings"
	"github.com/stratahq/strata/internal/deploy"
	"github.com/stratahq/strata/internal/gateway"
	"github.com/stratahq/strata/internal/store"
	"github.com/stratahq/strata/sdk/go/wire"
)

// BindingsAdmin is what the API needs from package bindings.
type BindingsAdmin interface {
	SecretSet(ctx context.Context, name string, value []byte) error
	Query(ctx context.Context, database, sql string, args []wire.SQLValue) (*wire.SQLResponse, error)
	Migrate(ctx context.Context, database string, files []bindings.Migration) ([]string, error)
}

// maxSecretBytes caps a secret value.
const maxSecretBytes = 64 << 10

func (a *API) routeBindings() {
	a.handle("GET /secrets", a.secrets)
	a.handle("PUT /secrets/{name}", a.secretPut)
	a.handle("DELETE /secrets/{name}", a.secretDelete)
	a.handle("GET /databases", a.databases)
	a.handle("POST /databases/{name}/query", a.databaseQuery)
	a.handle("POST /databases/{name}/migrate", a.databaseMigrate)
	a.handle("GET /kv", a.kvNamespaces)
}

// SecretEntry is a secret as listed: its name and when it was set, never
// its value.
type SecretEntry struct {
	Name      string    `json:"name"`
	UpdatedAt time.Time `json:"updated_at"`
}

func (a *API) secrets(w http.ResponseWriter, r *http.Request) error {
	ss, err := a.cfg.Store.SecretList(r.Context())
	if err != nil {
		return err
	}
	out := []SecretEntry{}
	for _, s := range ss {
		out = append(out, SecretEntry{Name: s.Name, UpdatedAt: s.UpdatedAt})
	}
	return writeJSON(w, http.StatusOK, out)
}

// secretPut sets a secret from the raw request body. Functions read
// secrets at call time, so this rotates a secret without a redeploy.
func (a *API) secretPut(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	if err := deploy.ValidateSecretName(name); err != nil {
		return gateway.Errorf(http.StatusBadRequest, "secret name %q: %v", name, err)
	}
	value, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxSecretBytes))
	if err != nil {
		return gateway.Errorf(http.StatusRequestEntityTooLarge, "secret value over %d bytes", maxSecretBytes)
	}
	if len(value) == 0 {
		return gateway.Errorf(http.StatusBadRequest, "secret %s: empty value", name)
	}
	if err := a.cfg.Bindings.SecretSet(r.Context(), name, value); err != nil {
		return err
	}
	// Never log the value; the name is not secret.
	a.cfg.Logger.Info("secret set", "name", name)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) secretDelete(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	ok, err := a.cfg.Store.SecretDelete(r.Context(), name)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("secret %s: %w", name, store.ErrNotFound)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) databases(w http.ResponseWriter, r *http.Request) error {
	ds, err := a.cfg.Store.DatabaseList(r.Context())
	if err != nil {
		return err
	}
	if ds == nil {
		ds = []store.DatabaseConfig{}
	}
	// URLs are shown as written: they hold ${secret:…} references only.
	return writeJSON(w, http.StatusOK, ds)
}

func (a *API) kvNamespaces(w http.ResponseWriter, r *http.Request) error {
	ns, err := a.cfg.Store.KVNamespaceList(r.Context())
	if err != nil {
		return err
	}
	if ns == nil {
		ns = []store.KVNamespace{}
	}
	return writeJSON(w, http.StatusOK, ns)
}

// QueryRequest is the body of POST /databases/{name}/query.
type QueryRequest struct {
	SQL  string          `json:"sql"`
	Args []wire.SQLValue `json:"args,omitempty"`
}

// databaseQuery runs one statement for `strata db shell`. A database error
// (syntax, constraint) comes back in the response's error field with the
// database's code, with status 200: the call itself worked.
func (a *API) databaseQuery(w http.ResponseWriter, r *http.Request) error {
	var q QueryRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&q); err != nil || q.SQL == "" {
		return gateway.Errorf(http.StatusBadRequest, `query wants {"sql": "...", "args": [...]}`)
	}
	res, err := a.cfg.Bindings.Query(r.Context(), r.PathValue("name"), q.SQL, q.Args)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, res)
}

// MigrateRequest is the body of POST /databases/{name}/migrate.
type MigrateRequest struct {
	Files []bindings.Migration `json:"files"`
}

func (a *API) databaseMigrate(w http.ResponseWriter, r *http.Request) error {
	var m MigrateRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 16<<20)).Decode(&m); err != nil {
		return gateway.Errorf(http.StatusBadRequest, `migrate wants {"files": [{"Name": "...", "SQL": "..."}]}: %v`, err)
	}
	applied, err := a.cfg.Bindings.Migrate(r.Context(), r.PathValue("name"), m.Files)
	if applied == nil {
		applied = []string{}
	}
	if err != nil {
		return &gateway.StatusError{Code: http.StatusUnprocessableEntity, Err: fmt.Errorf("after applying %v: %w", applied, err)}
	}
	return writeJSON(w, http.StatusOK, map[string][]string{"applied": applied})
}
