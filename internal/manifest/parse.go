package manifest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	yamlparser "github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"

	"github.com/stratahq/strata/internal/deploy"
	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/route"
)

// Known keys, in the order the docs list them. Suggestions for typos come
// from these lists.
var (
	topKeys      = []string{"project", "queues", "topics", "databases", "kv", "secrets", "workflows", "objects", "state_machines", "functions"}
	functionKeys = []string{"source", "wasm", "kind", "runtime", "handler", "events", "memory", "timeout", "cpu_ms", "max_concurrency", "env", "routes",
		"queue", "topic", "topics", "schedule", "timezone", "retries", "dead_letter", "provisioned",
		"bindings", "fetch", "fetch_private"}
	queueKeys        = []string{"visibility_timeout", "max_receives", "dead_letter", "fifo"}
	topicKeys        = []string{"queues"}
	queueTriggerKeys = []string{"name", "batch_size"}
	routeKeys        = []string{"route", "workflow", "object", "id", "websocket", "async", "rate_limit", "burst"}
)

// maxMergeDepth bounds nested "<<" merges, which YAML aliases could
// otherwise make arbitrarily deep.
const maxMergeDepth = 8

// maxMergedKeys bounds the keys "<<" merges may copy in one file: aliases
// can make a few lines expand exponentially ("billion laughs").
const maxMergedKeys = 10000

// parser walks the YAML syntax tree of one manifest, collecting errors.
type parser struct {
	file    string
	dir     string // absolute; relative paths in the manifest start here
	errs    Errors
	anchors map[string]ast.Node
	routes  map[string]routeOwner // route.Pattern.Key → first route with it
	merged  int                   // keys copied by "<<" so far
	refs    []ref                 // names of queues, topics and secrets, checked once all are known
	wfRefs  []ref                 // workflows that routes start, checked once all are known
	objRefs []ref                 // object classes that routes forward to, checked once all are known
}

type routeOwner struct {
	fn   string
	text string
	pos  Position
}

// entry is one key of a mapping, after merges and with its value resolved.
type entry struct {
	key   string
	pos   Position // of the key
	value ast.Node // nil for null or absent
}

func (p *parser) addf(pos Position, field, format string, args ...any) {
	p.errs = append(p.errs, &Error{File: p.file, Line: pos.Line, Column: pos.Column, Field: field, Msg: fmt.Sprintf(format, args...)})
}

func (p *parser) parse(data []byte) *Manifest {
	if pos, err := checkNesting(data); err != nil {
		// The YAML parser takes time and memory that grow faster than
		// the nesting depth; refuse before it runs.
		p.addf(pos, "", "%v", err)
		return nil
	}
	file, err := parseYAML(data)
	if err != nil {
		p.syntaxError(err, data)
		return nil
	}
	var docs []*ast.DocumentNode
	for _, d := range file.Docs {
		if d != nil && d.Body != nil {
			docs = append(docs, d)
		}
	}
	if len(docs) == 0 {
		p.addf(Position{1, 1}, "", "the file is empty; it needs \"project\" and \"functions\"")
		return nil
	}
	if len(docs) > 1 {
		p.addf(posOf(docs[1].Body), "", "only one YAML document is allowed (found a second one after \"---\")")
	}
	ast.Walk(anchorCollector{p.anchors}, docs[0].Body)
	return p.manifest(p.resolve(docs[0].Body))
}

// parseYAML parses with the go-yaml parser. Duplicate keys are allowed here
// and reported by the walk, which can name the first occurrence. A panic in
// the parser becomes an error: a bad manifest must never crash the CLI or
// the server.
func parseYAML(data []byte) (f *ast.File, err error) {
	defer func() {
		if r := recover(); r != nil {
			f, err = nil, fmt.Errorf("the YAML parser failed on this input: %v", r)
		}
	}()
	return yamlparser.ParseBytes(data, 0, yamlparser.AllowDuplicateMapKey())
}

