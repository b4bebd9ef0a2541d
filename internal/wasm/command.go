package wasm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"strconv"
	"strings"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/sys"

	"github.com/stratahq/strata/sdk/go/wire"
)

// RunCommand runs a command module once for req, CGI style: a fresh
// instance whose environment describes the request, whose stdin is the body
// and whose stdout is the response (docs/ABI.md). Its stderr goes to
// out.Stderr.
func (m *Module) RunCommand(ctx context.Context, req *wire.Request, out Output) (*wire.Response, error) {
	if m.kind != KindCommand {
		return nil, fmt.Errorf("run %s: a %s module runs with Instantiate and Handle", m.name, m.kind)
	}
	max := m.r.cfg.MaxResponseBytes
	stdout := &cappedBuffer{max: max + headerAllowance}
	var stderr io.Writer = io.Discard
	if out.Stderr != nil {
		stderr = out.Stderr
	}
	done := ctx.Done()
	cfg := m.base.WithStdin(bytes.NewReader(req.Body)).WithStdout(stdout).WithStderr(stderr).
		WithNanosleep(func(ns int64) { sleepUntil(done, ns) })
	for _, kv := range cgiEnv(req) {
		cfg = cfg.WithEnv(kv[0], kv[1])
	}
	// The function's own environment comes last so a request cannot
	// override what the owner configured.
	cfg = m.withEnv(cfg)

	mod, err := m.instantiateCommand(ctx, cfg)
	if mod != nil {
		defer mod.Close(context.WithoutCancel(ctx))
	}
	if stdout.overflow {
		return nil, fmt.Errorf("run %s: output above %d bytes: %w", m.name, max, ErrResponseTooLarge)
	}
	if err != nil {
		return nil, m.classify(ctx, "run", err, stderr)
	}
	resp, err := parseCGI(stdout.buf.Bytes())
	if err != nil {
		return nil, &TrapError{Module: m.name, Message: err.Error()}
	}
	if len(resp.Body) > max {
		return nil, fmt.Errorf("run %s: body above %d bytes: %w", m.name, max, ErrResponseTooLarge)
	}
	return resp, nil
}

// instantiateCommand instantiates the command and runs _start. A guarded
// runtime runs _start inside InstantiateModule; an instrumented module is
// instantiated without start functions so the interrupt can be armed
// before _start runs.
func (m *Module) instantiateCommand(ctx context.Context, cfg wazero.ModuleConfig) (api.Module, error) {
	if !m.entry.interrupt {
		return m.eng.rt.InstantiateModule(ctx, m.entry.cm, cfg)
	}
	mod, err := m.eng.rt.InstantiateModule(ctx, m.entry.cm, cfg.WithStartFunctions())
	if err != nil {
		return mod, err
	}
	intr, err := newInterrupter(mod)
	if err != nil {
		return mod, err
	}
	start := mod.ExportedFunction("_start")
	err = intr.call(ctx, func() error { _, err := start.Call(ctx); return err })
	// wazero treats proc_exit(0) from a start function as success; called
	// directly it surfaces as an ExitError with code 0.
	if exit := (*sys.ExitError)(nil); errors.As(err, &exit) && exit.ExitCode() == 0 {
		err = nil
	}
	return mod, err
}

// cgiEnv lists the CGI meta-variables for req (RFC 3875 plus Strata's
// X_STRATA_* additions).
func cgiEnv(req *wire.Request) [][2]string {
	method := req.Method
	if method == "" {
		method = "GET"
	}
	env := [][2]string{
		{"GATEWAY_INTERFACE", "CGI/1.1"},
		{"REQUEST_METHOD", method},
		{"PATH_INFO", req.Path},
		{"QUERY_STRING", req.RawQuery},
		{"SERVER_PROTOCOL", "HTTP/1.1"},
		{"SERVER_NAME", req.Host},
		{"REMOTE_ADDR", remoteHost(req.RemoteAddr)},
		{"CONTENT_LENGTH", strconv.Itoa(len(req.Body))},
		{"X_STRATA_INVOCATION_ID", req.InvocationID},
	}
	if req.DeadlineMS > 0 {
		env = append(env, [2]string{"X_STRATA_DEADLINE_MS", strconv.FormatInt(req.DeadlineMS, 10)})
	}
	for _, h := range req.Headers {
		name := textproto.CanonicalMIMEHeaderKey(h.Name)
		value := strings.Join(h.Values, ", ")
		switch name {
		case "Content-Type":
			env = append(env, [2]string{"CONTENT_TYPE", value})
			continue
		case "Content-Length":
			continue // CONTENT_LENGTH is the body we pass, not what the client claimed
		case "Proxy":
			continue // HTTP_PROXY from a request header is the "httpoxy" hole
		}
		env = append(env, [2]string{"HTTP_" + envName(name), value})
	}
	for _, p := range req.Params {
		env = append(env, [2]string{"X_STRATA_PARAM_" + envName(p.Name), p.Value})
	}
	// WASI rejects NUL in the environment; an unescaped path could hold one.
	for i := range env {
		env[i][1] = strings.ReplaceAll(env[i][1], "\x00", "")
	}
	return env
}

