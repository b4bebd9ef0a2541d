package deploy

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/stratahq/strata/internal/apitype"
	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/route"
)

// Durable object classes travel inside the configuration of the function
// whose code defines them (record.FunctionConfig.Objects), as workflows
// do: a class's settings are part of that function's version, and a route
// that forwards to an object is one of that function's routes.

// Limits of durable object classes, shared with the manifest and the
// schema.
const (
	MaxClassNameLen       = 64
	MinObjectIdleTimeout  = time.Second
	MaxObjectIdleTimeout  = 24 * time.Hour
	MinObjectStorageLimit = 1 << 10  // 1 KiB
	MaxObjectStorageLimit = 10 << 30 // 10 GiB
)

// Rule texts of durable object classes.
const (
	ClassNameRule    = "must be a letter followed by up to 63 letters, digits or _"
	IdleTimeoutRule  = `must be a duration between 1s and 24h, e.g. "30s"`
	StorageLimitRule = `must be a size between 1KiB and 10GiB, e.g. "50MiB" (units B, KiB, MiB, GiB)`
)

// ValidateClassName checks a durable object class name. Classes are named
// like Go types ("Room", "ChatRoom_v2") because the code that defines them
// registers them under that name.
func ValidateClassName(s string) error {
	ok := s != "" && len(s) <= MaxClassNameLen && isASCIILetter(s[0])
	for i := 1; ok && i < len(s); i++ {
		c := s[i]
		ok = isASCIILetter(c) || '0' <= c && c <= '9' || c == '_'
	}
	if !ok {
		return fmt.Errorf("%s, got %s", ClassNameRule, quoteName(s))
	}
	return nil
}

func isASCIILetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

// ValidateObjectIdleTimeout checks how long an idle object stays live.
func ValidateObjectIdleTimeout(d time.Duration) error {
	if d < MinObjectIdleTimeout || d > MaxObjectIdleTimeout {
		return fmt.Errorf("%s, got %s", IdleTimeoutRule, shortDuration(d))
	}
	return nil
}

// ValidateObjectStorageLimit checks one object's storage cap in bytes.
func ValidateObjectStorageLimit(n int64) error {
	if n < MinObjectStorageLimit || n > MaxObjectStorageLimit {
		return fmt.Errorf("%s, got %s", StorageLimitRule, SizeString(n))
	}
	return nil
}

// sizeUnits are the units ParseSize accepts, longest suffix first so that
// "KiB" is not read as "B".
var sizeUnits = []struct {
	suffix string
	mult   int64
}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}}

// ParseSize reads a size written as a whole number and a binary unit:
// "512B", "64KiB", "50MiB", "1GiB". Only binary units are accepted: "MB"
// would leave readers guessing whether it means 10^6 or 2^20.
func ParseSize(s string) (int64, error) {
	for _, u := range sizeUnits {
		num, ok := strings.CutSuffix(s, u.suffix)
		if !ok {
			continue
		}
		if num == "" || strings.Trim(num, "0123456789") != "" {
			break
		}
		n, err := strconv.ParseInt(num, 10, 64)
		if err != nil || n > (1<<62)/u.mult {
			return 0, errors.New("is too large")
		}
		return n * u.mult, nil
	}
	return 0, errors.New("is not a size")
}

// SizeString prints a byte count in the largest unit that divides it.
func SizeString(n int64) string {
	for _, u := range sizeUnits {
		if n != 0 && n%u.mult == 0 {
			return strconv.FormatInt(n/u.mult, 10) + u.suffix
		}
	}
	return strconv.FormatInt(n, 10) + "B"
}

// validateFunctionObjects checks the object classes of one function's
// config: names, settings, and that the function can define classes at
// all (a command module runs _start once per request and exports nothing
// an object's events could call; an empty kind is detected later).
func validateFunctionObjects(c record.FunctionConfig) []error {
	var errs []error
	if len(c.Objects) > 0 && c.Kind == record.KindCommand {
		errs = append(errs, errors.New("objects: a command module cannot define durable object classes; they run in reactor functions built with the Go SDK"))
	}
	seen := map[string]bool{}
	for _, o := range c.Objects {
		if err := ValidateClassName(o.Name); err != nil {
			errs = append(errs, fmt.Errorf("objects: name %w", err))
		} else if seen[o.Name] {
			errs = append(errs, fmt.Errorf("objects: %q is listed twice", o.Name))
		}
		seen[o.Name] = true
		if o.IdleTimeoutMS != 0 {
			if err := ValidateObjectIdleTimeout(time.Duration(o.IdleTimeoutMS) * time.Millisecond); err != nil {
				errs = append(errs, fmt.Errorf("object %q: idle_timeout: %w", o.Name, err))
			}
		}
		if o.StorageLimitBytes != 0 {
			if err := ValidateObjectStorageLimit(o.StorageLimitBytes); err != nil {
				errs = append(errs, fmt.Errorf("object %q: storage_limit: %w", o.Name, err))
			}
		}
	}
	return errs
}

