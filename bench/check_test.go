package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCompareBaseline(t *testing.T) {
	base := baselineFile{
		NoiseBand: 0.3,
		Bands:     map[string]float64{"memory rss MB/instance": 0.1},
		Metrics: []checkMetric{
			{Name: "warm strata/nethttp", Value: 0.6, Higher: true},
			{Name: "handle p50/cpu-calibration", Value: 2, Higher: false},
			{Name: "memory rss MB/instance", Value: 1, Higher: false},
			{Name: "workflow lone p50 strata/dbos sqlite", Value: 1, Higher: false},
		},
	}
	cases := []struct {
		name      string
		got       []checkMetric
		regressed []string
		missing   []string
	}{
		{
			name: "within the band both ways",
			got: []checkMetric{
				{Name: "warm strata/nethttp", Value: 0.45}, // 25 % lower, band 30 %
				{Name: "handle p50/cpu-calibration", Value: 2.5},
				{Name: "memory rss MB/instance", Value: 1.05},
				{Name: "workflow lone p50 strata/dbos sqlite", Value: 0.5},
			},
		},
		{
			name: "throughput ratio falls, latency ratio rises",
			got: []checkMetric{
				{Name: "warm strata/nethttp", Value: 0.4},
				{Name: "handle p50/cpu-calibration", Value: 2.7},
				{Name: "memory rss MB/instance", Value: 1},
				{Name: "workflow lone p50 strata/dbos sqlite", Value: 1},
			},
			regressed: []string{"warm strata/nethttp", "handle p50/cpu-calibration"},
		},
		{
			name: "a per-figure band overrides the default",
			got: []checkMetric{
				{Name: "memory rss MB/instance", Value: 1.2}, // +20 %: inside 30 %, outside 10 %
			},
			regressed: []string{"memory rss MB/instance"},
			missing:   []string{"warm strata/nethttp", "handle p50/cpu-calibration", "workflow lone p50 strata/dbos sqlite"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var regressed, missing []string
			for _, o := range compareBaseline(base, c.got) {
				if !o.Measured {
					missing = append(missing, o.Name)
				}
				if o.Regressed {
					regressed = append(regressed, o.Name)
				}
			}
			if strings.Join(regressed, ",") != strings.Join(c.regressed, ",") {
				t.Errorf("regressed %q, want %q", regressed, c.regressed)
			}
			if strings.Join(missing, ",") != strings.Join(c.missing, ",") {
				t.Errorf("not measured %q, want %q", missing, c.missing)
			}
		})
	}
}

// TestBaselineRoundTrip writes a baseline from a report and checks the same
// report against it (passes), then a worse one (fails, naming the figure).
func TestBaselineRoundTrip(t *testing.T) {
	rep := &report{
		Ratios:      []ratio{{Name: "strata/nethttp", Value: 0.62}},
		Calibration: &calibration{CPUus: 20, FsyncUS: 1000},
		Latency:     []latencyResult{{Scenario: scenarioHandle, Name: "warm Instance.Handle", P50us: 8}},
		Queue:       []queueResult{{System: systemStrata, Store: storeSQLite, Mode: modeSteady, PerSecond: 5000}},
	}
	path := filepath.Join(t.TempDir(), "baseline.json")
	if err := writeBaseline(path, rep, []string{"-only", "warm"}); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var base baselineFile
	if err := json.Unmarshal(raw, &base); err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{
		"warm strata/nethttp":                             0.62,
		"handle warm Instance.Handle p50/cpu-calibration": 0.4,
		"queue sqlite steady msg per fsync-time":          5,
	}
	if len(base.Metrics) != len(want) {
		t.Fatalf("baseline figures %+v, want %v", base.Metrics, want)
	}
	for _, m := range base.Metrics {
		if want[m.Name] != m.Value {
			t.Errorf("%s = %v, want %v", m.Name, m.Value, want[m.Name])
		}
	}
	var out bytes.Buffer
	if err := checkAgainst(path, rep, &out); err != nil {
		t.Fatalf("same report against its own baseline: %v\n%s", err, out.String())
	}
	rep.Latency[0].P50us = 16 // twice as slow against the same calibration
	out.Reset()
	err = checkAgainst(path, rep, &out)
	if err == nil || !strings.Contains(err.Error(), "handle warm Instance.Handle p50/cpu-calibration") {
		t.Fatalf("a 2x slower Handle passed the check: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "REGRESSED") {
		t.Errorf("table does not mark the regression:\n%s", out.String())
	}
}
