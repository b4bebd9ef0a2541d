package manifest

import (
	"fmt"
	"slices"
	"strings"

	"github.com/goccy/go-yaml/ast"

	"github.com/stratahq/strata/internal/deploy"
	"github.com/stratahq/strata/internal/record"
)

// databaseKeys are the known keys of a database (a kv namespace has none
// yet).
var databaseKeys = []string{"engine", "url", "max_connections"}

// item is one string of a YAML list, with where it was.
type item struct {
	value string
	pos   Position
	field string
}

// stringList reads a list of strings, each checked by check (which may be
// nil), reporting entries listed twice. noun names one entry in messages
// ("secret name", "host"); prefix goes before check's errors.
func (p *parser) stringList(e entry, field, noun, prefix, example string, check func(string) error) []item {
	seq, ok := e.value.(*ast.SequenceNode)
	if !ok {
		p.addf(valuePos(e), field, "must be a list of %ss like %s, got %s", noun, example, describe(e.value))
		return nil
	}
	var out []item
	first := map[string]Position{}
	for i, n := range seq.Values {
		v := p.resolve(n)
		pos := posOf(n)
		if vp := posOf(v); vp.Line > 0 && v == n {
			pos = vp
		}
		itemField := fmt.Sprintf("%s[%d]", field, i)
		s, ok := str(v)
		if !ok {
			p.addf(pos, itemField, "must be a %s like %s, got %s", noun, example, describe(v))
			continue
		}
		if check != nil {
			if err := check(s); err != nil {
				p.addf(pos, itemField, "%s%v", prefix, err)
				continue
			}
		}
		if at, dup := first[s]; dup {
			p.addf(pos, itemField, "%s %q is listed twice (first at %s)", noun, s, at)
			continue
		}
		first[s] = pos
		out = append(out, item{value: s, pos: pos, field: itemField})
	}
	return out
}

// secrets reads the project's secrets: list.
func (p *parser) secrets(e entry) []string {
	if e.value == nil {
		return nil
	}
	var out []string
	for _, it := range p.stringList(e, "secrets", "secret name", "secret name ", "STRIPE_KEY", deploy.ValidateSecretName) {
		out = append(out, it.value)
	}
	slices.Sort(out)
	return out
}

