package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// selfSigned writes a self-signed certificate for 127.0.0.1 and its key
// as PEM files in dir and returns their paths and the certificate.
func selfSigned(t *testing.T, dir, name string) (certFile, keyFile string, cert *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "strata test " + name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err = x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile, cert
}

// TestServerTLSAndAdminListener runs `strata server` with a self-signed
// certificate and a separate admin listener: both speak HTTPS only, to a
// client trusting that certificate; the public port serves functions and
// health but answers 404 under /_strata/api/; the CLI deploys through
// the admin port.
func TestServerTLSAndAdminListener(t *testing.T) {
	dataDir := t.TempDir()
	certFile, keyFile, cert := selfSigned(t, t.TempDir(), "server")
	p := startProc(t, dataDir, "server", "--addr", "127.0.0.1:0", "--data-dir", dataDir,
		"--tls-cert", certFile, "--tls-key", keyFile, "--admin-addr", "127.0.0.1:0")
	got := p.awaitOutput(t, "strata server to start",
		regexp.MustCompile(`strata server \(version \S+\) serving on (https://\S+)`),
		regexp.MustCompile(`admin API on (https://\S+) \(not on https://`),
		regexp.MustCompile(`admin token \(shown once, store it now\): (\S+)`))
	pub, admin, tok := got[0], got[1], got[2]
	if strings.Contains(p.out.String(), "strata dev") {
		t.Fatalf("strata server calls itself strata dev:\n%s", p.out)
	}

	roots := x509.NewCertPool()
	roots.AddCert(cert)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	get := func(url, token string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", url, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, base := range []string{pub, admin} {
		if code, body := get(base+"/_strata/health", ""); code != 200 || !strings.Contains(body, `"status":"ok"`) {
			t.Fatalf("health on %s: %d %s", base, code, body)
		}
	}
	if code, body := get(pub+"/_strata/api/v1/whoami", tok); code != 404 {
		t.Fatalf("admin API on the public port: %d %s", code, body)
	}
	if code, body := get(admin+"/_strata/api/v1/whoami", tok); code != 200 || !strings.Contains(body, `"scope": "admin"`) {
		t.Fatalf("admin API on the admin port: %d %s", code, body)
	}
	// Plain HTTP to a TLS port gets nothing served.
	if r, err := http.Get(strings.Replace(pub, "https://", "http://", 1) + "/_strata/health"); err == nil {
		b, _ := io.ReadAll(r.Body)
		r.Body.Close()
		if r.StatusCode == 200 {
			t.Fatalf("plain HTTP served on the TLS port: %s", b)
		}
	}
	// A client that does not trust the certificate is refused.
	if _, err := http.Get(pub + "/_strata/health"); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("untrusted certificate accepted: %v", err)
	}

	// The CLI deploys through the admin port (trusting the certificate
	// through SSL_CERT_FILE, as an operator's self-signed setup would);
	// the public port serves the function.
	dir := copyProject(t, "hello")
	env := []string{"SSL_CERT_FILE=" + certFile}
	if out, errOut, code := runWithEnv(t, dir, env, "deploy", "--server", admin, "--token", tok); code != 0 || !strings.Contains(out, "+ function hello") {
		t.Fatalf("deploy over TLS: exit %d\n%s\n%s", code, out, errOut)
	}
	if _, errOut, code := runWithEnv(t, dir, env, "deploy", "--server", pub, "--token", tok); code != 1 || !strings.Contains(errOut, "404") {
		t.Fatalf("deploy through the public port: exit %d: %s", code, errOut)
	}
	if code, body := get(pub+"/hello/tls", ""); code != 200 || body != "hello, tls!\n" {
		t.Fatalf("hello over TLS: %d %q", code, body)
	}
	if code, body := get(admin+"/hello/tls", ""); code != 404 {
		t.Fatalf("the admin port served a function: %d %q", code, body)
	}
}