func (p *parser) syntaxError(err error, data []byte) {
	var ye yaml.Error
	if errors.As(err, &ye) {
		var pos Position
		if tk := ye.GetToken(); tk != nil && tk.Position != nil {
			pos = Position{tk.Position.Line, tk.Position.Column}
		}
		p.addf(pos, "", "invalid YAML: %s%s", ye.GetMessage(), flowListHint(data, pos))
		return
	}
	p.addf(Position{}, "", "invalid YAML: %v", err)
}

// flowListHint explains the usual cause of a syntax error in a flow list
// ("routes: [GET /hello/{name}]"): inside [...] a "{" starts a YAML
// mapping, so the route is cut in two and the parser wants a ',' or ']'.
// It answers "" unless the error's line has both a '[' and a '{'.
func flowListHint(data []byte, pos Position) string {
	if pos.Line < 1 {
		return ""
	}
	lines := bytes.Split(data, []byte("\n"))
	if pos.Line > len(lines) {
		return ""
	}
	line := lines[pos.Line-1]
	if !bytes.Contains(line, []byte("[")) || !bytes.Contains(line, []byte("{")) {
		return ""
	}
	return `; inside a flow list [...] a "{" starts a YAML mapping: quote each route ("GET /hello/{name}") or write a block list, one "- GET /hello/{name}" per line`
}

type anchorCollector struct{ anchors map[string]ast.Node }

func (c anchorCollector) Visit(n ast.Node) ast.Visitor {
	if a, ok := n.(*ast.AnchorNode); ok && a.Name != nil {
		if tk := a.Name.GetToken(); tk != nil {
			c.anchors[tk.Value] = a.Value
		}
	}
	return c
}

// resolve looks through anchors, aliases and tags to the node that holds
// the value. It returns nil for a null or an unknown alias (reported).
func (p *parser) resolve(n ast.Node) ast.Node {
	for range 32 { // an alias may name an anchor whose value is an alias...
		switch v := n.(type) {
		case nil:
			return nil
		case *ast.NullNode:
			return nil
		case *ast.AnchorNode:
			n = v.Value
		case *ast.AliasNode:
			name := ""
			if v.Value != nil && v.Value.GetToken() != nil {
				name = v.Value.GetToken().Value
			}
			ref, ok := p.anchors[name]
			if !ok {
				p.addf(posOf(v), "", "unknown alias *%s", name)
				return nil
			}
			n = ref
		case *ast.TagNode:
			// "!!str 8080" is the string "8080"; other tags change nothing
			// we care about.
			if tk := v.Start; tk != nil && tk.Value == "!!str" {
				if inner, ok := v.Value.(ast.ScalarNode); ok && inner.GetToken() != nil {
					itk := inner.GetToken()
					return &ast.StringNode{BaseNode: &ast.BaseNode{}, Token: itk, Value: itk.Value}
				}
			}
			n = v.Value
		default:
			return n
		}
	}
	p.addf(posOf(n), "", "aliases nest too deeply")
	return nil
}

// posOf is where a node starts.
func posOf(n ast.Node) Position {
	if n == nil {
		return Position{}
	}
	var tk *token.Token
	switch v := n.(type) {
	case *ast.MappingNode:
		if !v.IsFlowStyle && len(v.Values) > 0 && v.Values[0].Key != nil {
			tk = v.Values[0].Key.GetToken()
		} else {
			tk = v.Start
		}
	case *ast.MappingValueNode:
		if v.Key != nil {
			tk = v.Key.GetToken()
		}
	default:
		tk = n.GetToken()
	}
	if tk == nil || tk.Position == nil {
		return Position{}
	}
	return Position{tk.Position.Line, tk.Position.Column}
}

// describe names a value for "got ..." in messages.
func describe(n ast.Node) string {
	switch v := n.(type) {
	case nil:
		return "null"
	case *ast.StringNode:
		// go-yaml turns integers too large for 64 bits into strings; show
		// them as the number the user wrote.
		if v.Token != nil && v.Token.Type == token.StringType && isDigits(v.Value) {
			return v.Value
		}
		return quoteShort(v.Value)
	case *ast.LiteralNode:
		if v.Value != nil {
			return quoteShort(v.Value.Value)
		}
		return `""`
	case *ast.MappingNode:
		return "a mapping"
	case *ast.SequenceNode:
		return "a list"
	}
	if tk := n.GetToken(); tk != nil {
		return tk.Value
	}
	return n.Type().String()
}

