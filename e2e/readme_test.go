package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The README tests run the commands the documentation gives, so a README
// that drifts from the binary fails CI. Each ```sh block of a README is run
// in order, in a copy of the example, against the real binary:
//
//   - the block with a `strata dev` line starts the dev server (on a free
//     port; 127.0.0.1:8080 and localhost:8080 in every later command are
//     replaced by its address) and runs the block's other lines;
//   - `# → text` after a command (on its line or the lines below it) is what
//     the command must print: the text between `…` must appear in its
//     output in order; `(exit N)` at its end is the exit code it must have
//     (0 otherwise, whether or not it has an expectation);
//   - a command that only reads (no POST, no --data, no send...) is retried
//     for up to 30 s until its expectation holds: documentation says
//     "shortly after", tests cannot say when;
//   - `<!-- readme-test: skip REASON -->` on the line before a block keeps
//     it from running; its strata commands are still checked for existing
//     subcommands and flags (`--help` appended, which parses every flag);
//   - `<!-- readme-test: background -->` runs the block's command in the
//     background until the test ends (a stand-in upstream server).
//
// Variables assigned in a block (URL=…) stay set for its later commands, and
// `cd DIR` moves the later commands, as they would in a shell.

// readmeCase is one README and what it needs beyond the commands.
type readmeCase struct {
	name    string // test name
	readme  string // path from the repository root
	example string // example copied and run in ("" for a fresh temp dir)
	// ports are fixed loopback ports the README names, each replaced by a
	// free port in the commands and the copy's strata.yaml.
	ports []string
}

func TestReadmeCommands(t *testing.T) {
	cases := []readmeCase{{name: "root", readme: "README.md"}}
	entries, err := os.ReadDir(filepath.Join(repoRoot(), "examples"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		c := readmeCase{name: e.Name(), readme: filepath.Join("examples", e.Name(), "README.md"), example: e.Name()}
		if e.Name() == "fetch-allowlist" {
			c.ports = []string{"9911", "9912"}
		}
		cases = append(cases, c)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			runReadme(t, c)
		})
	}
}

// A readmeBlock is one fenced sh block of a README.
type readmeBlock struct {
	line      int    // line of the opening fence
	directive string // "skip …", "background" or ""
	cmds      []readmeCmd
}

// A readmeCmd is one shell command of a block with what it must print.
type readmeCmd struct {
	line   int
	text   string   // the command without its comment
	expect []string // fragments its output must contain, in order
	exit   int
}

var (
	directiveRE = regexp.MustCompile(`^<!--\s*readme-test:\s*(.*?)\s*-->$`)
	exitRE      = regexp.MustCompile(`\(exit (\d+)\)\s*$`)
	assignRE    = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*=`)
	cdRE        = regexp.MustCompile(`(?:^|&&\s*|;\s*)cd\s+(\S+)`)
	devRE       = regexp.MustCompile(`^strata dev(\s|$)`)
	// Commands that change something are run once: retrying them would
	// change it again.
	writesRE = regexp.MustCompile(`-X (POST|PUT|DELETE)|(^|\s)(-d|--data|--data-binary)\s|\s(send|publish|start|signal|set|migrate|redrive|rollback|cancel|terminate|restart|new|create|revoke|deploy)(\s|$)`)
)

// parseReadme returns the sh blocks of a README.
func parseReadme(t *testing.T, src string) []readmeBlock {
	t.Helper()
	lines := strings.Split(src, "\n")
	var blocks []readmeBlock
	for i := 0; i < len(lines); i++ {
		if strings.TrimSpace(lines[i]) != "```sh" {
			continue
		}
		b := readmeBlock{line: i + 1}
		for j := i - 1; j >= 0 && strings.TrimSpace(lines[j]) != ""; j-- {
			if m := directiveRE.FindStringSubmatch(strings.TrimSpace(lines[j])); m != nil {
				b.directive = m[1]
				break
			}
		}
		var body []string
		i++
		for ; i < len(lines) && strings.TrimSpace(lines[i]) != "```"; i++ {
			body = append(body, lines[i])
		}
		b.cmds = splitCommands(t, body, b.line+1)
		blocks = append(blocks, b)
	}
	return blocks
}

