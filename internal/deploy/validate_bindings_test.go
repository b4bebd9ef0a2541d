package deploy

import (
	"strings"
	"testing"

	"github.com/stratahq/strata/internal/apitype"
	"github.com/stratahq/strata/internal/record"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestValidateFetchPattern(t *testing.T) {
	for _, ok := range []string{"api.stripe.com", "*.example.org", "127.0.0.1:9000", "[::1]", "[2001:db8::1]:443", "localhost", "a.b-c.d:65535"} {
		assert.NoError(t, ValidateFetchPattern(ok), ok)
	}
	for bad, msg := range map[string]string{
		"https://api.stripe.com/v1": `must be a host without a scheme ("api.stripe.com"), got "https://api.stripe.com/v1"`,
		"api.stripe.com/v1":         `must be a host without a path ("api.stripe.com"), got "api.stripe.com/v1"`,
		"10.0.0.0/8":                `IP ranges are not supported: list the addresses, got "10.0.0.0/8"`,
		"10.0.0.1-10.0.0.9":         `IP ranges are not supported: list the addresses, got "10.0.0.1-10.0.0.9"`,
		"*":                         `allowing every host is not supported: list the hosts, got "*"`,
		"api.*.com":                 `the only wildcard is a leading "*." ("*.example.org"), got "api.*.com"`,
		"*.org":                     `a wildcard needs a domain of at least two labels ("*.example.org"), got "*.org"`,
		"a.com:99999":               `the port must be 1..65535, got "a.com:99999"`,
		"fe80::1":                   `write an IPv6 address in brackets ("[::1]:8080"), got "fe80::1"`,
		"Api.com":                   `write host names in lower case ("api.com"), got "Api.com"`,
		"[fe80::1%eth0]":            FetchRule + `, got "[fe80::1%eth0]"`,
		"a_b.com":                   FetchRule + `, got "a_b.com"`,
	} {
		assert.EqualError(t, ValidateFetchPattern(bad), msg, bad)
	}
}

func TestValidateDatabaseURL(t *testing.T) {
	declared := func(n string) bool { return n == "PW" || n == "URL" }
	for _, ok := range []string{"${secret:URL}", "postgres://h/db", "postgres://u:${secret:PW}@h/db", "postgresql://u@h/db?password=${secret:PW}"} {
		assert.NoError(t, ValidateDatabaseURL("d", record.EnginePostgres, ok, declared), ok)
	}
	assert.NoError(t, ValidateDatabaseURL("d", record.EngineSQLite, "", declared))

	for _, bad := range []string{"postgres://u:hunter2@h/db", "postgres://u@h/db?password=hunter2", "postgres://u:hunter2${secret:PW}@h/db"} {
		err := ValidateDatabaseURL("orders-db", record.EnginePostgres, bad, declared)
		require.Error(t, err, bad)
		assert.Contains(t, err.Error(), "holds a literal password")
		assert.Contains(t, err.Error(), "${secret:ORDERS_DB_PASSWORD}")
		assert.NotContains(t, err.Error(), "hunter2", "a message must never repeat a password")
	}
	// A URL that fails to parse is not repeated either (url.Parse would).
	err := ValidateDatabaseURL("d", record.EnginePostgres, "postgres://u:hunter2@h:port/db", declared)
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "hunter2")

	assert.EqualError(t, ValidateDatabaseURL("d", record.EnginePostgres, "postgres://u:${secret:NOPE}@h/${secret:NOPE2}", declared),
		"secret NOPE, NOPE2 is not declared; add it to the project's secrets: list")
	assert.ErrorContains(t, ValidateDatabaseURL("orders", record.EnginePostgres, "", declared), `needs a url, e.g. "${secret:ORDERS_DB_URL}"`)
	assert.ErrorContains(t, ValidateDatabaseURL("d", record.EngineSQLite, "postgres://h/db", declared), "takes no url")

	refs, err := SecretRefs("postgres://${secret:U}:${secret:PW}@h/db")
	require.NoError(t, err)
	assert.Equal(t, []string{"U", "PW"}, refs)
	_, err = SecretRefs("${secret:}")
	assert.Error(t, err)
	_, err = SecretRefs("${env:X}")
	assert.Error(t, err)
}

