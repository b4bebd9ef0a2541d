package deploy

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store"
)

// DatabaseChange is a database whose engine, URL or connection ceiling
// changes. URLs are shown as written: they hold secret references, never
// resolved secrets.
type DatabaseChange struct {
	Old    record.DatabaseConfig `json:"old"`
	New    record.DatabaseConfig `json:"new"`
	Fields []string              `json:"fields"` // "max_connections 10→20"
}

// diffBindings fills the plan's database and KV changes from the wanted
// resources b and the deployed state, and returns conflicts with names
// other projects own.
func (p *Plan) diffBindings(b store.BindingsApplyParams, cur State) []error {
	var conflicts []error
	curDBs := map[string]record.DatabaseConfig{}
	for _, d := range cur.Databases {
		switch {
		case d.Project == p.Project:
			curDBs[d.Name] = d
		case slices.ContainsFunc(b.Databases, func(x record.DatabaseConfig) bool { return x.Name == d.Name }):
			conflicts = append(conflicts, fmt.Errorf("database %q belongs to project %q; rename it or remove it there first: %w",
				d.Name, d.Project, store.ErrConflict))
		}
	}
	for _, d := range b.Databases {
		old, ok := curDBs[d.Name]
		if !ok {
			p.DatabasesAdd = append(p.DatabasesAdd, d)
		} else if fields := databaseFields(old, d); len(fields) > 0 {
			p.DatabasesChange = append(p.DatabasesChange, DatabaseChange{Old: old, New: d, Fields: fields})
		}
		delete(curDBs, d.Name)
	}
	for _, d := range curDBs {
		p.DatabasesRemove = append(p.DatabasesRemove, d)
	}

	curKV := map[string]record.KVNamespace{}
	for _, k := range cur.KV {
		switch {
		case k.Project == p.Project:
			curKV[k.Name] = k
		case slices.ContainsFunc(b.KV, func(x record.KVNamespace) bool { return x.Name == k.Name }):
			conflicts = append(conflicts, fmt.Errorf("kv namespace %q belongs to project %q; rename it or remove it there first: %w",
				k.Name, k.Project, store.ErrConflict))
		}
	}
	for _, k := range b.KV {
		if _, ok := curKV[k.Name]; !ok {
			p.KVAdd = append(p.KVAdd, k)
		}
		delete(curKV, k.Name)
	}
	for _, k := range curKV {
		p.KVRemove = append(p.KVRemove, k)
	}

	dbByName := func(a, b record.DatabaseConfig) int { return cmp.Compare(a.Name, b.Name) }
	slices.SortFunc(p.DatabasesAdd, dbByName)
	slices.SortFunc(p.DatabasesRemove, dbByName)
	slices.SortFunc(p.DatabasesChange, func(a, b DatabaseChange) int { return cmp.Compare(a.New.Name, b.New.Name) })
	kvByName := func(a, b record.KVNamespace) int { return cmp.Compare(a.Name, b.Name) }
	slices.SortFunc(p.KVAdd, kvByName)
	slices.SortFunc(p.KVRemove, kvByName)
	slices.SortFunc(conflicts, func(a, b error) int { return cmp.Compare(a.Error(), b.Error()) })
	return conflicts
}

func databaseFields(o, n record.DatabaseConfig) []string {
	var out []string
	if o.Engine != n.Engine {
		out = append(out, "engine "+o.Engine+"→"+n.Engine)
	}
	if o.URL != n.URL {
		out = append(out, "url "+noneIfEmpty(o.URL)+"→"+noneIfEmpty(n.URL))
	}
	if o.MaxConnections != n.MaxConnections {
		out = append(out, fmt.Sprintf("max_connections %d→%d", o.MaxConnections, n.MaxConnections))
	}
	return out
}

func describeDatabase(d record.DatabaseConfig) string {
	s := d.Engine
	if d.URL != "" {
		s += " " + d.URL
	}
	return s + fmt.Sprintf(", max_connections %d", d.MaxConnections)
}