// classOwners maps each object class of the spec to the function that
// defines it.
func classOwners(s apitype.Spec) map[string]string {
	owner := map[string]string{}
	for _, f := range s.Functions {
		for _, o := range f.Config.Objects {
			if _, dup := owner[o.Name]; !dup {
				owner[o.Name] = f.Name
			}
		}
	}
	return owner
}

// validateObjects checks what spans functions: a class is defined by one
// function; a route forwarding to an object forwards to one of its own
// function's classes through a parameter of its path; WebSocket routes are
// plain GET routes of their function.
func validateObjects(s apitype.Spec) []error {
	var errs []error
	owner := map[string]string{}
	for _, f := range s.Functions {
		for _, o := range f.Config.Objects {
			if prev, dup := owner[o.Name]; dup && prev != f.Name {
				errs = append(errs, fmt.Errorf("object class %q is defined by functions %q and %q; a class has one function", o.Name, prev, f.Name))
				continue
			}
			owner[o.Name] = f.Name
		}
	}
	for _, f := range s.Functions {
		for _, r := range f.Routes {
			where := fmt.Sprintf("function %q: route %s %s", f.Name, r.Method, r.Path)
			if r.WebSocket {
				if r.Async || r.Workflow != "" || r.Object != "" {
					errs = append(errs, fmt.Errorf("%s: a websocket route cannot be async, start a workflow or forward to an object", where))
				}
				if r.Method != "GET" && r.Method != route.Any {
					errs = append(errs, fmt.Errorf("%s: a websocket route's method must be GET or none, got %s", where, r.Method))
				}
			}
			if r.Object == "" {
				if r.ObjectParam != "" {
					errs = append(errs, fmt.Errorf("%s: object_param %q needs an object", where, r.ObjectParam))
				}
				continue
			}
			if r.Async || r.Workflow != "" {
				errs = append(errs, fmt.Errorf("%s: a route that forwards to object class %q cannot be async or start a workflow", where, r.Object))
			}
			switch fn, ok := owner[r.Object]; {
			case !ok:
				errs = append(errs, fmt.Errorf("%s: unknown object class %q", where, r.Object))
			case fn != f.Name:
				errs = append(errs, fmt.Errorf("%s: object class %q is defined by function %q; the route must be one of that function's", where, r.Object, fn))
			}
			if p, err := route.New(r.Method, r.Path); err == nil && !slices.Contains(p.Params(), r.ObjectParam) {
				errs = append(errs, fmt.Errorf("%s: object_param %q is not a parameter of the path", where, r.ObjectParam))
			}
		}
	}
	return errs
}

// functionObjectFields is what a function's change line says about its
// object classes: "object +Room", "object ~Room", "object -Old". Classes
// compare as a set by name.
func functionObjectFields(o, n record.FunctionConfig) []string {
	old := map[string]record.ObjectClass{}
	for _, c := range o.Objects {
		old[c.Name] = c
	}
	var out []string
	seen := map[string]bool{}
	for _, c := range sortedObjects(n.Objects) {
		seen[c.Name] = true
		oc, ok := old[c.Name]
		switch {
		case !ok:
			out = append(out, "object +"+c.Name)
		case oc.CPUMS != c.CPUMS:
			out = append(out, fmt.Sprintf("object ~%s (cpu_ms %d→%d)", c.Name, oc.CPUMS, c.CPUMS))
		case oc != c:
			out = append(out, "object ~"+c.Name)
		}
	}
	for _, c := range sortedObjects(o.Objects) {
		if !seen[c.Name] {
			out = append(out, "object -"+c.Name)
		}
	}
	return out
}

// sortedObjects returns a sorted copy of classes, nil for none.
func sortedObjects(cs []record.ObjectClass) []record.ObjectClass {
	if len(cs) == 0 {
		return nil
	}
	out := slices.Clone(cs)
	slices.SortFunc(out, func(a, b record.ObjectClass) int { return cmp.Compare(a.Name, b.Name) })
	return out
}
