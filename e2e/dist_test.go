package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestDistRecipes checks the deployment recipes of dist/ against the
// binary (issue 16, scope 7): every flag the systemd unit passes exists,
// and the Dockerfile's build command gives a static binary that runs on a
// base image with no C library.
func TestDistRecipes(t *testing.T) {
	t.Parallel()
	root := repoRoot()
	help, errOut, code := run(t, root, nil, "server", "--help")
	if code != 0 {
		t.Fatalf("strata server --help: exit %d: %s", code, errOut)
	}
	unit, err := os.ReadFile(filepath.Join(root, "dist", "strata.service"))
	if err != nil {
		t.Fatal(err)
	}
	exec1 := regexp.MustCompile(`(?m)^ExecStart=(\S+) server (.*)$`).FindSubmatch(unit)
	if exec1 == nil {
		t.Fatal("dist/strata.service has no ExecStart=... server ... line")
	}
	flags := regexp.MustCompile(`--[a-z-]+`).FindAllString(string(exec1[2]), -1)
	if len(flags) < 5 {
		t.Fatalf("ExecStart passes only %v", flags)
	}
	for _, f := range flags {
		if !regexp.MustCompile(`(^|\s)` + regexp.QuoteMeta(f) + `\b`).MatchString(help) {
			t.Errorf("dist/strata.service passes %s, which strata server does not have", f)
		}
	}

	docker, err := os.ReadFile(filepath.Join(root, "dist", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	build := regexp.MustCompile(`(?m)^RUN (CGO_ENABLED=0 go build .*) -o /out/strata (\S+)$`).FindSubmatch(docker)
	if build == nil {
		t.Fatal("dist/Dockerfile has no `RUN CGO_ENABLED=0 go build ... -o /out/strata PKG` line")
	}
	out := filepath.Join(t.TempDir(), "strata")
	args := append(strings.Fields(strings.TrimPrefix(string(build[1]), "CGO_ENABLED=0 ")), "-o", out, string(build[2]))
	// The -ldflags value is quoted in the Dockerfile: unquote it.
	for i, a := range args {
		args[i] = strings.Trim(a, `"`)
	}
	for i := 0; i < len(args)-1; i++ {
		if args[i] == "-ldflags" && args[i+1] == "-s" {
			args = append(args[:i+1], append([]string{"-s -w"}, args[i+3:]...)...)
			break
		}
	}
	cmd := exec.Command("go", args[1:]...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go %v: %v\n%s", args[1:], err, b)
	}
	info, err := exec.Command("file", out).CombinedOutput()
	if err != nil {
		t.Fatalf("file: %v %s", err, info)
	}
	if !strings.Contains(string(info), "statically linked") {
		t.Fatalf("the Dockerfile's build is not static (distroless/static has no C library): %s", info)
	}
	if b, err := exec.Command(out, "server", "--help").CombinedOutput(); err != nil || !strings.Contains(string(b), "--store") {
		t.Fatalf("the static binary does not run: %v\n%s", err, b)
	}
}
