package deploy

import (
	"cmp"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/stratahq/strata/internal/apitype"
	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store"
)

// Limits and defaults of bindings, shared with the manifest and the schema.
const (
	DefaultMaxConnections = store.DefaultMaxConnections
	MinMaxConnections     = 1
	MaxMaxConnections     = store.MaxMaxConnections

	// MaxBindingNameLen and MaxSecretNameLen bound names so that a slip
	// (a pasted value instead of a name) gets an error.
	MaxBindingNameLen = 63
	MaxSecretNameLen  = store.SecretMaxNameBytes
	// MaxHostLen is the longest DNS name.
	MaxHostLen = 253

	// SecretsKey is the key of a function's bindings: that lists secrets
	// rather than binding a resource, so no binding may be called that.
	SecretsKey = "secrets"
)

// Rule texts of bindings.
const (
	BindingNameRule    = "must be a lowercase letter followed by up to 62 lowercase letters, digits, '_' or '-'"
	ResourceNameRule   = NameRule
	SecretNameRule     = "must be a letter or _ followed by up to 127 letters, digits or _"
	EngineRule         = `must be "sqlite" or "postgres"`
	MaxConnectionsRule = "must be an integer between 1 and 1000"
	FetchRule          = `must be a host ("api.stripe.com"), a wildcard domain ("*.example.org") or an IP address, optionally with a port (":8443"); no scheme, path or IP range`
)

// secretRefPrefix starts a secret reference in a database URL:
// ${secret:NAME}.
const secretRefPrefix = "${secret:"

// SecretRef is how a database URL refers to the secret name.
func SecretRef(name string) string { return secretRefPrefix + name + "}" }

// ValidateBindingName checks the name under which a function reaches a
// database or a KV namespace.
func ValidateBindingName(s string) error {
	if s == SecretsKey {
		return fmt.Errorf("%q is reserved for the list of secrets the function may read", s)
	}
	ok := s != "" && len(s) <= MaxBindingNameLen && 'a' <= s[0] && s[0] <= 'z'
	for i := 1; ok && i < len(s); i++ {
		c := s[i]
		ok = 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_'
	}
	if !ok {
		return fmt.Errorf("%s, got %q", BindingNameRule, s)
	}
	return nil
}

// ValidateResourceName checks the name of a database or KV namespace.
func ValidateResourceName(s string) error { return ValidateName(s) }

// ValidateSecretName checks a secret's name (the form of an environment
// variable name, as secrets often end up in one).
func ValidateSecretName(s string) error {
	ok := s != "" && len(s) <= MaxSecretNameLen
	for i := 0; ok && i < len(s); i++ {
		c := s[i]
		ok = c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || i > 0 && '0' <= c && c <= '9'
	}
	if !ok {
		return fmt.Errorf("%s, got %s", SecretNameRule, quoteName(s))
	}
	return nil
}

// quoteName quotes a name for a message, cut short: a long "name" is
// probably a pasted value, which may be a secret itself.
func quoteName(s string) string {
	if len(s) > 40 {
		return strconv.Quote(s[:20]) + "…"
	}
	return strconv.Quote(s)
}

// ValidateEngine checks a database engine.
func ValidateEngine(e string) error {
	if e != record.EngineSQLite && e != record.EnginePostgres {
		return fmt.Errorf("%s, got %q", EngineRule, e)
	}
	return nil
}

// ValidateMaxConnections checks a database's connection ceiling.
func ValidateMaxConnections(n int) error {
	if n < MinMaxConnections || n > MaxMaxConnections {
		return fmt.Errorf("%s, got %d", MaxConnectionsRule, n)
	}
	return nil
}

// SecretRefs parses the ${secret:NAME} references of a database URL and
// returns their names in order. A "$" that does not start a well-formed
// reference is an error: it is most likely a mistyped one.
func SecretRefs(s string) ([]string, error) {
	var names []string
	for rest := s; ; {
		i := strings.IndexByte(rest, '$')
		if i < 0 {
			return names, nil
		}
		rest = rest[i:]
		if !strings.HasPrefix(rest, secretRefPrefix) {
			return nil, errors.New(`a "$" must start a secret reference like ${secret:NAME}`)
		}
		end := strings.IndexByte(rest, '}')
		if end < 0 {
			return nil, errors.New(`a secret reference is not closed: write ${secret:NAME}`)
		}
		name := rest[len(secretRefPrefix):end]
		if err := ValidateSecretName(name); err != nil {
			return nil, fmt.Errorf("secret reference: name %w", err)
		}
		names = append(names, name)
		rest = rest[end+1:]
	}
}