func isDigits(s string) bool {
	s = strings.TrimPrefix(s, "-")
	return s != "" && strings.Trim(s, "0123456789") == ""
}

func quoteShort(s string) string {
	const max = 40
	if r := []rune(s); len(r) > max {
		s = string(r[:max]) + "…"
	}
	return fmt.Sprintf("%q", s)
}

// str returns a string value; numbers, booleans and the rest are not
// strings (YAML would silently turn "on" or 0777 into something else).
func str(n ast.Node) (string, bool) {
	switch v := n.(type) {
	case *ast.StringNode:
		return v.Value, true
	case *ast.LiteralNode:
		if v.Value != nil {
			return v.Value.Value, true
		}
		return "", true
	}
	return "", false
}

// keyText is the text of a mapping key; ok is false for keys that are
// mappings or lists.
func (p *parser) keyText(k ast.MapKeyNode) (string, bool) {
	var n ast.Node = k
	if mk, ok := k.(*ast.MappingKeyNode); ok {
		n = mk.Value
	}
	n = p.resolve(n)
	switch v := n.(type) {
	case nil:
		return "null", true
	case *ast.StringNode:
		return v.Value, true
	case *ast.MappingNode, *ast.SequenceNode, *ast.LiteralNode:
		return "", false
	}
	if tk := n.GetToken(); tk != nil {
		return tk.Value, true
	}
	return "", false
}

// mapping returns the entries of a mapping value: nil entries and ok for a
// null, ok false (nothing reported) when n is not a mapping. Duplicate keys
// and "<<" merges are handled here; what is one of the duplicates is the
// caller's word ("key", "function").
func (p *parser) mapping(n ast.Node, field, what string) ([]entry, bool) {
	if n == nil {
		return nil, true
	}
	m, ok := n.(*ast.MappingNode)
	if !ok {
		return nil, false
	}
	return p.entries(m, field, what, 0), true
}

func (p *parser) entries(m *ast.MappingNode, field, what string, depth int) []entry {
	var out, merged []entry
	first := map[string]Position{}
	for _, mv := range m.Values {
		if mv == nil || mv.Key == nil {
			continue
		}
		kpos := posOf(mv)
		if mv.Key.IsMergeKey() {
			merged = append(merged, p.merge(mv.Value, field, what, depth, kpos)...)
			continue
		}
		key, ok := p.keyText(mv.Key)
		if !ok {
			p.addf(kpos, field, "keys must be plain strings")
			continue
		}
		if at, dup := first[key]; dup {
			if what == "function" {
				p.addf(kpos, join(field, key), "duplicate function %q (first defined at %s)", key, at)
			} else {
				p.addf(kpos, field, "duplicate %s %q (first at %s)", what, key, at)
			}
			continue
		}
		first[key] = kpos
		out = append(out, entry{key: key, pos: kpos, value: p.resolve(mv.Value)})
	}
	// Merged keys fill in what the mapping does not set itself; among merged
	// mappings the first one listed wins, as YAML specifies.
	for _, e := range merged {
		if _, set := first[e.key]; !set {
			first[e.key] = e.pos
			out = append(out, e)
		}
	}
	return out
}

func (p *parser) merge(v ast.Node, field, what string, depth int, pos Position) []entry {
	if depth >= maxMergeDepth {
		p.addf(pos, field, "\"<<\" merges nest too deeply")
		return nil
	}
	if p.merged > maxMergedKeys {
		return nil // reported once, when the limit was crossed
	}
	switch src := p.resolve(v).(type) {
	case *ast.MappingNode:
		p.merged += len(src.Values)
		if p.merged > maxMergedKeys {
			p.addf(pos, field, "\"<<\" merges copy more than %d keys", maxMergedKeys)
			return nil
		}
		return p.entries(src, field, what, depth+1)
	case *ast.SequenceNode:
		var out []entry
		for _, item := range src.Values {
			m, ok := p.resolve(item).(*ast.MappingNode)
			if !ok {
				p.addf(posOf(item), field, "\"<<\" must merge a mapping or a list of mappings, got %s", describe(p.resolve(item)))
				continue
			}
			p.merged += len(m.Values)
			if p.merged > maxMergedKeys {
				p.addf(pos, field, "\"<<\" merges copy more than %d keys", maxMergedKeys)
				return nil
			}
			out = append(out, p.entries(m, field, what, depth+1)...)
		}
		return out
	default:
		p.addf(pos, field, "\"<<\" must merge a mapping or a list of mappings, got %s", describe(src))
		return nil
	}
}