// TestServerTLSBadFiles: a missing certificate, a key that does not match
// it, or only one of the two flags stop the server at once with what is
// wrong, and a non-zero exit.
func TestServerTLSBadFiles(t *testing.T) {
	dir := t.TempDir()
	certA, _, _ := selfSigned(t, dir, "a")
	_, keyB, _ := selfSigned(t, dir, "b")
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"missing files", []string{"--tls-cert", "missing.crt", "--tls-key", "missing.key"}, 1,
			"error: --tls-cert missing.crt / --tls-key missing.key: open missing.crt: no such file or directory\n"},
		{"key of another certificate", []string{"--tls-cert", certA, "--tls-key", keyB}, 1,
			"error: --tls-cert " + certA + " / --tls-key " + keyB + ": tls: private key does not match public key\n"},
		{"cert without key", []string{"--tls-cert", certA}, 2,
			"error: invalid configuration: tls cert and tls key go together: pass both --tls-cert and --tls-key, or neither\n"},
	} {
		args := append([]string{"server", "--addr", "127.0.0.1:0", "--data-dir", t.TempDir()}, tc.args...)
		_, errOut, code := run(t, dir, nil, args...)
		if code != tc.code || !strings.HasSuffix(errOut, tc.want) {
			t.Errorf("%s: exit %d, stderr:\n%s\nwant exit %d and stderr ending %q", tc.name, code, errOut, tc.code, tc.want)
		}
	}
}

// TestExitCodes: the codes the README documents, from the real binary: 3
// when there is no server to reach (none configured, or nothing
// listening), for every kind of command that needs one; 2 for a wrong
// command line; 0 with a server given as host:port (no scheme).
func TestExitCodes(t *testing.T) {
	project := copyProject(t, "hello") // no dev.json: no dev server here
	noServer := "error: no server: run `strata dev` in this project, or pass --server HOST:PORT (or set STRATA_SERVER)\n"
	cmds := [][]string{
		{"functions"}, {"deploy"}, {"invoke", "hello"}, {"logs"}, {"usage"}, {"versions", "hello"},
		{"rollback", "hello", "1"}, {"token", "list"}, {"secrets", "list"}, {"workflow", "list"}, {"queue", "stats"}, {"schedules"},
	}
	for _, args := range cmds {
		_, errOut, code := run(t, project, nil, args...)
		if code != 3 || errOut != noServer {
			t.Errorf("strata %v with no server: exit %d, stderr %q; want 3, %q", args, code, errOut, noServer)
		}
	}

	// Nothing listening: 3, saying so without repeating the request URL.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	for _, args := range [][]string{{"functions"}, {"token", "list"}, {"logs", "hello"}} {
		_, errOut, code := run(t, project, nil, append(args, "--server", closed, "--token", "st_x")...)
		want := "error: cannot reach Strata at http://" + closed + " (is the server running?): dial tcp " + closed + ": connect: connection refused\n"
		if code != 3 || errOut != want {
			t.Errorf("strata %v to a closed port: exit %d, stderr %q; want 3, %q", args, code, errOut, want)
		}
	}

	// A wrong command line: 2.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"functions", "--server", "ftp://127.0.0.1:1"}, `error: --server "ftp://127.0.0.1:1": want HOST:PORT, http://HOST:PORT or https://HOST:PORT` + "\n"},
		{[]string{"functions", "--server", "http://"}, `error: --server "http://": want HOST:PORT, http://HOST:PORT or https://HOST:PORT` + "\n"},
		{[]string{"token", "create", "x", "--scope", "write"}, `error: --scope "write": want admin, deploy or read` + "\n"},
		{[]string{"functions", "--no-such-flag"}, "error: unknown flag: --no-such-flag (run 'strata functions --help' for usage)\n"},
	} {
		_, errOut, code := run(t, project, nil, tc.args...)
		if code != 2 || errOut != tc.want {
			t.Errorf("strata %v: exit %d, stderr %q; want 2, %q", tc.args, code, errOut, tc.want)
		}
	}

	// host:port, as `strata server --addr` takes it, is http://host:port.
	_, url, tok := startServer(t)
	hostPort := strings.TrimPrefix(url, "http://")
	if out, errOut, code := run(t, project, nil, "functions", "--server", hostPort, "--token", tok); code != 0 {
		t.Fatalf("functions --server %s: exit %d\n%s\n%s", hostPort, code, out, errOut)
	}
	// A refused token is 3 too (README: "server unreachable or token refused").
	if _, errOut, code := run(t, project, nil, "functions", "--server", hostPort, "--token", "st_wrong"); code != 3 || !strings.Contains(errOut, "401") {
		t.Fatalf("functions with a wrong token: exit %d: %s", code, errOut)
	}
}

