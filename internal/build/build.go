package build

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/stratahq/strata/sdk"
)

// Params says what to build.
type Params struct {
	// ProjectDir is the directory holding strata.yaml and go.mod.
	ProjectDir string
	// Package is the function's main package directory relative to
	// ProjectDir, e.g. "./hello".
	Package string
	// Out is the path of the .wasm file to write. Relative paths are taken
	// relative to ProjectDir.
	Out string
	// Name labels progress lines and errors; it defaults to the package
	// directory's base name. Callers pass the function name.
	Name string
	// Progress, if set, receives one line when the build starts and one when
	// it ends.
	Progress io.Writer
	// GoBin is the go command to run; default "go" from PATH.
	GoBin string
}

// Result describes a built module.
type Result struct {
	Path     string        // absolute path of the .wasm file
	Size     int64         // bytes
	SHA256   string        // lowercase hex digest of the module bytes
	Duration time.Duration // wall time of the whole build
}

// CompileError is returned when the Go toolchain rejects the function's code.
// Output holds the compiler's diagnostics (file:line:col: message), with
// paths relative to the project directory.
type CompileError struct {
	Name    string
	Package string
	Output  string
	Err     error // the toolchain's exit error
}

func (e *CompileError) Error() string {
	return fmt.Sprintf("build %s (%s): %v\n%s", e.Name, e.Package, e.Err, strings.TrimRight(e.Output, "\n"))
}

func (e *CompileError) Unwrap() error { return e.Err }

// prepMu serialises SDK materialisation and go.mod edits: several functions
// of one project are often built in parallel and share both.
var prepMu sync.Mutex

// Go compiles one Go function to a WASI reactor module.
func Go(ctx context.Context, p Params) (*Result, error) {
	start := time.Now()
	if p.ProjectDir == "" {
		return nil, errors.New("build: ProjectDir is required")
	}
	if p.Package == "" {
		return nil, errors.New("build: Package is required")
	}
	if p.Out == "" {
		return nil, errors.New("build: Out is required")
	}
	projectDir, err := filepath.Abs(p.ProjectDir)
	if err != nil {
		return nil, fmt.Errorf("build: project dir %s: %w", p.ProjectDir, err)
	}
	pkg, err := packageArg(projectDir, p.Package)
	if err != nil {
		return nil, err
	}
	name := p.Name
	if name == "" {
		name = filepath.Base(filepath.Clean(p.Package))
	}
	out := p.Out
	if !filepath.IsAbs(out) {
		out = filepath.Join(projectDir, out)
	}
	goBin := p.GoBin
	if goBin == "" {
		goBin = "go"
	}
	progress := p.Progress
	if progress == nil {
		progress = io.Discard
	}

	fmt.Fprintf(progress, "building %s (%s) …\n", name, p.Package)
	if err := Prepare(projectDir); err != nil {
		return nil, fmt.Errorf("build %s: %w", name, err)
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return nil, fmt.Errorf("build %s: %w", name, err)
	}

	// Build next to the destination and rename, so a reader (the dev server
	// watching Out) never sees a half-written module and a failed build
	// leaves the previous one in place.
	tmp, err := os.CreateTemp(filepath.Dir(out), "."+filepath.Base(out)+".*.tmp")
	if err != nil {
		return nil, fmt.Errorf("build %s: %w", name, err)
	}
	tmpPath := tmp.Name()
	tmp.Close()
	// go build refuses to overwrite a file it did not write; the name was
	// only reserved.
	os.Remove(tmpPath)
	defer os.Remove(tmpPath) // no-op after the rename

	cmd := exec.CommandContext(ctx, goBin, "build", "-buildmode=c-shared", "-o", tmpPath, pkg)
	cmd.Dir = projectDir
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	var output bytes.Buffer
	cmd.Stdout = &output
	cmd.Stderr = &output
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("build %s (%s): %w", name, p.Package, context.Cause(ctx))
		}
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			return nil, &CompileError{Name: name, Package: p.Package, Output: output.String(), Err: err}
		}
		if errors.Is(err, exec.ErrNotFound) {
			return nil, fmt.Errorf("build %s (%s): %w; building Go functions needs Go %s or newer (https://go.dev/dl/)", name, p.Package, err, sdk.GoVersion)
		}
		return nil, fmt.Errorf("build %s (%s): run %s: %w", name, p.Package, goBin, err)
	}

	data, err := os.ReadFile(tmpPath)
	if err != nil {
		return nil, fmt.Errorf("build %s: %w", name, err)
	}
	if !bytes.HasPrefix(data, []byte("\x00asm")) {
		return nil, fmt.Errorf("build %s (%s): toolchain output is not a wasm module", name, p.Package)
	}
	if err := os.Rename(tmpPath, out); err != nil {
		return nil, fmt.Errorf("build %s: %w", name, err)
	}
	sum := sha256.Sum256(data)
	res := &Result{
		Path:     out,
		Size:     int64(len(data)),
		SHA256:   hex.EncodeToString(sum[:]),
		Duration: time.Since(start),
	}
	fmt.Fprintf(progress, "built %s: %s in %s\n", name, formatSize(res.Size), formatDuration(res.Duration))
	return res, nil
}

// Prepare writes the embedded SDK to <projectDir>/.strata/sdk and wires the
// project's go.mod to it. Go calls it; it is exported for tools (editors,
// `go vet`) that want the project buildable without building it.
func Prepare(projectDir string) error {
	prepMu.Lock()
	defer prepMu.Unlock()
	if err := sdk.WriteModule(filepath.Join(projectDir, filepath.FromSlash(SDKDir))); err != nil {
		return err
	}
	if _, err := EnsureGoMod(projectDir); err != nil {
		return err
	}
	return nil
}

// packageArg turns the manifest's source directory into an argument go build
// reads as a directory rather than an import path.
func packageArg(projectDir, pkg string) (string, error) {
	if filepath.IsAbs(pkg) {
		rel, err := filepath.Rel(projectDir, pkg)
		if err != nil {
			return "", fmt.Errorf("build: package %s: %w", pkg, err)
		}
		pkg = rel
	}
	pkg = filepath.ToSlash(filepath.Clean(pkg))
	if pkg == ".." || strings.HasPrefix(pkg, "../") {
		return "", fmt.Errorf("build: package %s is outside the project directory %s", pkg, projectDir)
	}
	st, err := os.Stat(filepath.Join(projectDir, filepath.FromSlash(pkg)))
	if err != nil {
		return "", fmt.Errorf("build: package %s: %w", pkg, err)
	}
	if !st.IsDir() {
		return "", fmt.Errorf("build: package %s is not a directory", pkg)
	}
	if pkg == "." {
		return ".", nil
	}
	return "./" + pkg, nil
}

func formatSize(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

func formatDuration(d time.Duration) string {
	if d < time.Second {
		return d.Round(time.Millisecond).String()
	}
	return fmt.Sprintf("%.1fs", d.Seconds())
}
