package server

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/internal/config"
	"github.com/stratahq/strata/internal/wasm/wasmtest"
)

// testSecretKey is the key nodes of a PostgreSQL test share.
var testSecretKey = base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))

func newKey(t *testing.T) string {
	t.Helper()
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

// tryStart starts a node on cfg and returns Start's error (the node is
// stopped at the end of the test).
func tryStart(t *testing.T, cfg config.Config) (*Server, error) {
	t.Helper()
	srv, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		return nil, err
	}
	err = srv.Start(context.Background())
	if err == nil {
		t.Cleanup(func() { _ = srv.Stop(context.Background()) })
	}
	return srv, err
}

func pgConfig(t *testing.T, storeURL string) config.Config {
	cfg := config.Default()
	cfg.Addr = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.CacheDir = wasmtest.SharedCacheDir()
	cfg.Store = storeURL
	return cfg
}

// TestPostgresSecretKeyIsShared: on PostgreSQL the secret key comes from
// STRATA_SECRET_KEY or --secret-key-file (never a file the node writes in
// its working directory); the first node records its fingerprint, a node
// with the same key starts, and one with another key refuses to start.
func TestPostgresSecretKeyIsShared(t *testing.T) {
	pg := os.Getenv("STRATA_TEST_POSTGRES")
	if pg == "" {
		t.Skip("STRATA_TEST_POSTGRES not set")
	}
	url := withSearchPath(pg, testSchema(t, pg))

	// No key: refused before anything is opened, with the way out.
	_, err := tryStart(t, pgConfig(t, url))
	require.EqualError(t, err, "invalid configuration: a PostgreSQL store needs the secret key every node shares: pass --secret-key-file FILE or set STRATA_SECRET_KEY "+
		"(base64 of 32 random bytes; make one with: head -c 32 /dev/urandom | base64)")

	key := newKey(t)
	first := pgConfig(t, url)
	first.SecretKey = key
	_, err = tryStart(t, first)
	require.NoError(t, err)
	_, err = os.Stat(filepath.Join(first.DataDir, "secret.key"))
	require.ErrorIs(t, err, os.ErrNotExist, "no key file is written with a PostgreSQL store")

	// The same key from a file: starts.
	second := pgConfig(t, url)
	second.SecretKeyFile = filepath.Join(t.TempDir(), "key")
	require.NoError(t, os.WriteFile(second.SecretKeyFile, []byte(key+"\n"), 0o600))
	_, err = tryStart(t, second)
	require.NoError(t, err)

	// Another key: refused, naming both fingerprints (never the key).
	third := pgConfig(t, url)
	third.SecretKey = newKey(t)
	_, err = tryStart(t, third)
	require.Error(t, err)
	require.Contains(t, err.Error(), "this node's secret key is not the one the other nodes of this database use (fingerprint ")
	require.Contains(t, err.Error(), "start every node with the same --secret-key-file or STRATA_SECRET_KEY")
	require.NotContains(t, err.Error(), third.SecretKey)

	// A bad key file: what is wrong with it.
	bad := pgConfig(t, url)
	bad.SecretKeyFile = filepath.Join(t.TempDir(), "missing")
	_, err = tryStart(t, bad)
	require.ErrorContains(t, err, "--secret-key-file: open "+bad.SecretKeyFile+": no such file or directory")
	require.NoError(t, os.WriteFile(bad.SecretKeyFile, []byte("not a key"), 0o600))
	_, err = tryStart(t, bad)
	require.EqualError(t, err, "--secret-key-file "+bad.SecretKeyFile+": secret key: want base64 of 32 random bytes (openssl rand -base64 32)")
}

func TestSecretKeySettingsRefused(t *testing.T) {
	cfg := config.Default()
	cfg.SecretKey, cfg.SecretKeyFile = "x", "y"
	require.ErrorContains(t, cfg.Validate(), "secret key: set STRATA_SECRET_KEY or pass --secret-key-file, not both")
	cfg = config.Default()
	cfg.TLSCert = "cert.pem"
	require.ErrorContains(t, cfg.Validate(), "tls cert and tls key go together: pass both --tls-cert and --tls-key, or neither")
	cfg = config.Default()
	cfg.AdminAddr = cfg.Addr
	require.ErrorContains(t, cfg.Validate(), `admin addr "127.0.0.1:8080": is the public address too`)
	cfg.AdminAddr = "8081"
	require.ErrorContains(t, cfg.Validate(), `admin addr "8081": want host:port`)
}

// TestAdminListener: with an admin address the admin API is served there
// only; the public listener answers 404 under /_strata/api/ and serves
// functions and health; the admin listener serves no functions.
func TestAdminListener(t *testing.T) {
	n := startNodeWith(t, "", func(c *config.Config) { c.AdminAddr = "127.0.0.1:0" })
	pub, admin := n.srv.URL(), n.srv.AdminURL()
	require.NotEqual(t, pub, admin)
	tok, err := n.srv.EnsureAdminToken(context.Background())
	require.NoError(t, err)

	call := func(url string) (int, string) {
		req, _ := http.NewRequest("GET", url, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, body := call(pub + "/_strata/api/v1/whoami")
	require.Equal(t, http.StatusNotFound, code, "the public listener does not serve the admin API, even with a token")
	require.Equal(t, `{"error":"unknown platform path /_strata/api/v1/whoami","status":404}`+"\n", body)
	code, body = call(admin + "/_strata/api/v1/whoami")
	require.Equal(t, http.StatusOK, code, body)
	for _, base := range []string{pub, admin} {
		code, body = call(base + "/_strata/health")
		require.Equal(t, http.StatusOK, code, body)
	}
	code, body = call(admin + "/hello/x")
	require.Equal(t, http.StatusNotFound, code)
	require.True(t, strings.HasPrefix(body, `{"error":"/hello/x is not served here: this is the admin listener`), body)
	// The console goes with the admin API: its login page on the admin
	// listener, nothing on the public one.
	code, body = call(admin + "/_strata/console/login")
	require.Equal(t, http.StatusOK, code, body)
	require.Contains(t, body, `name="token"`)
	code, _ = call(pub + "/_strata/console/login")
	require.Equal(t, http.StatusNotFound, code)
}