func join(field, key string) string {
	if field == "" {
		return key
	}
	return field + "." + key
}

func (p *parser) unknownKey(e entry, field string, known []string) {
	if s := suggest(e.key, known); s != "" {
		p.addf(e.pos, field, "unknown key %q; did you mean %q?", e.key, s)
		return
	}
	p.addf(e.pos, field, "unknown key %q; known keys are %s", e.key, strings.Join(known, ", "))
}

func (p *parser) manifest(root ast.Node) *Manifest {
	entries, ok := p.mapping(root, "", "key")
	if !ok {
		p.addf(posOf(root), "", "the top level must be a mapping with \"project\" and \"functions\", got %s", describe(root))
		return nil
	}
	m := &Manifest{}
	var sawProject, sawFunctions bool
	for _, e := range entries {
		switch e.key {
		case "project":
			sawProject = true
			name, ok := str(e.value)
			if !ok {
				p.addf(valuePos(e), "project", "%s, got %s", deploy.NameRule, describe(e.value))
			} else if err := deploy.ValidateName(name); err != nil {
				p.addf(valuePos(e), "project", "%v", err)
			}
			m.Project = name
		case "functions":
			sawFunctions = true
			m.Functions = p.functions(e)
		case "queues":
			m.Queues = p.queues(e)
		case "topics":
			m.Topics = p.topics(e)
		case "databases":
			m.Databases = p.databases(e)
		case "kv":
			m.KV = p.kvNamespaces(e)
		case "secrets":
			m.Secrets = p.secrets(e)
		case "workflows":
			m.Workflows = p.workflows(e)
		case "objects":
			m.Objects = p.objects(e)
		case "state_machines":
			m.StateMachines = p.stateMachines(e)
		default:
			p.unknownKey(e, "", topKeys)
		}
	}
	rootPos := posOf(root)
	if !sawProject {
		p.addf(rootPos, "project", "required: the project name, e.g. \"project: hello\"")
	}
	if !sawFunctions {
		p.addf(rootPos, "functions", "required: at least one function, e.g. \"functions: {hello: {source: ./hello}}\"")
	}
	p.checkRefs(m)
	p.checkObjects(m)
	p.checkBindings(m)
	p.checkWorkflows(m)
	p.checkStateMachines(m)
	return m
}

// valuePos is where an entry's value is, or its key when the value is null.
func valuePos(e entry) Position {
	if e.value != nil {
		if pos := posOf(e.value); pos.Line > 0 {
			return pos
		}
	}
	return e.pos
}

func (p *parser) functions(e entry) []Function {
	entries, ok := p.mapping(e.value, "functions", "function")
	if !ok {
		p.addf(valuePos(e), "functions", "must be a mapping of function names to their settings, got %s", describe(e.value))
		return nil
	}
	if len(entries) == 0 {
		p.addf(e.pos, "functions", "at least one function is required")
		return nil
	}
	p.routes = map[string]routeOwner{}
	fns := make([]Function, 0, len(entries))
	for _, fe := range entries {
		fns = append(fns, p.function(fe))
	}
	slices.SortFunc(fns, func(a, b Function) int { return strings.Compare(a.Name, b.Name) })
	return fns
}