// ValidateDatabaseURL checks a database's engine against its URL: SQLite
// databases are files Strata manages and take no URL; PostgreSQL needs a
// postgres:// URL (or one secret reference holding the whole URL) whose
// password, if any, is a secret reference, so that no password is ever
// written in a manifest, a spec or a plan. declared reports whether a
// secret is declared; every referenced one must be. Messages never repeat
// the URL, which might hold a password.
func ValidateDatabaseURL(name, engine, u string, declared func(string) bool) error {
	if engine == record.EngineSQLite {
		if u != "" {
			return errors.New("a sqlite database is a file Strata manages and takes no url (use engine: postgres for a server)")
		}
		return nil
	}
	if engine != record.EnginePostgres {
		return nil // reported as a bad engine
	}
	if u == "" {
		return fmt.Errorf("a postgres database needs a url, e.g. %q with %s declared under the project's secrets", SecretRef(suggestSecret(name, "URL")), suggestSecret(name, "URL"))
	}
	refs, err := SecretRefs(u)
	if err != nil {
		return err
	}
	var undeclared []string
	for _, r := range refs {
		if declared != nil && !declared(r) && !slices.Contains(undeclared, r) {
			undeclared = append(undeclared, r)
		}
	}
	if len(undeclared) > 0 {
		return fmt.Errorf("secret %s is not declared; add it to the project's secrets: list", strings.Join(undeclared, ", "))
	}
	if len(refs) == 1 && u == SecretRef(refs[0]) {
		return nil // the whole URL is a secret
	}
	// Parse with each reference replaced by a marker that is valid
	// anywhere in a URL, so that the password can be told apart.
	masked, marks := u, make([]string, len(refs))
	for i, r := range refs {
		marks[i] = fmt.Sprintf("strataSecretRef%d", i)
		masked = strings.Replace(masked, SecretRef(r), marks[i], 1)
	}
	pu, err := url.Parse(masked)
	if err != nil || !strings.HasPrefix(masked, "postgres://") && !strings.HasPrefix(masked, "postgresql://") {
		return errors.New(`must be a "postgres://" URL or a secret reference ${secret:NAME} holding one`)
	}
	isMark := func(s string) bool { return slices.Contains(marks, s) }
	literal := false
	if pw, set := pu.User.Password(); set && !isMark(pw) {
		literal = true
	}
	q := pu.Query()
	for _, k := range []string{"password", "sslpassword"} {
		for _, v := range q[k] {
			if !isMark(v) {
				literal = true
			}
		}
	}
	if literal {
		return fmt.Errorf("holds a literal password; write the password as a secret reference, e.g. postgres://user:%s@host/db, and declare %s under secrets: (set its value with `strata secrets set`)",
			SecretRef(suggestSecret(name, "PASSWORD")), suggestSecret(name, "PASSWORD"))
	}
	return nil
}

// suggestSecret proposes a secret name for a database: ORDERS_DB_PASSWORD.
func suggestSecret(db, what string) string {
	s := strings.ToUpper(strings.ReplaceAll(db, "-", "_"))
	if ValidateSecretName(s) != nil {
		s = "DB"
	}
	return strings.TrimSuffix(s, "_DB") + "_DB_" + what
}