// splitCommands splits a block's lines into commands: a command goes on
// while a quote is open or its line ends in a backslash. Comments start
// with # outside quotes at the start of a word.
func splitCommands(t *testing.T, lines []string, first int) []readmeCmd {
	var cmds []readmeCmd
	var cur strings.Builder
	start := 0
	var quote byte
	for n, line := range lines {
		comment := ""
		if cur.Len() == 0 {
			start = first + n
		}
		for i := 0; i < len(line); i++ {
			c := line[i]
			switch {
			case quote != 0:
				if c == quote {
					quote = 0
				} else if c == '\\' && quote == '"' {
					i++
				}
			case c == '\'' || c == '"':
				quote = c
			case c == '\\':
				i++
			case c == '#' && (i == 0 || line[i-1] == ' ' || line[i-1] == '\t'):
				comment = strings.TrimSpace(line[i+1:])
				line = line[:i]
			}
		}
		code := strings.TrimRight(line, " \t")
		if quote == 0 && strings.TrimSpace(code) == "" {
			// A comment line: an expectation of the command before it.
			if e, ok := strings.CutPrefix(comment, "→"); ok && len(cmds) > 0 {
				addExpect(&cmds[len(cmds)-1], e)
			}
			continue
		}
		cur.WriteString(code)
		if quote != 0 {
			cur.WriteString("\n")
			continue
		}
		if strings.HasSuffix(code, "\\") {
			cur.WriteString("\n")
			continue
		}
		c := readmeCmd{line: start, text: strings.TrimSpace(cur.String())}
		if e, ok := strings.CutPrefix(comment, "→"); ok {
			addExpect(&c, e)
		}
		cmds = append(cmds, c)
		cur.Reset()
	}
	if cur.Len() > 0 {
		t.Errorf("line %d: unterminated command %q", start, cur.String())
	}
	return cmds
}

func addExpect(c *readmeCmd, e string) {
	e = strings.TrimSpace(e)
	if m := exitRE.FindStringSubmatch(e); m != nil {
		c.exit, _ = strconv.Atoi(m[1])
		e = strings.TrimSpace(e[:len(e)-len(m[0])])
	}
	for _, f := range strings.Split(e, "…") {
		if f = strings.TrimSpace(f); f != "" {
			c.expect = append(c.expect, f)
		}
	}
}

// matches reports whether out holds the fragments in order.
func matches(out string, frags []string) bool {
	for _, f := range frags {
		i := strings.Index(out, f)
		if i < 0 {
			return false
		}
		out = out[i+len(f):]
	}
	return true
}

// readmeShell runs a README's commands one after another.
type readmeShell struct {
	t       *testing.T
	file    string
	dir     string   // working directory of the next command
	assigns []string // variable assignments so far
	subst   []string // old, new pairs applied to every command
	path    string   // PATH with the strata binary first
	dev     *dev
}

func runReadme(t *testing.T, c readmeCase) {
	src, err := os.ReadFile(filepath.Join(repoRoot(), c.readme))
	if err != nil {
		t.Fatal(err)
	}
	sh := &readmeShell{t: t, file: c.readme, dir: t.TempDir(),
		path: filepath.Dir(strataBin) + string(os.PathListSeparator) + os.Getenv("PATH")}
	if c.example != "" {
		sh.dir = copyProject(t, c.example)
		sh.subst = append(sh.subst, "cd examples/"+c.example, "cd "+sh.dir)
	}
	for _, port := range c.ports {
		free := strconv.Itoa(freePort(t))
		sh.subst = append(sh.subst, "127.0.0.1:"+port, "127.0.0.1:"+free, " "+port+" ", " "+free+" ")
		if yml := filepath.Join(sh.dir, "strata.yaml"); c.example != "" {
			if b, err := os.ReadFile(yml); err == nil && strings.Contains(string(b), "127.0.0.1:"+port) {
				editFile(t, yml, "127.0.0.1:"+port, "127.0.0.1:"+free)
			}
		}
	}
	blocks := parseReadme(t, string(src))
	ran := 0
	for _, b := range blocks {
		switch {
		case strings.HasPrefix(b.directive, "skip"):
			if strings.TrimSpace(strings.TrimPrefix(b.directive, "skip")) == "" {
				t.Errorf("%s:%d: a skipped block must say why", c.readme, b.line)
			}
			for _, cmd := range b.cmds {
				sh.checkSyntax(cmd)
			}
		case b.directive == "background":
			for _, cmd := range b.cmds {
				sh.background(cmd)
			}
		case b.directive != "":
			t.Errorf("%s:%d: unknown directive %q", c.readme, b.line, b.directive)
		default:
			for _, cmd := range b.cmds {
				sh.run(cmd)
				ran++
				if t.Failed() {
					return
				}
			}
		}
	}
	if ran == 0 {
		t.Errorf("%s: no command ran (every block skipped?)", c.readme)
	}
}

func (sh *readmeShell) expand(s string) string {
	for i := 0; i+1 < len(sh.subst); i += 2 {
		s = strings.ReplaceAll(s, sh.subst[i], sh.subst[i+1])
	}
	return s
}

func (sh *readmeShell) where(c readmeCmd) string { return fmt.Sprintf("%s:%d", sh.file, c.line) }