func (p *parser) function(e entry) Function {
	field := "functions." + e.key
	f := Function{
		Name:           e.key,
		MemoryMB:       deploy.DefaultMemoryMB,
		Timeout:        deploy.DefaultTimeout,
		MaxConcurrency: deploy.DefaultMaxConcurrency,
		Retries:        deploy.DefaultRetries,
		Pos:            e.pos,
	}
	var ev fnEvents
	var fb fnBindings
	if err := deploy.ValidateName(e.key); err != nil {
		p.addf(e.pos, field, "function name %v", err)
	}
	entries, ok := p.mapping(e.value, field, "key")
	if !ok {
		p.addf(valuePos(e), field, "must be a mapping of settings (%s), got %s", strings.Join(functionKeys, ", "), describe(e.value))
		return f
	}
	var sourcePos, wasmPos, runtimePos, handlerPos, cpuPos Position
	kindSet, eventsSet := false, false
	// A process function's source is a directory of any code, not a Go
	// package: known before the loop, whatever the order of the keys.
	process := slices.ContainsFunc(entries, func(s entry) bool {
		k, ok := str(s.value)
		return s.key == "kind" && ok && k == record.KindProcess
	})
	for _, s := range entries {
		sf := join(field, s.key)
		if s.value == nil && s.key != "source" && s.key != "wasm" && slices.Contains(functionKeys, s.key) {
			continue // an empty optional setting keeps its default
		}
		switch s.key {
		case "source":
			sourcePos = s.pos
			if process {
				f.Source = p.dirPath(s, sf)
			} else {
				f.Source = p.path(s, sf, true)
			}
		case "wasm":
			wasmPos = s.pos
			f.Wasm = p.path(s, sf, false)
		case "kind":
			kindSet = true
			k, ok := str(s.value)
			if !ok {
				p.addf(valuePos(s), sf, "%s, got %s", deploy.KindRule, describe(s.value))
			} else if err := deploy.ValidateKind(k); err != nil {
				p.addf(valuePos(s), sf, "%v", err)
			}
			f.Kind = k
		case "events":
			eventsSet = true
			f.Events = p.events(s, sf)
		case "runtime":
			runtimePos = s.pos
			if r, ok := str(s.value); !ok {
				p.addf(valuePos(s), sf, "%s, got %s", deploy.RuntimeRule, describe(s.value))
			} else if err := deploy.ValidateRuntime(r); err != nil {
				p.addf(valuePos(s), sf, "%v", err)
			} else {
				f.Runtime = r
			}
		case "handler":
			handlerPos = s.pos
			if h, ok := str(s.value); !ok {
				p.addf(valuePos(s), sf, "%s, got %s", deploy.HandlerRule, describe(s.value))
			} else if err := deploy.ValidateHandler(h); err != nil {
				p.addf(valuePos(s), sf, "%v", err)
			} else {
				f.Handler = h
			}
		case "memory":
			f.MemoryMB = p.integer(s, sf, deploy.MemoryRule, deploy.ValidateMemoryMB)
		case "max_concurrency":
			f.MaxConcurrency = p.integer(s, sf, deploy.ConcurrencyRule, deploy.ValidateMaxConcurrency)
		case "timeout":
			f.Timeout = p.timeout(s, sf)
		case "cpu_ms":
			cpuPos = valuePos(s)
			f.CPUMS = p.cpuMS(s, sf)
		case "env":
			f.Env = p.env(s, sf)
		case "routes":
			f.Routes = p.functionRoutes(s, sf, e.key)
		case "queue", "topic", "topics", "schedule", "timezone", "retries", "dead_letter", "provisioned":
			p.functionEvent(&f, &ev, s, sf)
		case "bindings", "fetch", "fetch_private":
			p.functionBinding(&f, &fb, s, sf)
		default:
			p.unknownKey(s, field, functionKeys)
		}
	}
	p.checkFunctionEvents(&f, &ev, field)
	p.checkFunctionBindings(&f, &fb, field)
	switch {
	case sourcePos.Line > 0 && wasmPos.Line > 0:
		p.addf(later(sourcePos, wasmPos), field, "set either source or wasm, not both")
	case sourcePos.Line == 0 && wasmPos.Line == 0:
		p.addf(e.pos, field, "needs source (the directory of a Go main package) or wasm (a prebuilt WebAssembly module)")
	}
	if !kindSet && sourcePos.Line > 0 {
		f.Kind = record.KindReactor
	}
	p.checkProcess(&f, field, e.pos, wasmPos, runtimePos, handlerPos, eventsSet)
	p.checkCPU(f.CPUMS, f, cpuPos, join(field, "cpu_ms"), "")
	return f
}