// ValidateFetchPattern checks one entry of a function's outbound HTTP
// allow-list: "host", "*.domain" or an IP address (IPv6 in brackets), each
// with an optional ":port". Host names are lower case. A wildcard matches
// subdomains only, at any depth ("*.example.org" allows "a.b.example.org",
// not "example.org").
func ValidateFetchPattern(p string) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf(format+", got %s", append(args, quoteName(p))...)
	}
	if rest, ok := strings.CutPrefix(p, "http://"); ok || strings.HasPrefix(p, "https://") || strings.Contains(p, "://") {
		if !ok {
			_, rest, _ = strings.Cut(p, "://")
		}
		rest, _, _ = strings.Cut(rest, "/")
		return bad("must be a host without a scheme (%q)", rest)
	}
	switch {
	case p == "":
		return bad("%s", FetchRule)
	case p == "*":
		return bad("allowing every host is not supported: list the hosts")
	case strings.ContainsAny(p, "/?#"):
		host, _, _ := strings.Cut(p, "/")
		if _, err := netip.ParsePrefix(p); err == nil || strings.Trim(host, "0123456789.") == "" {
			return bad("IP ranges are not supported: list the addresses")
		}
		return bad("must be a host without a path (%q)", host)
	}
	host := p
	if strings.HasPrefix(p, "[") {
		end := strings.IndexByte(p, ']')
		if end < 0 {
			return bad("%s", FetchRule)
		}
		a, err := netip.ParseAddr(p[1:end])
		if err != nil || !a.Is6() || a.Zone() != "" {
			return bad("%s", FetchRule)
		}
		if rest := p[end+1:]; rest != "" {
			port, ok := strings.CutPrefix(rest, ":")
			if !ok || !validPort(port) {
				return bad("the port must be 1..65535")
			}
		}
		return nil
	}
	if strings.Count(p, ":") > 1 {
		return bad("write an IPv6 address in brackets (\"[::1]:8080\")")
	}
	if h, port, ok := strings.Cut(p, ":"); ok {
		if !validPort(port) {
			return bad("the port must be 1..65535")
		}
		host = h
	}
	if strings.Contains(host, "*") {
		rest, ok := strings.CutPrefix(host, "*.")
		if !ok || strings.Contains(rest, "*") {
			return bad(`the only wildcard is a leading "*." ("*.example.org")`)
		}
		if !validHost(rest) {
			return bad("%s", FetchRule)
		}
		if !strings.Contains(rest, ".") {
			return bad(`a wildcard needs a domain of at least two labels ("*.example.org")`)
		}
		return nil
	}
	if a, err := netip.ParseAddr(host); err == nil && a.Is4() {
		return nil
	}
	if validHost(host) {
		return nil
	}
	if strings.Trim(host, "0123456789.-") == "" {
		return bad("IP ranges are not supported: list the addresses")
	}
	if validHost(strings.ToLower(host)) {
		return bad("write host names in lower case (%q)", strings.ToLower(host))
	}
	return bad("%s", FetchRule)
}

func validPort(s string) bool {
	if s == "" || s[0] == '0' || len(s) > 5 {
		return false
	}
	n, err := strconv.Atoi(s)
	return err == nil && n >= 1 && n <= 65535 && strconv.Itoa(n) == s
}

// validHost checks a lower-case DNS name: labels of letters, digits and
// '-', not starting or ending with '-', the last starting with a letter
// (so that "10.0.0.1-10.0.0.9" or "1.2.3" is not taken for a name).
func validHost(h string) bool {
	if h == "" || len(h) > MaxHostLen {
		return false
	}
	labels := strings.Split(h, ".")
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
				return false
			}
		}
	}
	last := labels[len(labels)-1]
	return 'a' <= last[0] && last[0] <= 'z'
}

// validateFunctionBindings checks what a function's config says about
// bindings by itself; validateBindings checks it against the project.
func validateFunctionBindings(c record.FunctionConfig) []error {
	var errs []error
	names := map[string]bool{}
	for _, b := range c.Bindings {
		if err := ValidateBindingName(b.Name); err != nil {
			errs = append(errs, fmt.Errorf("bindings: name %w", err))
		} else if names[b.Name] {
			errs = append(errs, fmt.Errorf("bindings: %q is bound twice", b.Name))
		}
		names[b.Name] = true
		switch b.Kind {
		case record.BindingSQL, record.BindingKV:
			if err := ValidateResourceName(b.Resource); err != nil {
				errs = append(errs, fmt.Errorf("bindings: %q: resource %w", b.Name, err))
			}
		case record.BindingObject:
			if err := ValidateClassName(b.Resource); err != nil {
				errs = append(errs, fmt.Errorf("bindings: %q: object class %w", b.Name, err))
			}
		default:
			errs = append(errs, fmt.Errorf("bindings: %q: kind must be %q, %q or %q, got %q", b.Name, record.BindingSQL, record.BindingKV, record.BindingObject, b.Kind))
		}
	}
	seen := map[string]bool{}
	for _, s := range c.Secrets {
		if err := ValidateSecretName(s); err != nil {
			errs = append(errs, fmt.Errorf("secrets: name %w", err))
		} else if seen[s] {
			errs = append(errs, fmt.Errorf("secrets: %q is listed twice", s))
		}
		seen[s] = true
	}
	seen = map[string]bool{}
	for _, f := range c.Fetch {
		if err := ValidateFetchPattern(f); err != nil {
			errs = append(errs, fmt.Errorf("fetch: %w", err))
		} else if seen[f] {
			errs = append(errs, fmt.Errorf("fetch: %q is listed twice", f))
		}
		seen[f] = true
	}
	if c.FetchPrivate && len(c.Fetch) == 0 {
		errs = append(errs, errors.New("fetch_private: allows private addresses of the hosts listed under fetch, but fetch lists none"))
	}
	return errs
}

