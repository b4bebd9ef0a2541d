package client_test

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const module = "github.com/stratahq/strata/"

// TestImports keeps the client a client: it speaks HTTP and JSON through
// the wire types of package apitype and imports nothing else of Strata, so
// the server's packages (store, engines, deploy planning) never reach the
// CLI's side of the API. apitype in turn holds types only: besides the
// records returned as-is and the guest ABI's SQL values, it imports
// nothing of Strata.
func TestImports(t *testing.T) {
	for dir, allowed := range map[string][]string{
		".":          {"internal/apitype"},
		"../apitype": {"internal/record", "sdk/go/wire"},
	} {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		require.NoError(t, err)
		require.NotEmpty(t, files)
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue // tests may serve the real API
			}
			ast, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
			require.NoError(t, err)
			for _, imp := range ast.Imports {
				path, _ := strconv.Unquote(imp.Path.Value)
				rest, ok := strings.CutPrefix(path, module)
				if !ok {
					continue
				}
				require.Contains(t, allowed, rest, "%s imports %s; %s may import only %v of Strata", f, path, dir, allowed)
			}
		}
	}
}