// cpuMS reads a cpu_ms: a whole number of milliseconds, 0 for no limit.
// Out of range, it reads as 0 so that the checks against the timeout do
// not report it twice.
func (p *parser) cpuMS(e entry, field string) int64 {
	bad := false
	n := p.integer(e, field, deploy.CPURule, func(n int) error {
		err := deploy.ValidateCPUMS(int64(n))
		bad = err != nil
		return err
	})
	if bad {
		return 0
	}
	return int64(n)
}

// checkCPU checks a cpu_ms (a function's or one of its classes') against
// what it belongs to: below the function's timeout, on a kind that
// enforces it.
func (p *parser) checkCPU(ms int64, f Function, pos Position, field, whose string) {
	if ms <= 0 {
		return
	}
	if err := deploy.CheckCPUAgainstTimeout(ms, f.Timeout.Milliseconds()); err != nil {
		p.addf(pos, field, "%v%s", err, whose)
	}
	if err := deploy.CheckCPUKind(f.Kind); err != nil {
		p.addf(pos, field, "%v", err)
	}
}

// checkProcess checks a process function's settings (kind: process): a
// source directory of code with a runtime and, for the managed runtimes, a
// handler; it always takes Lambda event shapes. Other kinds have neither
// runtime nor handler.
func (p *parser) checkProcess(f *Function, field string, at, wasmPos, runtimePos, handlerPos Position, eventsSet bool) {
	if f.Kind != record.KindProcess {
		if runtimePos.Line > 0 {
			p.addf(runtimePos, join(field, "runtime"), "only a process function (kind: process) has a runtime")
		}
		if handlerPos.Line > 0 {
			p.addf(handlerPos, join(field, "handler"), "only a process function (kind: process) has a handler")
		}
		return
	}
	if wasmPos.Line > 0 {
		p.addf(wasmPos, join(field, "wasm"), "a process function runs the code of its source directory, not a module")
	}
	if runtimePos.Line == 0 {
		p.addf(at, field, "a process function needs runtime: nodejs, python or provided")
	}
	if handlerPos.Line == 0 && f.Runtime != record.RuntimeProvided && f.Runtime != "" {
		p.addf(at, field, `a %s function needs handler: "file.function" (like "index.handler")`, f.Runtime)
	}
	if eventsSet && f.Events != record.EventsLambda {
		p.addf(at, join(field, "events"), "a process function always takes Lambda event shapes (events: lambda)")
	}
	f.Events = record.EventsLambda
}

// events reads a function's event shape: "cloudevents" (stored as empty,
// the default) or "lambda".
func (p *parser) events(e entry, field string) string {
	v, ok := str(e.value)
	switch {
	case !ok:
		p.addf(valuePos(e), field, "%s, got %s", deploy.EventsRule, describe(e.value))
	case v == "cloudevents":
		return record.EventsCloudEvents
	case v == record.EventsLambda:
		return v
	default:
		p.addf(valuePos(e), field, "%s, got %q", deploy.EventsRule, v)
	}
	return ""
}

func later(a, b Position) Position {
	if a.Line > b.Line || a.Line == b.Line && a.Column > b.Column {
		return a
	}
	return b
}

// dirPath resolves and checks a process function's source: a directory.
func (p *parser) dirPath(e entry, field string) string {
	v, ok := str(e.value)
	if !ok || v == "" {
		return ""
	}
	abs := filepath.Clean(v)
	if !filepath.IsAbs(abs) {
		abs = filepath.Join(p.dir, v)
	}
	if fi, err := os.Stat(abs); err == nil && !fi.IsDir() {
		p.addf(valuePos(e), field, "%q is a file; a process function's source is the directory of its code", v)
	}
	return abs
}