// bindingText is a binding for people: "cache→sessions".
func bindingText(b record.Binding) string { return b.Name + "→" + b.Resource }

// describeBindings lists a new function's bindings, secrets and fetch
// allow-list, in the "+" form of changes.
func describeBindings(c record.FunctionConfig) []string {
	var out []string
	for _, b := range sortedBindings(c.Bindings) {
		out = append(out, "bindings +"+bindingText(b))
	}
	for _, s := range sortedStrings(c.Secrets) {
		out = append(out, "secrets +"+s)
	}
	for _, f := range sortedStrings(c.Fetch) {
		out = append(out, "fetch +"+f)
	}
	if c.FetchPrivate {
		out = append(out, "fetch_private on")
	}
	return out
}

// bindingFields lists what differs in bindings, secrets and fetch between
// two configs. Lists compare as sets: their order means nothing, so
// reordering them makes no new version.
func bindingFields(o, n record.FunctionConfig) []string {
	var out []string
	oldB := map[string]record.Binding{}
	for _, b := range o.Bindings {
		oldB[b.Name] = b
	}
	newB := map[string]record.Binding{}
	for _, b := range n.Bindings {
		newB[b.Name] = b
	}
	for _, b := range sortedBindings(n.Bindings) {
		ob, ok := oldB[b.Name]
		switch {
		case !ok:
			out = append(out, "bindings +"+bindingText(b))
		case ob.Resource != b.Resource || ob.Kind != b.Kind:
			out = append(out, "bindings ~"+b.Name+": "+ob.Resource+"→"+b.Resource)
		}
	}
	for _, b := range sortedBindings(o.Bindings) {
		if _, ok := newB[b.Name]; !ok {
			out = append(out, "bindings -"+bindingText(b))
		}
	}
	for _, f := range setDiff(uniq(o.Secrets), uniq(n.Secrets)) {
		out = append(out, "secrets "+f)
	}
	for _, f := range setDiff(uniq(o.Fetch), uniq(n.Fetch)) {
		out = append(out, "fetch "+f)
	}
	if o.FetchPrivate != n.FetchPrivate {
		out = append(out, "fetch_private "+onOff(o.FetchPrivate)+"→"+onOff(n.FetchPrivate))
	}
	return out
}

func sortedBindings(bs []record.Binding) []record.Binding {
	out := slices.Clone(bs)
	slices.SortFunc(out, func(a, b record.Binding) int { return cmp.Compare(a.Name, b.Name) })
	return out
}

func sortedStrings(ss []string) []string {
	out := slices.Clone(ss)
	slices.Sort(out)
	return out
}

func uniq(ss []string) []string { return slices.Compact(sortedStrings(ss)) }

// writeBindings prints the database and KV lines of Write and returns what
// the summary counts. Removing a KV namespace deletes its entries, so that
// line says so.
func (p *Plan) writeBindings(b *strings.Builder) []eventCount {
	dbs := eventCount{what: "databases"}
	kv := eventCount{what: "kv"}
	for _, d := range p.DatabasesAdd {
		dbs.add++
		fmt.Fprintf(b, "+ database %s (%s)\n", d.Name, describeDatabase(d))
	}
	for _, c := range p.DatabasesChange {
		dbs.change++
		fmt.Fprintf(b, "~ database %s: %s\n", c.New.Name, strings.Join(c.Fields, ", "))
	}
	for _, d := range p.DatabasesRemove {
		dbs.remove++
		if d.Engine == record.EngineSQLite {
			fmt.Fprintf(b, "- database %s (its configuration only: the SQLite file stays on disk)\n", d.Name)
		} else {
			fmt.Fprintf(b, "- database %s (its configuration only: the database itself is not touched)\n", d.Name)
		}
	}
	for _, k := range p.KVAdd {
		kv.add++
		fmt.Fprintf(b, "+ kv %s\n", k.Name)
	}
	for _, k := range p.KVRemove {
		kv.remove++
		fmt.Fprintf(b, "- kv %s (its entries are deleted)\n", k.Name)
	}
	return []eventCount{dbs, kv}
}
