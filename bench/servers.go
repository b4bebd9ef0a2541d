package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"
)

// server is one HTTP target process the harness started and must stop.
type server struct {
	name string
	cmd  *exec.Cmd
	log  *os.File      // the process's stdout and stderr
	done chan struct{} // closed when the process has exited
	err  error         // exit status, valid after done
}

// startServer starts a process in its own process group, so that stopping
// it also stops anything it spawned (strata dev runs go build), and records
// its output in logPath for error messages.
func startServer(name, dir, logPath string, argv ...string) (*server, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Setpgid: true,
		// If the harness dies without stopping it (killed, or SIGPIPE from
		// a closed stdout), the server must not outlive it.
		Pdeathsig: syscall.SIGKILL,
	}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s (%s): %w", name, strings.Join(argv, " "), err)
	}
	s := &server{name: name, cmd: cmd, log: logf, done: make(chan struct{})}
	go func() {
		s.err = cmd.Wait()
		close(s.done)
	}()
	return s, nil
}

// stop asks the process group to terminate and kills it if it has not
// exited within a few seconds. It only signals the group of the process this
// harness started.
func (s *server) stop() {
	if s == nil {
		return
	}
	pgid := s.cmd.Process.Pid
	select {
	case <-s.done:
	default:
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case <-s.done:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			<-s.done
		}
	}
	s.log.Close()
}

// logTail returns the end of the process's output, for error messages.
func (s *server) logTail() string {
	b, err := os.ReadFile(s.log.Name())
	if err != nil {
		return ""
	}
	const keep = 2000
	if len(b) > keep {
		b = b[len(b)-keep:]
	}
	return strings.TrimSpace(string(b))
}

// waitReady polls url every 50 ms until it answers 200, the process
// exits, its output contains failMark (when not empty) or timeout passes.
func (s *server) waitReady(ctx context.Context, url string, timeout time.Duration, failMark string) error {
	return s.poll(ctx, url, timeout, 50*time.Millisecond, failMark, func(resp *http.Response, _ []byte) bool {
		return resp.StatusCode == http.StatusOK
	})
}

// poll GETs url every interval until ok holds for an answer, the process
// exits, its output contains failMark (when not empty) or timeout passes.
func (s *server) poll(ctx context.Context, url string, timeout, interval time.Duration, failMark string, ok func(*http.Response, []byte) bool) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Second}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	var last string
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if ok(resp, body) {
				return nil
			}
			last = fmt.Sprintf("%s %q", resp.Status, firstLine(string(body)))
		} else {
			last = err.Error()
		}
		if failMark != "" && strings.Contains(s.logTail(), failMark) {
			return fmt.Errorf("%s reported %q before %s answered as wanted:\n%s", s.name, failMark, url, s.logTail())
		}
		select {
		case <-s.done:
			return fmt.Errorf("%s exited before it was ready (%v):\n%s", s.name, s.err, s.logTail())
		case <-ctx.Done():
			return fmt.Errorf("%s: GET %s not as wanted after %v (last: %s):\n%s", s.name, url, timeout, last, s.logTail())
		case <-tick.C:
		}
	}
}

// checkHello makes one request and insists on the hello answer, so a target
// that answers fast but wrongly is caught before it is measured.
func checkHello(ctx context.Context, url, want string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return fmt.Errorf("check GET %s: %w", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("check GET %s: read body: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK || !bytes.Equal(bytes.TrimSpace(body), []byte(want)) {
		return fmt.Errorf("check GET %s: got %s %q, want 200 %q", url, resp.Status, body, want)
	}
	return nil
}

// freeAddr returns a loopback address with a port nobody listens on now.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// goBuild builds a main package of the repository into out.
func goBuild(ctx context.Context, log *slog.Logger, repo, pkg, out string) error {
	log.Info("go build", "package", pkg)
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, pkg)
	cmd.Dir = repo
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %w\n%s", pkg, err, b)
	}
	return nil
}

// copyTree copies a project directory, leaving out the .strata state
// directory, so the harness never writes into the repository.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			if d.Name() == ".strata" || d.Name() == "node_modules" {
				return filepath.SkipDir
			}
			return os.MkdirAll(target, 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
}

var moduleLine = regexp.MustCompile(`(?m)^module\s+github\.com/stratahq/strata\s*$`)

// findRepo walks up from dir to the root of the strata module.
func findRepo(dir string) (string, error) {
	for d := dir; ; {
		b, err := os.ReadFile(filepath.Join(d, "go.mod"))
		if err == nil && moduleLine.Match(b) {
			return d, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", errors.New("not inside the strata repository (no go.mod for github.com/stratahq/strata above " + dir + "); pass -repo")
		}
		d = parent
	}
}