// remoteHost strips the port from "host:port", as REMOTE_ADDR is a host.
func remoteHost(addr string) string {
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return host
	}
	return addr
}

// envName upper-cases name and turns everything but letters and digits into
// underscores: "X-Request-Id" → "X_REQUEST_ID".
func envName(name string) string {
	b := []byte(name)
	for i, c := range b {
		switch {
		case c >= 'a' && c <= 'z':
			b[i] = c - 'a' + 'A'
		case c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		default:
			b[i] = '_'
		}
	}
	return string(b)
}

// parseCGI splits a CGI response into status, headers and body. The header
// block ends at the first empty line (LF or CRLF); the body after it is
// taken byte for byte.
func parseCGI(out []byte) (*wire.Response, error) {
	if len(out) == 0 {
		return nil, errors.New("command wrote nothing to stdout; a CGI response starts with headers and a blank line")
	}
	resp := &wire.Response{Status: 200}
	index := map[string]int{}
	statusSet := false
	rest := out
	for {
		nl := bytes.IndexByte(rest, '\n')
		if nl < 0 {
			return nil, errors.New("command output has no blank line ending the CGI headers " +
				"(print e.g. \"Content-Type: text/plain\\n\\n\" before the body)")
		}
		line := bytes.TrimSuffix(rest[:nl], []byte{'\r'})
		rest = rest[nl+1:]
		if len(line) == 0 {
			break
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			return nil, fmt.Errorf("malformed CGI header line %q (want \"Name: value\")", truncate(line))
		}
		name := textproto.CanonicalMIMEHeaderKey(string(bytes.TrimSpace(line[:colon])))
		value := string(bytes.TrimSpace(line[colon+1:]))
		if name == "Status" {
			code, err := parseStatus(value)
			if err != nil {
				return nil, err
			}
			resp.Status, statusSet = code, true
			continue
		}
		if j, ok := index[name]; ok {
			resp.Headers[j].Values = append(resp.Headers[j].Values, value)
			continue
		}
		index[name] = len(resp.Headers)
		resp.Headers = append(resp.Headers, wire.Header{Name: name, Values: []string{value}})
	}
	if _, ok := index["Location"]; ok && !statusSet {
		resp.Status = 302 // RFC 3875 6.2.4: a client redirect
	}
	resp.Body = rest
	return resp, nil
}

func parseStatus(v string) (int, error) {
	digits, _, _ := strings.Cut(v, " ")
	code, err := strconv.Atoi(digits)
	if err != nil || len(digits) != 3 || code < 100 {
		return 0, fmt.Errorf("malformed CGI Status header %q (want e.g. \"Status: 404 Not Found\")", v)
	}
	return code, nil
}

func truncate(b []byte) string {
	if len(b) > 80 {
		return string(b[:80]) + "..."
	}
	return string(b)
}

// cappedBuffer collects a command's stdout up to max bytes and then fails
// writes, so a runaway guest cannot exhaust host memory.
type cappedBuffer struct {
	buf      bytes.Buffer
	max      int
	overflow bool
}

func (c *cappedBuffer) Write(p []byte) (int, error) {
	if c.buf.Len()+len(p) > c.max {
		c.overflow = true
		return 0, errors.New("response too large")
	}
	return c.buf.Write(p)
}
