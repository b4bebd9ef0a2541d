package manifest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// wasmModule is the smallest file that passes the wasm magic check.
var wasmModule = []byte("\x00asm\x01\x00\x00\x00")

// TestWasmOutsideProjectIsRefused: wasm: may not name a file outside the
// project directory, by a relative path, an absolute path or a symbolic
// link inside the project that points out of it (issue 9).
func TestWasmOutsideProjectIsRefused(t *testing.T) {
	root := t.TempDir()
	proj := filepath.Join(root, "proj")
	require.NoError(t, os.MkdirAll(filepath.Join(proj, "mods"), 0o755))
	outside := filepath.Join(root, "elsewhere.wasm")
	require.NoError(t, os.WriteFile(outside, wasmModule, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(proj, "mods", "ok.wasm"), wasmModule, 0o644))
	require.NoError(t, os.Symlink(outside, filepath.Join(proj, "mods", "link.wasm")))
	require.NoError(t, os.Symlink(filepath.Join(proj, "mods", "ok.wasm"), filepath.Join(proj, "inner.wasm")))

	for _, tc := range []struct{ wasm, want string }{
		{"../elsewhere.wasm", "is outside the project directory"},
		{outside, "is outside the project directory"},
		{"mods/link.wasm", "leads outside the project directory (through a symbolic link)"},
		{"mods/../../elsewhere.wasm", "is outside the project directory"},
	} {
		t.Run(tc.wasm, func(t *testing.T) {
			yml := "project: p\nfunctions:\n  f:\n    wasm: " + tc.wasm + "\n"
			_, err := Parse(filepath.Join(proj, FileName), []byte(yml))
			require.Error(t, err)
			require.Contains(t, err.Error(), ":4:11: functions.f.wasm: ")
			require.Contains(t, err.Error(), tc.want)
		})
	}
	// Inside the project, directly or through a link that stays inside.
	for _, wasm := range []string{"mods/ok.wasm", "inner.wasm", filepath.Join(proj, "mods", "ok.wasm")} {
		yml := "project: p\nfunctions:\n  f:\n    wasm: " + wasm + "\n"
		_, err := Parse(filepath.Join(proj, FileName), []byte(yml))
		require.NoError(t, err, wasm)
	}
}

// deepYAML returns a manifest nesting levels deep, in flow or block style.
func deepYAML(levels int, flow bool) []byte {
	if flow {
		return []byte("project: p\nfunctions: " + strings.Repeat("[", levels) + strings.Repeat("]", levels) + "\n")
	}
	var b strings.Builder
	b.WriteString("project: p\nfunctions:\n")
	for i := range levels {
		b.WriteString(strings.Repeat(" ", i+1) + "k:\n")
	}
	return []byte(b.String())
}

// TestDeepNestingIsRefused: a 50,000-level nested manifest (which took the
// YAML parser 18 s to reject) is refused by the pre-scan with a position,
// in every nesting style.
func TestDeepNestingIsRefused(t *testing.T) {
	for name, data := range map[string][]byte{
		"flow":        deepYAML(50_000, true),
		"block":       deepYAML(1_000, false), // 50,000 indented levels would be 1.25 GB
		"sequences":   []byte("project: p\nfunctions:\n" + strings.Repeat("- ", 50_000) + "x\n"),
		"flow-braces": []byte("project: p\nfunctions: " + strings.Repeat("{a: ", 50_000) + "1" + strings.Repeat("}", 50_000) + "\n"),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Parse("strata.yaml", data)
			require.Error(t, err)
			var errs Errors
			require.ErrorAs(t, err, &errs)
			require.Len(t, errs, 1)
			require.Contains(t, errs[0].Msg, "nests deeper than 64 levels")
			require.Positive(t, errs[0].Line)
		})
	}
}

// TestNestingWithinLimitParses: the pre-scan lets ordinary YAML through:
// brackets in quotes and comments, flow lists, block nesting under the
// limit; such input is judged by the parser as before.
func TestNestingWithinLimitParses(t *testing.T) {
	for _, data := range [][]byte{
		[]byte("project: p # [[[[ not nesting\nfunctions:\n  f:\n    env: {A: \"[[[[[[\", B: '{{{{''{{'}\n"),
		deepYAML(MaxNesting-3, true),
		deepYAML(MaxNesting-3, false),
	} {
		pos, err := checkNesting(data)
		require.NoError(t, err, "%s at %v", data, pos)
	}
	pos, err := checkNesting(deepYAML(MaxNesting+1, false))
	require.Error(t, err)
	require.Equal(t, MaxNesting+2, pos.Line, "the line where the limit is crossed")
}

func BenchmarkRejectDeepNesting(b *testing.B) {
	data := deepYAML(50_000, true)
	for b.Loop() {
		if _, err := Parse("strata.yaml", data); err == nil {
			b.Fatal("accepted")
		}
	}
}

// TestSourceOutsideProjectIsRefused: source: follows the same rule.
func TestSourceOutsideProjectIsRefused(t *testing.T) {
	root := t.TempDir()
	proj := filepath.Join(root, "proj")
	require.NoError(t, os.MkdirAll(proj, 0o755))
	require.NoError(t, os.MkdirAll(filepath.Join(root, "other"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(root, "other", "main.go"), []byte("package main\n"), 0o644))
	_, err := Parse(filepath.Join(proj, FileName), []byte("project: p\nfunctions:\n  f:\n    source: ../other\n"))
	require.ErrorContains(t, err, `functions.f.source: "../other" is outside the project directory`)
}