func (p *parser) databases(e entry) []Database {
	entries, ok := p.mapping(e.value, "databases", "database")
	if !ok {
		p.addf(valuePos(e), "databases", "must be a mapping of database names to their settings, got %s", describe(e.value))
		return nil
	}
	out := make([]Database, 0, len(entries))
	for _, de := range entries {
		field := "databases." + de.key
		d := Database{Name: de.key, Engine: record.EngineSQLite, MaxConnections: deploy.DefaultMaxConnections, Pos: de.pos}
		if err := deploy.ValidateResourceName(de.key); err != nil {
			p.addf(de.pos, field, "database name %v", err)
		}
		settings, ok := p.mapping(de.value, field, "key")
		if !ok {
			p.addf(valuePos(de), field, "must be a mapping of settings (%s) or {}, got %s", strings.Join(databaseKeys, ", "), describe(de.value))
			out = append(out, d)
			continue
		}
		var urlPos Position
		engineOK, urlOK := true, true
		for _, s := range settings {
			sf := join(field, s.key)
			if s.value == nil && slices.Contains(databaseKeys, s.key) {
				continue
			}
			switch s.key {
			case "engine":
				v, ok := str(s.value)
				if !ok {
					p.addf(valuePos(s), sf, "%s, got %s", deploy.EngineRule, describe(s.value))
					engineOK = false
				} else if err := deploy.ValidateEngine(v); err != nil {
					p.addf(valuePos(s), sf, "%v", err)
					engineOK = false
				}
				d.Engine = v
			case "url":
				urlPos = valuePos(s)
				v, ok := str(s.value)
				if !ok {
					p.addf(urlPos, sf, "must be a postgres:// URL whose secrets are written ${secret:NAME}, got %s", describe(s.value))
					urlOK = false
					continue
				}
				d.URL = v
			case "max_connections":
				d.MaxConnections = p.integer(s, sf, deploy.MaxConnectionsRule, deploy.ValidateMaxConnections)
			default:
				p.unknownKey(s, field, databaseKeys)
			}
		}
		if engineOK && urlOK {
			pos := urlPos
			if pos.Line == 0 {
				pos = de.pos
			}
			// Whether referenced secrets are declared is checkRefs' job,
			// which knows every secret of the file.
			if err := deploy.ValidateDatabaseURL(d.Name, d.Engine, d.URL, nil); err != nil {
				p.addf(pos, join(field, "url"), "%v", err)
			} else if refs, err := deploy.SecretRefs(d.URL); err == nil {
				for _, r := range refs {
					p.refs = append(p.refs, ref{kind: "secret", name: r, pos: pos, field: join(field, "url")})
				}
			}
		}
		out = append(out, d)
	}
	slices.SortFunc(out, func(a, b Database) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func (p *parser) kvNamespaces(e entry) []KVNamespace {
	entries, ok := p.mapping(e.value, "kv", "kv namespace")
	if !ok {
		p.addf(valuePos(e), "kv", "must be a mapping of namespace names to {}, got %s", describe(e.value))
		return nil
	}
	out := make([]KVNamespace, 0, len(entries))
	for _, ke := range entries {
		field := "kv." + ke.key
		if err := deploy.ValidateResourceName(ke.key); err != nil {
			p.addf(ke.pos, field, "kv namespace name %v", err)
		}
		settings, ok := p.mapping(ke.value, field, "key")
		if !ok {
			p.addf(valuePos(ke), field, "must be {} (a kv namespace has no settings), got %s", describe(ke.value))
		}
		for _, s := range settings {
			p.addf(s.pos, field, "unknown key %q; a kv namespace has no settings, write {}", s.key)
		}
		out = append(out, KVNamespace{Name: ke.key, Pos: ke.pos})
	}
	slices.SortFunc(out, func(a, b KVNamespace) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// fnBindings remembers where a function's binding settings are.
type fnBindings struct {
	fetchPrivatePos Position
}

// functionBinding reads one of a function's binding settings.
func (p *parser) functionBinding(f *Function, fb *fnBindings, s entry, field string) {
	switch s.key {
	case "bindings":
		p.bindings(f, s, field)
	case "fetch":
		for _, it := range p.stringList(s, field, "host", "", `"api.stripe.com" or "*.example.org"`, deploy.ValidateFetchPattern) {
			f.Fetch = append(f.Fetch, it.value)
		}
	case "fetch_private":
		fb.fetchPrivatePos = valuePos(s)
		f.FetchPrivate = p.boolean(s, field)
	}
}

// bindings reads "bindings: {db: main, secrets: [KEY]}". Whether each
// resource and secret exists is checked once the whole file is read.
func (p *parser) bindings(f *Function, e entry, field string) {
	entries, ok := p.mapping(e.value, field, "binding")
	if !ok {
		p.addf(valuePos(e), field, "must be a mapping of binding names to databases, kv namespaces or object classes of this project (and secrets: [NAMES]), got %s", describe(e.value))
		return
	}
	for _, b := range entries {
		bf := join(field, b.key)
		if b.key == deploy.SecretsKey {
			if b.value == nil {
				continue
			}
			for _, it := range p.stringList(b, bf, "secret name", "secret name ", "STRIPE_KEY", deploy.ValidateSecretName) {
				f.Secrets = append(f.Secrets, it.value)
				p.refs = append(p.refs, ref{kind: "secret", name: it.value, pos: it.pos, field: it.field})
			}
			continue
		}
		if err := deploy.ValidateBindingName(b.key); err != nil {
			p.addf(b.pos, field, "binding name %v", err)
			continue
		}
		res, ok := str(b.value)
		if !ok || res == "" {
			p.addf(valuePos(b), bf, "must be the name of a database or kv namespace of this project, got %s", describe(b.value))
			continue
		}
		f.Bindings = append(f.Bindings, Binding{Name: b.key, Resource: res, Pos: valuePos(b)})
	}
	slices.SortFunc(f.Bindings, func(a, b Binding) int { return strings.Compare(a.Name, b.Name) })
}

// checkFunctionBindings checks settings of one function against each other.
func (p *parser) checkFunctionBindings(f *Function, fb *fnBindings, field string) {
	if f.FetchPrivate && len(f.Fetch) == 0 {
		p.addf(fb.fetchPrivatePos, join(field, "fetch_private"), "allows private addresses of the hosts listed under fetch, but fetch lists none")
	}
}

// checkBindings resolves every function's bindings to the databases, kv
// namespaces and object classes of the file, setting their kinds, and
// checks that no name is two of them.
func (p *parser) checkBindings(m *Manifest) {
	kinds := map[string]string{}
	var known []string
	for _, d := range m.Databases {
		kinds[d.Name] = record.BindingSQL
		known = append(known, d.Name)
	}
	for _, k := range m.KV {
		if i := slices.IndexFunc(m.Databases, func(d Database) bool { return d.Name == k.Name }); i >= 0 {
			d := m.Databases[i]
			pos, other := k.Pos, d.Pos
			field := "kv." + k.Name
			if later(d.Pos, k.Pos) == d.Pos {
				pos, other, field = d.Pos, k.Pos, "databases."+d.Name
			}
			p.addf(pos, field, "%q is both a database and a kv namespace (the other at %s); give them different names", k.Name, other)
			continue
		}
		kinds[k.Name] = record.BindingKV
		known = append(known, k.Name)
	}
	// A binding names its resource alone, so a class may not share a
	// database's or kv namespace's name.
	for _, o := range m.Objects {
		if kind, taken := kinds[o.Name]; taken {
			what, other := "database", Position{}
			if kind == record.BindingKV {
				what = "kv namespace"
				other = m.KV[slices.IndexFunc(m.KV, func(k KVNamespace) bool { return k.Name == o.Name })].Pos
			} else {
				other = m.Databases[slices.IndexFunc(m.Databases, func(d Database) bool { return d.Name == o.Name })].Pos
			}
			p.addf(o.Pos, "objects."+o.Name, "%q is both a %s and an object class (the other at %s); give them different names", o.Name, what, other)
			continue
		}
		kinds[o.Name] = record.BindingObject
		known = append(known, o.Name)
	}
	slices.Sort(known)
	what, where := "database or kv namespace", "databases: or kv:"
	if len(m.Objects) > 0 {
		what, where = "database, kv namespace or object class", "databases:, kv: or objects:"
	}
	for i := range m.Functions {
		f := &m.Functions[i]
		for j := range f.Bindings {
			b := &f.Bindings[j]
			if kind, ok := kinds[b.Resource]; ok {
				b.Kind = kind
				continue
			}
			field := "functions." + f.Name + ".bindings." + b.Name
			what, where := what, where
			if deploy.ValidateResourceName(b.Resource) != nil && deploy.ValidateClassName(b.Resource) == nil {
				// Only a class may be named "Room": say where classes go
				// even when the project declares none.
				what, where = "database, kv namespace or object class", "databases:, kv: or objects:"
			}
			switch {
			case len(known) == 0:
				p.addf(b.Pos, field, "unknown %s %q; this project declares none (add it under %s)", what, b.Resource, where)
			case suggest(b.Resource, known) != "":
				p.addf(b.Pos, field, "unknown %s %q; did you mean %q?", what, b.Resource, suggest(b.Resource, known))
			default:
				p.addf(b.Pos, field, "unknown %s %q; the project's are %s", what, b.Resource, strings.Join(known, ", "))
			}
		}
	}
}