// run runs one command and checks its exit code and output.
func (sh *readmeShell) run(c readmeCmd) {
	t := sh.t
	text := sh.expand(c.text)
	if m := cdRE.FindStringSubmatch(text); m != nil && strings.HasPrefix(text, "cd ") && !strings.Contains(text, "&&") {
		sh.cd(m[1])
		return
	}
	if devRE.MatchString(text) {
		sh.startDev(c, text)
		return
	}
	if isAssignment(text) {
		sh.assigns = append(sh.assigns, text)
		return
	}
	var expect []string
	for _, e := range c.expect {
		expect = append(expect, sh.expand(e))
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, code := sh.exec(text)
		if code == c.exit && matches(out, expect) {
			if m := cdRE.FindStringSubmatch(text); m != nil {
				sh.cd(m[1])
			}
			return
		}
		if writesRE.MatchString(text) || time.Now().After(deadline) {
			t.Errorf("%s: %s\nexit %d (want %d), output:\n%s\nwant, in order: %q", sh.where(c), c.text, code, c.exit, out, expect)
			return
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func (sh *readmeShell) cd(dir string) {
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(sh.dir, dir)
	}
	sh.dir = dir
}

// exec runs text with bash in the current directory and returns its
// combined output and exit code. A follow command (-f) runs for 3 s.
func (sh *readmeShell) exec(text string) (string, int) {
	timeout := 2 * time.Minute
	follow := regexp.MustCompile(`\s-f(\s|$)`).MatchString(text) && strings.HasPrefix(text, "strata logs")
	if follow {
		timeout = 3 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	script := strings.Join(append(append([]string{}, sh.assigns...), text), "\n")
	cmd := exec.CommandContext(ctx, "bash", "-c", script)
	cmd.Dir = sh.dir
	cmd.Env = append(os.Environ(), "PATH="+sh.path, "STRATA_SERVER=", "STRATA_TOKEN=", "NO_COLOR=1")
	cmd.Stdin = bytes.NewReader(nil)
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		sh.t.Fatalf("run %q: %v", text, err)
	}
	if follow && ctx.Err() != nil {
		code = 0 // stopped by us, as a user stops it with ^C
	}
	return out.String(), code
}

// startDev starts `strata dev` with the block's flags on a free port.
func (sh *readmeShell) startDev(c readmeCmd, text string) {
	if sh.dev != nil {
		sh.t.Fatalf("%s: a second strata dev", sh.where(c))
	}
	args := strings.Fields(text)[2:] // after "strata dev"
	sh.dev = startDevIn(sh.t, sh.dir, args...)
	host := strings.TrimPrefix(sh.dev.url, "http://")
	sh.subst = append(sh.subst, "127.0.0.1:8080", host, "localhost:8080", host)
}

// background starts a block's command until the test ends and waits until
// the port it names (the README's, after substitution) accepts connections.
func (sh *readmeShell) background(c readmeCmd) {
	t := sh.t
	text := sh.expand(c.text)
	// Its own process group, so the cleanup stops the server and not
	// just the shell that started it.
	cmd := exec.Command("bash", "-c", text)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Dir = sh.dir
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); _ = cmd.Wait() })
	ports := regexp.MustCompile(`\b(\d{4,5})\b`).FindAllString(text, -1)
	for _, p := range ports {
		eventually(t, 30*time.Second, "background command "+text+" to listen on "+p, func() bool {
			conn, err := net.Dial("tcp", "127.0.0.1:"+p)
			if err == nil {
				conn.Close()
			}
			return err == nil
		})
	}
}

// checkSyntax runs each strata command of a skipped block with --help,
// which fails on an unknown subcommand or flag.
func (sh *readmeShell) checkSyntax(c readmeCmd) {
	for _, part := range regexp.MustCompile(`;|&&|\|`).Split(c.text, -1) {
		words := shellWords(strings.TrimSpace(part))
		if len(words) == 0 || words[0] != "strata" {
			continue
		}
		var args []string
		for i := 1; i < len(words); i++ {
			if strings.HasPrefix(words[i], "<") || strings.HasPrefix(words[i], ">") {
				i++ // a redirection and its file
				continue
			}
			args = append(args, words[i])
		}
		out, errOut, code := run(sh.t, sh.dir, nil, append(args, "--help")...)
		if code != 0 {
			sh.t.Errorf("%s: %s: not a valid strata command line (exit %d):\n%s%s", sh.where(c), part, code, out, errOut)
		}
	}
}

// shellWords splits a command into words, honouring quotes.
func shellWords(s string) []string {
	var words []string
	var cur strings.Builder
	in := false
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			} else {
				cur.WriteByte(c)
			}
		case c == '\'' || c == '"':
			quote, in = c, true
		case c == ' ' || c == '\t' || c == '\n':
			if in {
				words = append(words, cur.String())
				cur.Reset()
				in = false
			}
		case c == '\\' && i+1 < len(s):
			i++
			if s[i] != '\n' {
				cur.WriteByte(s[i])
				in = true
			}
		default:
			cur.WriteByte(c)
			in = true
		}
	}
	if in {
		words = append(words, cur.String())
	}
	return words
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// isAssignment reports whether a command only sets a variable (URL=…,
// BODY='…', SIG=$(…)); it is kept and run before every later command.
func isAssignment(text string) bool {
	loc := assignRE.FindStringIndex(text)
	if loc == nil {
		return false
	}
	v := text[loc[1]:]
	switch {
	case strings.HasPrefix(v, "$("):
		return strings.HasSuffix(v, ")")
	case strings.HasPrefix(v, "'") || strings.HasPrefix(v, `"`):
		return len(shellWords(v)) == 1
	}
	return !strings.ContainsAny(v, " \t;&|")
}