func TestValidateBindingNames(t *testing.T) {
	assert.NoError(t, ValidateBindingName("db"))
	assert.NoError(t, ValidateBindingName("feature_flags-2"))
	assert.EqualError(t, ValidateBindingName("secrets"), `"secrets" is reserved for the list of secrets the function may read`)
	assert.Error(t, ValidateBindingName("Db"))
	assert.Error(t, ValidateBindingName(strings.Repeat("a", 64)))
	assert.NoError(t, ValidateSecretName("STRIPE_KEY"))
	assert.Error(t, ValidateSecretName("STRIPE-KEY"))
	// A long bad name may be a pasted value: it is cut short in messages.
	err := ValidateSecretName("sk_live_" + strings.Repeat("x", 60) + "-")
	require.Error(t, err)
	assert.NotContains(t, err.Error(), strings.Repeat("x", 30))
}

func TestSpecValidateBindings(t *testing.T) {
	require.NoError(t, Validate(bindingSpec()))

	for name, tc := range map[string]struct {
		edit func(*apitype.Spec)
		want string
	}{
		"unknown resource": {func(s *apitype.Spec) { s.Functions[0].Config.Bindings[0].Resource = "nope" }, `function "api": bindings: "db": unknown database or kv namespace "nope"`},
		"wrong kind":       {func(s *apitype.Spec) { s.Functions[0].Config.Bindings[0].Kind = record.BindingKV }, `function "api": bindings: "db": "main" is a sql resource, not kv`},
		"bad kind":         {func(s *apitype.Spec) { s.Functions[0].Config.Bindings[0].Kind = "queue" }, `kind must be "sql", "kv" or "object", got "queue"`},
		"bound twice": {func(s *apitype.Spec) {
			s.Functions[0].Config.Bindings = append(s.Functions[0].Config.Bindings, record.Binding{Name: "db", Kind: record.BindingKV, Resource: "sessions"})
		}, `bindings: "db" is bound twice`},
		"binding named secrets": {func(s *apitype.Spec) { s.Functions[0].Config.Bindings[0].Name = "secrets" }, `"secrets" is reserved`},
		"undeclared secret":     {func(s *apitype.Spec) { s.Functions[1].Config.Secrets = []string{"NOPE"} }, `function "web": secrets: "NOPE" is not declared`},
		"secret twice":          {func(s *apitype.Spec) { s.Secrets = append(s.Secrets, "ORDERS_PW") }, `secrets: "ORDERS_PW" is listed twice`},
		"bad fetch":             {func(s *apitype.Spec) { s.Functions[0].Config.Fetch = []string{"http://x.com"} }, "fetch: must be a host without a scheme"},
		"fetch twice":           {func(s *apitype.Spec) { s.Functions[0].Config.Fetch = []string{"x.com", "x.com"} }, `fetch: "x.com" is listed twice`},
		"fetch_private alone": {func(s *apitype.Spec) {
			s.Functions[1].Config.FetchPrivate = true
		}, "fetch_private: allows private addresses of the hosts listed under fetch, but fetch lists none"},
		"literal password":     {func(s *apitype.Spec) { s.Databases[1].URL = "postgres://app:pw@db/orders" }, `database "orders": url: holds a literal password`},
		"undeclared url ref":   {func(s *apitype.Spec) { s.Secrets = []string{"STRIPE_KEY"} }, `database "orders": url: secret ORDERS_PW is not declared`},
		"postgres without url": {func(s *apitype.Spec) { s.Databases[1].URL = "" }, `database "orders": url: a postgres database needs a url`},
		"sqlite with url":      {func(s *apitype.Spec) { s.Databases[0].URL = "postgres://h/db" }, `database "main": url: a sqlite database is a file`},
		"bad engine":           {func(s *apitype.Spec) { s.Databases[0].Engine = "mysql" }, `database "main": engine: must be "sqlite" or "postgres"`},
		"max_connections":      {func(s *apitype.Spec) { s.Databases[0].MaxConnections = 0 }, `database "main": max_connections: must be an integer between 1 and 1000, got 0`},
		"database twice":       {func(s *apitype.Spec) { s.Databases = append(s.Databases, s.Databases[0]) }, `database "main": appears twice`},
		"kv twice":             {func(s *apitype.Spec) { s.KV = append(s.KV, s.KV[0]) }, `kv namespace "sessions": appears twice`},
		"kv named as database": {func(s *apitype.Spec) { s.KV = append(s.KV, apitype.KVSpec{Name: "main"}) }, `kv namespace "main": a database has that name`},
		"bad database name":    {func(s *apitype.Spec) { s.Databases[0].Name = "Main" }, `databases[0].name: must be a lowercase letter`},
	} {
		t.Run(name, func(t *testing.T) {
			s := bindingSpec()
			tc.edit(&s)
			err := Validate(s)
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrInvalidSpec)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}
