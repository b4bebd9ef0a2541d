package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/stratahq/strata/internal/apitype"
	"github.com/stratahq/strata/internal/bindings"
	"github.com/stratahq/strata/internal/deploy"
	"github.com/stratahq/strata/internal/gateway"
	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store"
	"github.com/stratahq/strata/sdk/go/wire"
)

// BindingsAdmin is what the API needs from package bindings.
type BindingsAdmin interface {
	SecretSet(ctx context.Context, project, name string, value []byte) error
	Query(ctx context.Context, database, sql string, args []wire.SQLValue) (*wire.SQLResponse, error)
	Migrate(ctx context.Context, database string, files []apitype.Migration) ([]string, error)
}

// maxSecretBytes caps a secret value.
const maxSecretBytes = 64 << 10

func (a *API) routeBindings() {
	// Secrets are per project: /projects/{project}/secrets/{name}.
	a.handleToken("GET /secrets", AnyProject, a.secrets) // filtered to the token's project
	a.handleToken("GET /projects/{project}/secrets", PathProject("project"), a.secrets)
	a.handleScoped("PUT /projects/{project}/secrets/{name}", PathProject("project"), a.secretPut)
	a.handleScoped("DELETE /projects/{project}/secrets/{name}", PathProject("project"), a.secretDelete)
	a.handleScoped("PUT /secrets/{name}", AnyProject, a.secretPutGlobal)
	a.handle("DELETE /secrets/{name}", a.secretDeleteLegacy)
	a.handleToken("GET /databases", AnyProject, a.databases) // filtered
	a.handleScoped("POST /databases/{name}/query", DatabaseProject("name"), a.databaseQuery)
	a.handleScoped("POST /databases/{name}/migrate", DatabaseProject("name"), a.databaseMigrate)
	a.handleToken("GET /kv", AnyProject, a.kvNamespaces) // filtered
}

// secrets lists the secrets of {project} or, without one, of every
// project the token reaches.
func (a *API) secrets(w http.ResponseWriter, r *http.Request, tok record.Token) error {
	ss, err := a.cfg.Store.SecretList(r.Context())
	if err != nil {
		return err
	}
	only := r.PathValue("project")
	out := []apitype.SecretEntry{}
	for _, s := range ss {
		if only != "" && s.Project != only || !a.allowed(tok, s.Project) {
			continue
		}
		out = append(out, apitype.SecretEntry{Project: s.Project, Name: s.Name, UpdatedAt: s.UpdatedAt})
	}
	return writeJSON(w, http.StatusOK, out)
}

// checkSecretName answers 400 for a name no secret can have, before any
// store is asked (a store refusing it would be a 500).
func checkSecretName(name string) error {
	if err := store.CheckSecretName(name); err != nil {
		return &gateway.StatusError{Code: http.StatusBadRequest, Err: err}
	}
	return nil
}

// checkProjectName answers 400 for a name no project can have.
func checkProjectName(project string) error {
	if err := deploy.ValidateName(project); err != nil {
		return gateway.Errorf(http.StatusBadRequest, "project %q: %v", project, err)
	}
	return nil
}

// secretPut sets a project's secret from the raw request body. Functions
// read secrets at call time, so this rotates a secret without a redeploy.
func (a *API) secretPut(w http.ResponseWriter, r *http.Request) error {
	project, name := r.PathValue("project"), r.PathValue("name")
	if err := checkProjectName(project); err != nil {
		return err
	}
	if err := checkSecretName(name); err != nil {
		return err
	}
	value, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxSecretBytes))
	if err != nil {
		return gateway.Errorf(http.StatusRequestEntityTooLarge, "secret value over %d bytes", maxSecretBytes)
	}
	if len(value) == 0 {
		return gateway.Errorf(http.StatusBadRequest, "secret %s: empty value", name)
	}
	if err := a.cfg.Bindings.SecretSet(r.Context(), project, name, value); err != nil {
		if errors.Is(err, bindings.ErrBadRequest) {
			return &gateway.StatusError{Code: http.StatusBadRequest, Err: err}
		}
		return err
	}
	// Never log the value; the name is not secret.
	a.cfg.Logger.Info("secret set", "project", project, "name", name)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// secretPutGlobal answers a client from before secrets were per project.
func (a *API) secretPutGlobal(w http.ResponseWriter, r *http.Request) error {
	return gateway.Errorf(http.StatusBadRequest, "secret %s: secrets belong to a project: PUT %s/projects/PROJECT/secrets/%s (strata secrets set %s --project PROJECT, or run it in the project's directory)",
		r.PathValue("name"), apitype.Prefix, r.PathValue("name"), r.PathValue("name"))
}

func (a *API) secretDelete(w http.ResponseWriter, r *http.Request) error {
	if err := checkProjectName(r.PathValue("project")); err != nil {
		return err
	}
	return a.deleteSecret(w, r, r.PathValue("project"), r.PathValue("name"))
}

// secretDeleteLegacy deletes a secret of the legacy namespace (admin).
func (a *API) secretDeleteLegacy(w http.ResponseWriter, r *http.Request) error {
	return a.deleteSecret(w, r, store.LegacySecretProject, r.PathValue("name"))
}

func (a *API) deleteSecret(w http.ResponseWriter, r *http.Request, project, name string) error {
	if err := checkSecretName(name); err != nil {
		return err
	}
	ok, err := a.cfg.Store.SecretDelete(r.Context(), project, name)
	if err != nil {
		return err
	}
	if !ok {
		return &store.NotFoundError{Kind: "secret", Name: name, More: "in project " + project}
	}
	a.cfg.Logger.Info("secret deleted", "project", project, "name", name)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) databases(w http.ResponseWriter, r *http.Request, tok record.Token) error {
	all, err := a.cfg.Store.DatabaseList(r.Context())
	if err != nil {
		return err
	}
	ds := []record.DatabaseConfig{}
	for _, d := range all {
		if a.allowed(tok, d.Project) {
			ds = append(ds, d)
		}
	}
	// URLs are shown as written: they hold ${secret:…} references only.
	return writeJSON(w, http.StatusOK, ds)
}

func (a *API) kvNamespaces(w http.ResponseWriter, r *http.Request, tok record.Token) error {
	all, err := a.cfg.Store.KVNamespaceList(r.Context())
	if err != nil {
		return err
	}
	ns := []record.KVNamespace{}
	for _, n := range all {
		if a.allowed(tok, n.Project) {
			ns = append(ns, n)
		}
	}
	return writeJSON(w, http.StatusOK, ns)
}

// databaseQuery runs one statement for `strata db shell`. A database error
// (syntax, constraint) comes back in the response's error field with the
// database's code, with status 200: the call itself worked.
func (a *API) databaseQuery(w http.ResponseWriter, r *http.Request) error {
	var q apitype.QueryRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&q); err != nil || q.SQL == "" {
		return gateway.Errorf(http.StatusBadRequest, `query wants {"sql": "...", "args": [...]}`)
	}
	res, err := a.cfg.Bindings.Query(r.Context(), r.PathValue("name"), q.SQL, q.Args)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, res)
}

func (a *API) databaseMigrate(w http.ResponseWriter, r *http.Request) error {
	var m apitype.MigrateRequest
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
	return writeJSON(w, http.StatusOK, apitype.MigrateResult{Applied: applied})
}
