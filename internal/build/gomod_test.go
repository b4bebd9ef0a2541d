package build

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPatchGoMod(t *testing.T) {
	const req, rep = RequireLine + "\n", ReplaceLine + "\n"
	tests := []struct {
		name, in, want string
	}{
		{
			name: "bare",
			in:   "module a\n\ngo 1.24\n",
			want: "module a\n\ngo 1.24\n\n" + req + "\n" + rep,
		},
		{
			name: "toolchain and godebug lines untouched",
			in:   "module a\n\ngo 1.24.0\n\ntoolchain go1.26.8\n\ngodebug (\n\tdefault=go1.21\n)\n",
			want: "module a\n\ngo 1.24.0\n\ntoolchain go1.26.8\n\ngodebug (\n\tdefault=go1.21\n)\n\n" + req + "\n" + rep,
		},
		{
			name: "bare again",
			in:   "module a\n\ngo 1.24\n",
			want: "module a\n\ngo 1.24\n\n" + req + "\n" + rep,
		},
		{
			name: "no trailing newline",
			in:   "module a",
			want: "module a\n\ngo 1.24\n\n" + req + "\n" + rep,
		},
		{
			name: "old go line raised, comment kept",
			in:   "module a\n\ngo 1.21 // old\n" + req + rep,
			want: "module a\n\ngo 1.24 // old\n" + req + rep,
		},
		{
			name: "newer go line kept",
			in:   "module a\n\ngo 1.25.3\n" + req + rep,
			want: "module a\n\ngo 1.25.3\n" + req + rep,
		},
		{
			name: "missing go line added after module",
			in:   "module a\n" + req + rep,
			want: "module a\n\ngo 1.24\n" + req + rep,
		},
		{
			name: "already wired",
			in:   "module a\n\ngo 1.24\n\n" + req + "\n" + rep,
			want: "module a\n\ngo 1.24\n\n" + req + "\n" + rep,
		},
		{
			name: "require in a block with other modules",
			in:   "module a\ngo 1.24\n\nrequire (\n\texample.com/x v1.2.3\n\tgithub.com/stratahq/strata/sdk/go v0.1.0 // pinned\n)\n",
			want: "module a\ngo 1.24\n\nrequire (\n\texample.com/x v1.2.3\n\tgithub.com/stratahq/strata/sdk/go v0.1.0 // pinned\n)\n\n" + rep,
		},
		{
			name: "replace pointing elsewhere is redirected, comment kept",
			in:   "module a\ngo 1.24\n" + req + "replace (\n\texample.com/x => ../x\n\tgithub.com/stratahq/strata/sdk/go => ../strata/sdk/go // dev\n)\n",
			want: "module a\ngo 1.24\n" + req + "replace (\n\texample.com/x => ../x\n\tgithub.com/stratahq/strata/sdk/go => ./.strata/sdk // dev\n)\n",
		},
		{
			name: "commented-out lines do not count",
			in:   "module a\ngo 1.24\n// " + RequireLine + "\n// " + ReplaceLine + "\n",
			want: "module a\ngo 1.24\n// " + RequireLine + "\n// " + ReplaceLine + "\n\n" + req + "\n" + rep,
		},
		{
			name: "sdk mentioned in exclude block only",
			in:   "module a\ngo 1.24\nexclude (\n\tgithub.com/stratahq/strata/sdk/go v0.0.1\n)\n",
			want: "module a\ngo 1.24\nexclude (\n\tgithub.com/stratahq/strata/sdk/go v0.0.1\n)\n\n" + req + "\n" + rep,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := patchGoMod([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tt.want)
			}
			// Patching is idempotent.
			again, err := patchGoMod(got)
			if err != nil {
				t.Fatal(err)
			}
			if string(again) != string(got) {
				t.Errorf("second patch changed the file:\n%s", again)
			}
		})
	}
}

func TestPatchGoModNoModule(t *testing.T) {
	_, err := patchGoMod([]byte("go 1.24\n"))
	if err == nil || !strings.Contains(err.Error(), "no module directive") {
		t.Fatalf("err = %v", err)
	}
}

func TestEnsureGoModCreates(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "My Project")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	changed, err := EnsureGoMod(dir)
	if err != nil || !changed {
		t.Fatalf("changed=%v err=%v", changed, err)
	}
	got, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != GoMod("my-project") {
		t.Errorf("go.mod:\n%s", got)
	}
	changed, err = EnsureGoMod(dir)
	if err != nil || changed {
		t.Fatalf("second call: changed=%v err=%v", changed, err)
	}
}