// TestTokenScopesCLI: tokens with scopes from the CLI: a read token lists
// but cannot deploy (403 naming its scope), a deploy token deploys but
// cannot create tokens, and `strata token list` shows scopes and when
// each token was last used.
func TestTokenScopesCLI(t *testing.T) {
	_, url, admin := startServer(t)
	dir := copyProject(t, "hello")
	create := func(name string, args ...string) string {
		t.Helper()
		out, errOut, code := run(t, dir, nil, append([]string{"token", "create", name, "--server", url, "--token", admin}, args...)...)
		if code != 0 {
			t.Fatalf("token create %s: exit %d: %s", name, code, errOut)
		}
		return strings.TrimSpace(out)
	}
	ro := create("dash", "--scope", "read")
	ci := create("ci", "--scope", "deploy", "--project", "hello")
	create("spare", "--scope", "read")

	_, errOut, code := run(t, dir, nil, "deploy", "--server", url, "--token", ro)
	if code != 1 || !strings.Contains(errOut, "token dash has scope read; ") || !strings.Contains(errOut, "needs scope deploy or admin (403)") {
		t.Fatalf("deploy with a read token: exit %d: %s", code, errOut)
	}
	mustRun(t, dir, "deploy", "--server", url, "--token", ci)
	if out := mustRun(t, dir, "functions", "--server", url, "--token", ro); !strings.Contains(out, "hello") {
		t.Fatalf("functions with a read token:\n%s", out)
	}
	_, errOut, code = run(t, dir, nil, "token", "create", "mine", "--server", url, "--token", ci)
	if code != 1 || !strings.HasSuffix(errOut, "token ci has scope deploy; POST /tokens needs scope admin (403)\n") {
		t.Fatalf("token create with a deploy token: exit %d: %s", code, errOut)
	}

	out := mustRun(t, dir, "token", "list", "--server", url, "--token", admin)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if !regexp.MustCompile(`^ID\s+NAME\s+SCOPE\s+PROJECT\s+CREATED\s+LAST USED$`).MatchString(lines[0]) {
		t.Fatalf("token list header:\n%s", out)
	}
	used := regexp.MustCompile(`\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$`)
	want := map[string]string{"admin": "admin *", "dash": "read *", "ci": "deploy hello", "spare": "read *"}
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		name := f[1]
		if got := f[2] + " " + f[3]; got != want[name] {
			t.Errorf("token %s: scope and project %q, want %q", name, got, want[name])
		}
		if name == "spare" {
			if !strings.HasSuffix(l, " never") {
				t.Errorf("unused token: %q", l)
			}
		} else if !used.MatchString(l) {
			t.Errorf("token %s was used but shows no last use: %q", name, l)
		}
	}
}

// TestServerPostgresSecretKey: with a PostgreSQL store the secret key
// comes from --secret-key-file or STRATA_SECRET_KEY, not a file the node
// writes in its working directory; without one the server does not
// start; a node whose key is not the first node's refuses to start.
func TestServerPostgresSecretKey(t *testing.T) {
	args := pgStoreArgs(t, "strata_e2e_key") // --store URL --secret-key-file FILE
	store := args[:2]
	cwd := t.TempDir()

	_, errOut, code := run(t, cwd, nil, append([]string{"server", "--addr", "127.0.0.1:0"}, store...)...)
	want := "error: invalid configuration: a PostgreSQL store needs the secret key every node shares: pass --secret-key-file FILE or set STRATA_SECRET_KEY " +
		"(base64 of 32 random bytes; make one with: head -c 32 /dev/urandom | base64)\n"
	if code != 2 || errOut != want {
		t.Fatalf("postgres without a key: exit %d, stderr %q", code, errOut)
	}

	// The first node, started with no --data-dir in cwd: it records the
	// key's fingerprint and writes no key file.
	p := startProc(t, cwd, append([]string{"server", "--addr", "127.0.0.1:0"}, args...)...)
	eventually(t, time.Minute, "the first node to start", func() bool {
		if p.exited() {
			t.Fatalf("first node exited:\n%s\n%s", p.out, p.err)
		}
		return strings.Contains(p.out.String(), "serving on http://")
	})
	if _, err := os.Stat(filepath.Join(cwd, "strata-data", "secret.key")); !os.IsNotExist(err) {
		t.Fatalf("a key file was written in the working directory: %v", err)
	}

	// Another key: refused with a clear message and exit 1.
	other := base64Key(t)
	_, errOut, code = runWithEnv(t, t.TempDir(), []string{"STRATA_SECRET_KEY=" + other},
		append([]string{"server", "--addr", "127.0.0.1:0", "--data-dir", t.TempDir()}, store...)...)
	if code != 1 || !strings.Contains(errOut, "error: this node's secret key is not the one the other nodes of this database use (fingerprint ") ||
		!strings.HasSuffix(errOut, "start every node with the same --secret-key-file or STRATA_SECRET_KEY\n") || strings.Contains(errOut, other) {
		t.Fatalf("a node with another key: exit %d: %s", code, errOut)
	}
}

func base64Key(t *testing.T) string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(b)
}
