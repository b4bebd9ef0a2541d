package route

import (
	"fmt"
	"strings"
)

// Other frameworks write parameters differently, and most of their forms
// are valid literal text here: "/hello/:name" would deploy and then match
// only the path "/hello/:name". Someone who writes one means a parameter,
// so such segments are refused with the Strata form of the whole path.

// checkForeign refuses a path with another framework's parameter syntax,
// suggesting the path written the Strata way.
func checkForeign(path string, parts []string) error {
	var found []string
	optional := ""
	out := make([]string, len(parts))
	for i, p := range parts {
		name, catchAll, opt, ok := foreignParam(p)
		if !ok {
			out[i] = p
			continue
		}
		found = append(found, p)
		if catchAll {
			if name == "" {
				name = "rest"
			}
			out[i] = "{" + name + "...}"
		} else {
			out[i] = "{" + name + "}"
		}
		if opt && optional == "" {
			optional = p
		}
	}
	if len(found) == 0 {
		return nil
	}
	strata := "/" + strings.Join(out, "/")
	if optional != "" {
		if i := len(parts) - 1; parts[i] == optional && len(found) == 1 {
			without := "/" + strings.Join(out[:i], "/")
			return fmt.Errorf("path %q: optional parameter %q is another framework's syntax; Strata has no optional parameters: write two routes, %q and %q", path, optional, without, strata)
		}
		return fmt.Errorf("path %q: optional parameter %q is another framework's syntax; Strata has no optional parameters: write %q and a route without it", path, optional, strata)
	}
	return fmt.Errorf("path %q uses another framework's parameter syntax (%s); in Strata write %q", path, quoteAll(found), strata)
}

// foreignParam recognises one segment written as a parameter in another
// framework's syntax and returns the parameter's name ("" when the form
// has none), whether it captures the rest of the path, and whether it is
// optional. Literals that merely contain these characters are left alone:
// the whole segment must have the form.
func foreignParam(p string) (name string, catchAll, optional, ok bool) {
	switch {
	case p == "**": // Spring, globs
		return "", true, false, true
	case len(p) > 1 && p[0] == ':': // Express, Rails, Gin: ":name", ":name?", ":name*"
		inner := p[1:]
		if n, ok := strings.CutSuffix(inner, "?"); ok && IsParamName(n) {
			return n, false, true, true
		}
		if n, ok := strings.CutSuffix(inner, "*"); ok && IsParamName(n) {
			return n, true, false, true
		}
		if IsParamName(inner) {
			return inner, false, false, true
		}
	case len(p) > 1 && p[0] == '*': // Gin/httprouter catch-all "*name"
		if IsParamName(p[1:]) {
			return p[1:], true, false, true
		}
	case len(p) > 2 && p[0] == '<' && p[len(p)-1] == '>': // Flask "<name>", "<int:id>", "<path:rest>"
		conv, n, typed := strings.Cut(p[1:len(p)-1], ":")
		if !typed {
			n, conv = conv, ""
		}
		if IsParamName(n) {
			return n, conv == "path", false, true
		}
	case len(p) > 2 && p[0] == '[' && p[len(p)-1] == ']': // Next.js "[id]", "[...slug]", "[[...slug]]"
		inner := p[1 : len(p)-1]
		opt := false
		if len(inner) > 2 && inner[0] == '[' && inner[len(inner)-1] == ']' {
			inner, opt = inner[1:len(inner)-1], true
		}
		if n, ok := strings.CutPrefix(inner, "..."); ok && IsParamName(n) {
			// "[[...slug]]" also matches the parent path, as Strata's
			// {slug...} does: not an optional parameter here.
			return n, true, false, true
		}
		if IsParamName(inner) && !opt {
			return inner, false, false, true
		}
	case len(p) > 2 && p[0] == '{' && p[len(p)-1] == '}': // Laravel "{id?}", chi/mux "{id:[0-9]+}", ASP.NET "{*rest}"
		inner := p[1 : len(p)-1]
		if n, ok := strings.CutSuffix(inner, "?"); ok && IsParamName(n) {
			return n, false, true, true
		}
		if n, ok := strings.CutPrefix(inner, "*"); ok && IsParamName(n) {
			return n, true, false, true
		}
		if n, _, ok := strings.Cut(inner, ":"); ok && IsParamName(n) {
			return n, false, false, true
		}
	}
	return "", false, false, false
}

func quoteAll(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, ", ")
}
