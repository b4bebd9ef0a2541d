package build

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/stratahq/strata/sdk"
)

// SDKDir is where the guest SDK is written, relative to the project root.
const SDKDir = ".strata/sdk"

// sdkVersion is the placeholder version required for the SDK; the replace
// directive makes the actual version irrelevant.
const sdkVersion = "v0.0.0"

// RequireLine and ReplaceLine are the go.mod directives that point a project
// at the SDK materialised by the strata binary.
const (
	RequireLine = "require " + sdk.ModulePath + " " + sdkVersion
	ReplaceLine = "replace " + sdk.ModulePath + " => ./" + SDKDir
)

// GoMod returns a complete go.mod for a new project with the given module
// path, wired to the embedded SDK.
func GoMod(module string) string {
	return "module " + module + "\n\ngo " + sdk.GoVersion + "\n\n" + RequireLine + "\n\n" + ReplaceLine + "\n"
}

// EnsureGoMod makes sure <projectDir>/go.mod exists, requires the SDK and
// replaces it with ./.strata/sdk. Lines it does not own are kept byte for
// byte, with two exceptions the build cannot succeed without: a replace of
// the SDK that points elsewhere is redirected, because the SDK must match the
// host ABI of this strata binary, and a go directive older than the SDK's
// (or a missing one) is raised to it. It reports whether the file changed.
func EnsureGoMod(projectDir string) (changed bool, err error) {
	path := filepath.Join(projectDir, "go.mod")
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		if err := os.WriteFile(path, []byte(GoMod(modulePathFor(projectDir))), 0o644); err != nil {
			return false, fmt.Errorf("create %s: %w", path, err)
		}
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("read %s: %w", path, err)
	}
	out, err := patchGoMod(data)
	if err != nil {
		return false, fmt.Errorf("%s: %w", path, err)
	}
	if bytes.Equal(out, data) {
		return false, nil
	}
	if err := os.WriteFile(path, out, 0o644); err != nil {
		return false, fmt.Errorf("update %s: %w", path, err)
	}
	return true, nil
}

// modulePathFor derives a module path from a project directory name, for
// projects that have no go.mod yet.
func modulePathFor(projectDir string) string {
	abs, err := filepath.Abs(projectDir)
	if err != nil {
		abs = projectDir
	}
	name := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			return r
		case r >= 'A' && r <= 'Z':
			return r + ('a' - 'A')
		}
		return '-'
	}, filepath.Base(abs))
	name = strings.Trim(name, "-.")
	if name == "" {
		return "function"
	}
	return name
}

var (
	// reSDKRequire matches the SDK in a one-line require or inside a
	// require block, with or without the leading keyword.
	reSDKRequire = regexp.MustCompile(`^\s*(?:require\s+)?` + regexp.QuoteMeta(sdk.ModulePath) + `\s+v\S+`)
	// reSDKReplace matches a replace of the SDK (any version) in either form.
	reSDKReplace = regexp.MustCompile(`^(\s*(?:replace\s+)?` + regexp.QuoteMeta(sdk.ModulePath) + `(?:\s+v\S+)?\s*=>\s*)(.*)$`)
	reBlockOpen  = regexp.MustCompile(`^\s*(require|replace|exclude|retract|tool|ignore|godebug)\s*\(\s*(?://.*)?$`)
	reBlockClose = regexp.MustCompile(`^\s*\)\s*(?://.*)?$`)
	reGoLine     = regexp.MustCompile(`^(\s*go\s+)(\S+)\s*$`)
)

// olderGo reports whether Go version a (e.g. "1.21" or "1.22.3") is older
// than b. Versions it cannot read are left alone.
func olderGo(a, b string) bool {
	pa, okA := goVersionParts(a)
	pb, okB := goVersionParts(b)
	if !okA || !okB {
		return false
	}
	return slices.Compare(pa, pb) < 0
}

func goVersionParts(v string) ([]int, bool) {
	// Strip a pre-release suffix such as "rc1": it only orders versions
	// within one release, which does not matter against the SDK's "1.24".
	if i := strings.IndexFunc(v, func(r rune) bool { return r != '.' && (r < '0' || r > '9') }); i >= 0 {
		v = v[:i]
	}
	parts := strings.Split(v, ".")
	if len(parts) < 2 {
		return nil, false
	}
	out := make([]int, 3)
	for i, p := range parts {
		if i >= 3 {
			return nil, false
		}
		n, err := strconv.Atoi(p)
		if err != nil {
			return nil, false
		}
		out[i] = n
	}
	return out, true
}

// patchGoMod adds the SDK require and replace directives to a go.mod if they
// are missing. It is a line editor rather than a full parser: go.mod is
// line-oriented, and keeping untouched lines verbatim is what matters here.
func patchGoMod(data []byte) ([]byte, error) {
	text := string(data)
	lines := strings.Split(text, "\n")
	hasModule, hasGo, hasRequire, hasReplace := false, false, false, false
	moduleLine := 0
	block := ""
	for i, line := range lines {
		code := stripComment(line)
		if block == "" {
			if m := reBlockOpen.FindStringSubmatch(code); m != nil {
				block = m[1]
				continue
			}
			if strings.HasPrefix(strings.TrimSpace(code), "module ") || strings.TrimSpace(code) == "module" {
				hasModule = true
				moduleLine = i
			}
			if m := reGoLine.FindStringSubmatch(code); m != nil {
				hasGo = true
				// The SDK's go.mod says go 1.24; since Go 1.21 the main
				// module must be at least as new as every dependency, or
				// go build stops with "updates to go.mod needed".
				if olderGo(m[2], sdk.GoVersion) {
					lines[i] = m[1] + sdk.GoVersion + trailingComment(line)
				}
			}
		} else if reBlockClose.MatchString(code) {
			block = ""
			continue
		}
		inRequire := block == "" || block == "require"
		inReplace := block == "" || block == "replace"
		if inRequire && reSDKRequire.MatchString(code) && (block != "" || strings.HasPrefix(strings.TrimSpace(code), "require")) {
			hasRequire = true
		}
		if inReplace && (block != "" || strings.HasPrefix(strings.TrimSpace(code), "replace")) {
			if m := reSDKReplace.FindStringSubmatch(code); m != nil {
				hasReplace = true
				if strings.TrimSpace(m[2]) != "./"+SDKDir {
					// Keep the line's own indentation and version, swap the target.
					lines[i] = m[1] + "./" + SDKDir + trailingComment(line)
				}
			}
		}
	}
	if !hasModule {
		return nil, fmt.Errorf("no module directive; add a line like \"module myproject\"")
	}
	if !hasGo {
		// Without a go line the toolchain assumes go 1.16, older than the SDK.
		lines = slices.Insert(lines, moduleLine+1, "", "go "+sdk.GoVersion)
	}
	out := strings.Join(lines, "\n")
	if !hasRequire || !hasReplace {
		if !strings.HasSuffix(out, "\n") {
			out += "\n"
		}
		if !hasRequire {
			out += "\n" + RequireLine + "\n"
		}
		if !hasReplace {
			out += "\n" + ReplaceLine + "\n"
		}
	}
	return []byte(out), nil
}

// stripComment removes a trailing // comment. go.mod has no string literal
// that can contain "//" in the positions we look at, except quoted paths,
// which the SDK lines never use.
func stripComment(line string) string {
	if i := strings.Index(line, "//"); i >= 0 {
		return line[:i]
	}
	return line
}

func trailingComment(line string) string {
	if i := strings.Index(line, "//"); i >= 0 {
		return " " + line[i:]
	}
	return ""
}
