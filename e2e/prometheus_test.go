package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// prometheusBin is Debian's prometheus package (make deps installs it).
const prometheusBin = "/usr/bin/prometheus"

// TestPrometheusScrapesStrata runs the real Prometheus server against a
// real strata server on loopback: one job scrapes the admin API's
// /_strata/api/v1/metrics with a read token of every project, the other
// the --metrics-addr listener without one. After traffic to a function,
// Prometheus' query API must answer the invocation count from both.
func TestPrometheusScrapesStrata(t *testing.T) {
	if _, err := os.Stat(prometheusBin); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is missing in CI (make deps installs Debian's prometheus package): %v", prometheusBin, err)
		}
		t.Skipf("%s is missing (install Debian's prometheus package, or run make deps); CI fails here instead", prometheusBin)
	}
	p, base, admin := startServer(t, "--metrics-addr", "127.0.0.1:0")
	metricsURL := p.awaitOutput(t, "the metrics listener", regexp.MustCompile(`Prometheus metrics on (http://\S+)`))[0]

	dir := copyProject(t, "hello")
	mustRun(t, dir, "deploy", "--server", base, "--token", admin)
	const calls = 5
	for range calls {
		if r := do(t, "GET", base+"/hello/prom", nil, nil); r.status != 200 {
			t.Fatalf("GET /hello/prom: %d %s", r.status, r.body)
		}
	}
	// A read-only token of every project: what a monitoring system holds.
	r := do(t, "POST", base+"/_strata/api/v1/tokens", []byte(`{"name":"prometheus","scope":"read"}`),
		map[string]string{"Authorization": "Bearer " + admin})
	if r.status != 201 {
		t.Fatalf("create read token: %d %s", r.status, r.body)
	}
	var created struct{ Token string }
	if err := json.Unmarshal(r.body, &created); err != nil || created.Token == "" {
		t.Fatalf("create read token: %v %s", err, r.body)
	}

	work := t.TempDir()
	tokenFile := filepath.Join(work, "token")
	if err := os.WriteFile(tokenFile, []byte(created.Token), 0o600); err != nil {
		t.Fatal(err)
	}
	api, _ := url.Parse(base)
	mu, _ := url.Parse(metricsURL)
	config := fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: strata-api
    metrics_path: /_strata/api/v1/metrics
    authorization:
      credentials_file: %s
    static_configs:
      - targets: [%q]
  - job_name: strata-metrics-addr
    metrics_path: /metrics
    static_configs:
      - targets: [%q]
`, tokenFile, api.Host, mu.Host)
	configFile := filepath.Join(work, "prometheus.yml")
	if err := os.WriteFile(configFile, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	promAddr := freeAddr(t)
	prom := exec.Command(prometheusBin, "--config.file="+configFile, "--storage.tsdb.path="+filepath.Join(work, "tsdb"),
		"--web.listen-address="+promAddr, "--log.level=warn")
	promOut := &syncBuffer{}
	prom.Stdout, prom.Stderr = promOut, promOut
	if err := prom.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = prom.Process.Kill()
		_ = prom.Wait()
		if t.Failed() {
			t.Logf("prometheus output:\n%s", promOut)
		}
	})

	query := func(q string) (string, bool) {
		// Prometheus may not listen yet: an error is "not yet".
		resp, err := http.Get("http://" + promAddr + "/api/v1/query?query=" + url.QueryEscape(q))
		if err != nil {
			return err.Error(), false
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			return fmt.Sprintf("HTTP %d %s", resp.StatusCode, body), false
		}
		var out struct {
			Status string
			Data   struct {
				Result []struct {
					Value [2]any
				}
			}
		}
		if err := json.Unmarshal(body, &out); err != nil || out.Status != "success" || len(out.Data.Result) != 1 {
			return string(body), false
		}
		v, _ := out.Data.Result[0].Value[1].(string)
		return v, true
	}
	for _, job := range []string{"strata-api", "strata-metrics-addr"} {
		q := fmt.Sprintf(`strata_invocations_total{job=%q,project="hello",function="hello",trigger="http",outcome="ok"}`, job)
		var last string
		eventually(t, 60*time.Second, "Prometheus to scrape "+job, func() bool {
			v, ok := query(q)
			last = v
			return ok && v == fmt.Sprint(calls)
		})
		if last != fmt.Sprint(calls) {
			t.Fatalf("%s = %s, want %d", q, last, calls)
		}
		if v, ok := query(fmt.Sprintf(`up{job=%q}`, job)); !ok || v != "1" {
			t.Fatalf("up{job=%q} = %s", job, v)
		}
	}
	// The read token must not let a scrape see more than metrics: the
	// admin API's other routes stay as they were (a write is refused).
	r = do(t, "POST", base+"/_strata/api/v1/tokens", []byte(`{"name":"x"}`), map[string]string{"Authorization": "Bearer " + created.Token})
	if r.status != 403 || !strings.Contains(string(r.body), "scope read") {
		t.Fatalf("read token creating a token: %d %s", r.status, r.body)
	}
}
