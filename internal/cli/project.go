package cli

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/stratahq/strata/internal/apitype"
	"github.com/stratahq/strata/internal/build"
	"github.com/stratahq/strata/internal/client"
	"github.com/stratahq/strata/internal/manifest"
	"github.com/stratahq/strata/internal/process"
	"github.com/stratahq/strata/internal/record"
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
// read as they are), several at once, and assembles the deploy spec. One
// progress line per function goes to w as it finishes.
func buildProject(ctx context.Context, m *manifest.Manifest, w io.Writer) (*builtProject, error) {
	bp := &builtProject{manifest: m, modules: map[string][]byte{}}
	wasms := make([][]byte, len(m.Functions))
	errs := make([]error, len(m.Functions))
	var mu sync.Mutex // one progress line at a time
	width := nameWidth(m)
	// go build runs its own compiles in parallel; a few builds at once
	// overlap their link steps and the toolchain's start-up.
	slots := make(chan struct{}, max(runtime.GOMAXPROCS(0), 2))
	var wg sync.WaitGroup
	for i, f := range m.Functions {
		wg.Go(func() {
			slots <- struct{}{}
			defer func() { <-slots }()
			start := time.Now()
			wasms[i], errs[i] = readOrBuild(ctx, m, f)
			if errs[i] == nil && f.Source != "" {
				mu.Lock()
				fmt.Fprintf(w, "  build  %-*s  %8s  %s\n", width, f.Name, sizeString(len(wasms[i])), shortDuration(time.Since(start)))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	digests := map[string]string{}
	for i, f := range m.Functions {
		sum := sha256.Sum256(wasms[i])
		sha := hex.EncodeToString(sum[:])
		bp.modules[sha] = wasms[i]
		digests[f.Name] = sha
	}
	spec, err := m.Spec(digests)
	if err != nil {
		return nil, err
	}
	bp.spec = spec
	return bp, nil
}

// readOrBuild returns f's module: built from its Go source, or read from
// its prebuilt file.
func readOrBuild(ctx context.Context, m *manifest.Manifest, f manifest.Function) ([]byte, error) {
	if f.Source == "" {
		wasm, err := os.ReadFile(f.Wasm)
		if err != nil {
			return nil, fmt.Errorf("function %s: read module: %w", f.Name, err)
		}
		return wasm, nil
	}
	if f.Kind == record.KindProcess {
		// A process function's code is its directory as it is: packed,
		// not built.
		return process.Pack(f.Source)
	}
	rel, err := filepath.Rel(m.Dir, f.Source)
	if err != nil {
		return nil, err
	}
	res, err := build.Go(ctx, build.Params{
		ProjectDir: m.Dir,
		Package:    "./" + filepath.ToSlash(rel),
		Out:        filepath.Join(m.Dir, ".strata", "build", f.Name+".wasm"),
		Name:       f.Name,
	})
	if err != nil {
		return nil, err
	}
	return os.ReadFile(res.Path)
}

// nameWidth is the longest function name, to align progress lines.
func nameWidth(m *manifest.Manifest) int {
	n := 0
	for _, f := range m.Functions {
		n = max(n, len(f.Name))
	}
	return n
}

// shortDuration prints d as progress lines do: "30ms", "1.2s".
func shortDuration(d time.Duration) string {
	if d < time.Second {
		return d.Round(time.Millisecond).String()
	}
	return fmt.Sprintf("%.1fs", d.Seconds())
}

// deployProject uploads modules the server lacks and deploys the spec.
// The server compiles and initialises every new version before any of
// them becomes active; one line per new version then says what that took.
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
		fmt.Fprintf(w, "deploying %s (the server compiles and initialises changed functions first)…\n", bp.spec.Project)
	}
	start := time.Now()
	res, err := c.Deploy(ctx, bp.spec, plan)
	if err != nil {
		return nil, err
	}
	width := nameWidth(bp.manifest)
	for _, p := range res.Prepared {
		fmt.Fprintf(w, "  deploy %-*s  v%-3d %s\n", width, p.Function, p.Version, preparedText(p))
	}
	if len(res.Prepared) > 0 {
		fmt.Fprintf(w, "  live in %s\n", shortDuration(time.Since(start)))
	}
	if res.Applied && len(res.Versions) > 0 {
		waitNodes(ctx, c, res.Versions, w, nodesWait)
	}
	return &deployResult{res.PlanText, res.Applied, len(res.Versions)}, nil
}

// nodesWait bounds how long a deploy waits for the other nodes.
const nodesWait = 30 * time.Second

// waitNodes reports when every serving node of a cluster serves the
// versions a deploy made active (each node picks a deploy up and compiles
// it on its own). A single node, or a token that may not list the nodes
// (project tokens), reports nothing: the deploy itself succeeded.
func waitNodes(ctx context.Context, c *client.Client, versions []record.Version, w io.Writer, limit time.Duration) {
	ns, err := c.Nodes(ctx)
	if err != nil {
		return
	}
	pending := map[string]string{} // node id → its base URL
	scheme, _, _ := strings.Cut(c.Base, "://")
	for _, n := range ns.Nodes {
		if n.State == record.NodeServing && n.Addr != "" {
			pending[n.ID] = scheme + "://" + n.Addr
		}
	}
	total := len(pending)
	if total < 2 {
		return
	}
	start := time.Now()
	for len(pending) > 0 && time.Since(start) < limit && ctx.Err() == nil {
		for id, base := range pending {
			at := &client.Client{Base: base, Token: c.Token, HTTP: c.HTTP}
			got, err := at.Node(ctx)
			if err == nil && servesAll(got, versions) {
				delete(pending, id)
			}
		}
		if len(pending) > 0 {
			time.Sleep(50 * time.Millisecond)
		}
	}
	if len(pending) == 0 {
		fmt.Fprintf(w, "  serving on all %d nodes after %s\n", total, shortDuration(time.Since(start)))
		return
	}
	ids := make([]string, 0, len(pending))
	for id := range pending {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	fmt.Fprintf(w, "  not yet serving the new versions after %s on %d of %d nodes: %s (they pick it up at their next sync)\n",
		shortDuration(time.Since(start)), len(ids), total, strings.Join(ids, ", "))
}

// servesAll reports whether a node serves each version (or a newer one).
func servesAll(n *apitype.NodeServing, versions []record.Version) bool {
	for _, v := range versions {
		if n.Versions[v.Function] < v.Number {
			return false
		}
	}
	return true
}

// preparedText says what preparing a version took.
func preparedText(p apitype.PreparedVersion) string {
	ms := func(n int64) string { return shortDuration(time.Duration(n) * time.Millisecond) }
	if p.Reused {
		return "already compiled"
	}
	compiled := "compiled " + ms(p.CompileMS)
	if p.CompileMS == 0 {
		compiled = "compiled (cached)"
	}
	init := "initialised " + ms(p.InitMS)
	if p.Snapshot {
		init += " (snapshot)"
	}
	if p.Kind == "command" {
		init = "instantiated " + ms(p.InitMS)
	}
	return compiled + ", " + init
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