// path resolves and checks a source directory or a wasm file. It returns
// the absolute path.
func (p *parser) path(e entry, field string, source bool) string {
	what := "the directory of a Go main package"
	if !source {
		what = "the path of a prebuilt WebAssembly module"
	}
	v, ok := str(e.value)
	if !ok || v == "" {
		p.addf(valuePos(e), field, "must be %s, got %s", what, describe(e.value))
		return ""
	}
	abs := v
	if !filepath.IsAbs(abs) {
		abs = filepath.Join(p.dir, v)
	}
	abs = filepath.Clean(abs)
	pos := valuePos(e)
	fi, err := os.Stat(abs)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if filepath.IsAbs(v) {
			p.addf(pos, field, "%q does not exist", v)
		} else {
			p.addf(pos, field, "%q does not exist (paths are relative to the directory of %s)", v, filepath.Base(p.file))
		}
		return abs
	case err != nil:
		p.addf(pos, field, "cannot read %q: %v", v, unwrapPath(err))
		return abs
	}
	if source {
		if !fi.IsDir() {
			p.addf(pos, field, "%q is a file; source must be %s (use wasm: for a prebuilt module)", v, what)
			return abs
		}
		des, err := os.ReadDir(abs)
		if err != nil {
			p.addf(pos, field, "cannot read %q: %v", v, unwrapPath(err))
			return abs
		}
		if !slices.ContainsFunc(des, func(d fs.DirEntry) bool { return !d.IsDir() && strings.HasSuffix(d.Name(), ".go") }) {
			p.addf(pos, field, "directory %q holds no .go files; source must be %s", v, what)
			return abs
		}
		if err := p.inProject(abs); err != nil {
			p.addf(pos, field, "%q %v; source must be inside it (the project is what is built)", v, err)
		}
		return abs
	}
	if fi.IsDir() {
		p.addf(pos, field, "%q is a directory; wasm must be %s (use source: for a Go package directory)", v, what)
		return abs
	}
	if err := p.inProject(abs); err != nil {
		p.addf(pos, field, "%q %v; wasm must be inside it (copy the module into the project)", v, err)
		return abs
	}
	if err := checkWasmMagic(abs); err != nil {
		p.addf(pos, field, "%q %v", v, err)
	}
	return abs
}

// inProject reports an error unless path, with every symbolic link
// resolved, is inside the project directory: a deploy uploads the module,
// and a manifest must not make the CLI read (and send) a file from
// elsewhere on the machine.
func (p *parser) inProject(path string) error {
	dir, err := filepath.EvalSymlinks(p.dir)
	if err != nil {
		return fmt.Errorf("cannot resolve the project directory: %v", unwrapPath(err))
	}
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return fmt.Errorf("cannot be resolved: %v", unwrapPath(err))
	}
	rel, err := filepath.Rel(dir, real)
	if err != nil || !filepath.IsLocal(rel) {
		if real != path {
			return errors.New("leads outside the project directory (through a symbolic link)")
		}
		return errors.New("is outside the project directory")
	}
	return nil
}

var wasmMagic = []byte("\x00asm")

func checkWasmMagic(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("cannot be read: %w", unwrapPath(err))
	}
	defer f.Close()
	head := make([]byte, len(wasmMagic))
	if _, err := io.ReadFull(f, head); err != nil || !bytes.Equal(head, wasmMagic) {
		return errors.New(`is not a WebAssembly module (it does not start with "\0asm")`)
	}
	return nil
}

// integer reads a whole number setting. YAML integers only: "128" in quotes
// or 128.5 are errors, so that a typo never silently becomes a default.
func (p *parser) integer(e entry, field, rule string, check func(int) error) int {
	pos := valuePos(e)
	iv, ok := e.value.(*ast.IntegerNode)
	if !ok {
		p.addf(pos, field, "%s, got %s", rule, describe(e.value))
		return 0
	}
	// go-yaml keeps non-negative integers as uint64 and negative ones as
	// int64; anything beyond 32 bits is outside every range we accept.
	n := int64(1) << 40
	switch x := iv.Value.(type) {
	case int64:
		n = x
	case uint64:
		if x < 1<<32 {
			n = int64(x)
		}
	}
	if n < -(1<<31) || n > 1<<31 {
		p.addf(pos, field, "%s, got %s", rule, describe(e.value))
		return 0
	}
	if err := check(int(n)); err != nil {
		p.addf(pos, field, "%v", err)
	}
	return int(n)
}