// validateBindings checks the project's databases, KV namespaces and
// secrets, and every function's bindings against them.
func validateBindings(s apitype.Spec) []error {
	var errs []error
	secrets := make(map[string]bool, len(s.Secrets))
	for i, name := range s.Secrets {
		if err := ValidateSecretName(name); err != nil {
			errs = append(errs, fmt.Errorf("secrets[%d]: %w", i, err))
		} else if secrets[name] {
			errs = append(errs, fmt.Errorf("secrets: %q is listed twice", name))
		}
		secrets[name] = true
	}
	kinds := map[string]string{} // resource name → binding kind
	for i, d := range s.Databases {
		where := fmt.Sprintf("databases[%d]", i)
		if d.Name != "" {
			where = fmt.Sprintf("database %q", d.Name)
		}
		if err := ValidateResourceName(d.Name); err != nil {
			errs = append(errs, fmt.Errorf("databases[%d].name: %w", i, err))
		} else if _, dup := kinds[d.Name]; dup {
			errs = append(errs, fmt.Errorf("%s: appears twice", where))
		}
		kinds[d.Name] = record.BindingSQL
		if err := ValidateEngine(d.Engine); err != nil {
			errs = append(errs, fmt.Errorf("%s: engine: %w", where, err))
		}
		if err := ValidateDatabaseURL(d.Name, d.Engine, d.URL, func(n string) bool { return secrets[n] }); err != nil {
			errs = append(errs, fmt.Errorf("%s: url: %w", where, err))
		}
		if err := ValidateMaxConnections(d.MaxConnections); err != nil {
			errs = append(errs, fmt.Errorf("%s: max_connections: %w", where, err))
		}
	}
	for i, k := range s.KV {
		if err := ValidateResourceName(k.Name); err != nil {
			errs = append(errs, fmt.Errorf("kv[%d].name: %w", i, err))
			continue
		}
		switch kinds[k.Name] {
		case record.BindingSQL:
			errs = append(errs, fmt.Errorf("kv namespace %q: a database has that name; database and kv names must differ", k.Name))
		case record.BindingKV:
			errs = append(errs, fmt.Errorf("kv namespace %q: appears twice", k.Name))
		}
		if kinds[k.Name] == "" {
			kinds[k.Name] = record.BindingKV
		}
	}
	// Object classes share the binding namespace: a binding names its
	// resource alone, so a class may not have a database's or namespace's
	// name.
	for class := range classOwners(s) {
		if kind, ok := kinds[class]; ok {
			errs = append(errs, fmt.Errorf("object class %q: a %s resource has that name; class, database and kv names must differ", class, kind))
			continue
		}
		kinds[class] = record.BindingObject
	}
	for i, f := range s.Functions {
		where := fmt.Sprintf("functions[%d]", i)
		if f.Name != "" {
			where = fmt.Sprintf("function %q", f.Name)
		}
		for _, b := range f.Config.Bindings {
			kind, ok := kinds[b.Resource]
			switch {
			case !ok && b.Kind == record.BindingObject:
				errs = append(errs, fmt.Errorf("%s: bindings: %q: unknown object class %q", where, b.Name, b.Resource))
			case !ok:
				errs = append(errs, fmt.Errorf("%s: bindings: %q: unknown database or kv namespace %q", where, b.Name, b.Resource))
			case b.Kind != kind && (b.Kind == record.BindingSQL || b.Kind == record.BindingKV || b.Kind == record.BindingObject):
				errs = append(errs, fmt.Errorf("%s: bindings: %q: %q is a %s resource, not %s", where, b.Name, b.Resource, kind, b.Kind))
			}
		}
		for _, sec := range f.Config.Secrets {
			if ValidateSecretName(sec) == nil && !secrets[sec] {
				errs = append(errs, fmt.Errorf("%s: secrets: %q is not declared in the project's secrets", where, sec))
			}
		}
	}
	return errs
}

// Bindings derives the store's binding resources of the project: its
// databases and KV namespaces, sorted by name, never nil. The Spec must be
// valid.
func Bindings(s apitype.Spec) store.BindingsApplyParams {
	b := store.BindingsApplyParams{Databases: []record.DatabaseConfig{}, KV: []record.KVNamespace{}}
	for _, d := range s.Databases {
		b.Databases = append(b.Databases, record.DatabaseConfig{
			Name: d.Name, Project: s.Project, Engine: d.Engine, URL: d.URL, MaxConnections: d.MaxConnections,
		})
	}
	for _, k := range s.KV {
		b.KV = append(b.KV, record.KVNamespace{Name: k.Name, Project: s.Project})
	}
	slices.SortFunc(b.Databases, func(a, b record.DatabaseConfig) int { return cmp.Compare(a.Name, b.Name) })
	slices.SortFunc(b.KV, func(a, b record.KVNamespace) int { return cmp.Compare(a.Name, b.Name) })
	return b
}
