package cli

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/stratahq/strata/internal/apitype"
	"github.com/stratahq/strata/internal/build"
	"github.com/stratahq/strata/internal/client"
	"github.com/stratahq/strata/internal/manifest"
)

// builtProject is a project whose functions are built and ready to deploy.
type builtProject struct {
	manifest *manifest.Manifest
	spec     apitype.Spec
	modules  map[string][]byte // sha256 → module bytes
}

// loadManifest finds and parses strata.yaml: the given path, or the
// project containing the working directory.
func loadManifest(path string) (*manifest.Manifest, error) {
	if path == "" {
		dir, err := findProjectDir()
		if err != nil {
			return nil, usagef("%v: run this inside a Strata project or pass --file", err)
		}
		path = filepath.Join(dir, "strata.yaml")
	}
	m, err := manifest.Load(path)
	if err != nil {
		return nil, exitError{code: ExitFailure, err: err}
	}
	return m, nil
}

// buildProject builds every Go function of m to Wasm (prebuilt modules are
// read as they are) and assembles the deploy spec. Progress goes to w.
func buildProject(ctx context.Context, m *manifest.Manifest, w io.Writer) (*builtProject, error) {
	bp := &builtProject{manifest: m, modules: map[string][]byte{}}
	digests := map[string]string{}
	for _, f := range m.Functions {
		var wasm []byte
		if f.Source != "" {
			rel, err := filepath.Rel(m.Dir, f.Source)
			if err != nil {
				return nil, err
			}
			res, err := build.Go(ctx, build.Params{
				ProjectDir: m.Dir,
				Package:    "./" + filepath.ToSlash(rel),
				Out:        filepath.Join(m.Dir, ".strata", "build", f.Name+".wasm"),
				Name:       f.Name,
				Progress:   w,
			})
			if err != nil {
				return nil, err
			}
			if wasm, err = os.ReadFile(res.Path); err != nil {
				return nil, err
			}
		} else {
			var err error
			if wasm, err = os.ReadFile(f.Wasm); err != nil {
				return nil, fmt.Errorf("function %s: read module: %w", f.Name, err)
			}
		}
		sum := sha256.Sum256(wasm)
		sha := hex.EncodeToString(sum[:])
		bp.modules[sha] = wasm
		digests[f.Name] = sha
	}
	spec, err := m.Spec(digests)
	if err != nil {
		return nil, err
	}
	bp.spec = spec
	return bp, nil
}

// deployProject uploads modules the server lacks and deploys the spec.
func deployProject(ctx context.Context, c *client.Client, bp *builtProject, plan bool, w io.Writer) (*deployResult, error) {
	if !plan {
		for _, f := range bp.spec.Functions {
			sent, err := c.UploadBlob(ctx, f.ModuleSHA256, bp.modules[f.ModuleSHA256])
			if err != nil {
				return nil, fmt.Errorf("upload module of %s: %w", f.Name, err)
			}
			if sent {
				fmt.Fprintf(w, "uploaded %s (%s)\n", f.Name, sizeString(len(bp.modules[f.ModuleSHA256])))
			}
		}
	}
	if !plan {
		// The server compiles new modules before it answers; for a large Go
		// guest on a cold cache that takes seconds, so say so.
		fmt.Fprintf(w, "deploying %s (the server compiles changed modules first)…\n", bp.spec.Project)
	}
	res, err := c.Deploy(ctx, bp.spec, plan)
	if err != nil {
		return nil, err
	}
	return &deployResult{res.PlanText, res.Applied, len(res.Versions)}, nil
}

type deployResult struct {
	planText string
	applied  bool
	versions int
}

func sizeString(n int) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KB", float64(n)/(1<<10))
	default:
		return fmt.Sprintf("%d B", n)
	}
}