func (p *parser) timeout(e entry, field string) time.Duration {
	return p.duration(e, field, deploy.TimeoutRule, deploy.ValidateTimeout)
}

// duration reads a Go duration string; a bare number is an error with a
// hint, since YAML has no unit to guess.
func (p *parser) duration(e entry, field, rule string, check func(time.Duration) error) time.Duration {
	pos := valuePos(e)
	s, ok := str(e.value)
	if !ok {
		if _, isInt := e.value.(*ast.IntegerNode); isInt {
			p.addf(pos, field, "%s, got %s; a number needs a unit, e.g. \"%ss\"", rule, describe(e.value), describe(e.value))
		} else {
			p.addf(pos, field, "%s, got %s", rule, describe(e.value))
		}
		return 0
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		p.addf(pos, field, "%s, got %s", rule, describe(e.value))
		return 0
	}
	if err := check(d); err != nil {
		p.addf(pos, field, "%v", err)
	}
	return d
}

func (p *parser) env(e entry, field string) map[string]string {
	entries, ok := p.mapping(e.value, field, "key")
	if !ok {
		p.addf(valuePos(e), field, "must be a mapping of variable names to string values, got %s", describe(e.value))
		return nil
	}
	env := make(map[string]string, len(entries))
	for _, v := range entries {
		vf := join(field, v.key)
		if err := deploy.ValidateEnvKey(v.key); err != nil {
			p.addf(v.pos, field, "variable name %v", err)
		}
		s, ok := str(v.value)
		switch {
		case ok:
		case v.value == nil:
			p.addf(valuePos(v), vf, "must be a string, got null; write \"\" for an empty value")
		case isScalar(v.value):
			p.addf(valuePos(v), vf, "must be a string, got %s; quote it: \"%s\"", describe(v.value), describe(v.value))
		default:
			p.addf(valuePos(v), vf, "must be a string, got %s", describe(v.value))
		}
		env[v.key] = s
	}
	if len(env) == 0 {
		return nil
	}
	return env
}

func isScalar(n ast.Node) bool {
	switch n.(type) {
	case *ast.MappingNode, *ast.SequenceNode:
		return false
	}
	return true
}

func (p *parser) functionRoutes(e entry, field, fn string) []Route {
	seq, ok := e.value.(*ast.SequenceNode)
	if !ok {
		p.addf(valuePos(e), field, "must be a list of routes like \"GET /hello/{name}\", got %s", describe(e.value))
		return nil
	}
	var out []Route
	for i, item := range seq.Values {
		rf := fmt.Sprintf("%s[%d]", field, i)
		pos := posOf(item)
		v := p.resolve(item)
		if vp := posOf(v); vp.Line > 0 && v == item {
			pos = vp
		}
		var rt Route
		var ro routeOpts
		s, ok := str(v)
		if mv, isMap := v.(*ast.MappingNode); isMap {
			s, rt, ro, ok = p.routeObject(mv, rf, pos, fn)
			if !ok {
				continue
			}
		} else if !ok {
			p.addf(pos, rf, "must be a route like \"GET /hello/{name}\" or a mapping with route:, got %s", describe(v))
			continue
		}
		pat, err := route.Parse(s)
		if err != nil {
			p.addf(pos, rf, "%v", err)
			continue
		}
		if prev, dup := p.routes[pat.Key()]; dup {
			p.addf(pos, rf, "route %q clashes with %q (function %q, %s:%s): same method and path shape",
				s, prev.text, prev.fn, p.file, prev.pos)
			continue
		}
		p.routes[pat.Key()] = routeOwner{fn: fn, text: s, pos: pos}
		p.routeTarget(&rt, ro, pat, s, rf, pos, fn)
		rt.Method, rt.Path, rt.Pos = pat.Method, pat.Path, pos
		out = append(out, rt)
	}
	return out
}
