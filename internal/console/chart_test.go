package console

import (
	"strings"
	"testing"
	"time"
)

func TestShortDur(t *testing.T) {
	for d, want := range map[time.Duration]string{time.Minute: "1m", 5 * time.Minute: "5m", 30 * time.Minute: "30m", 6 * time.Hour: "6h", 90 * time.Minute: "1h30m"} {
		if got := shortDur(d); got != want {
			t.Errorf("shortDur(%v) = %q, want %q", d, got, want)
		}
	}
}

// TestLineChartEscapes: a function name is text in the SVG, never markup.
func TestLineChartEscapes(t *testing.T) {
	xs := []time.Time{time.Unix(0, 0), time.Unix(60, 0)}
	out := string(lineChart("t", "", xs, []series{{Name: `<script>x</script>`, Values: []float64{1, 3}}}))
	if strings.Contains(out, "<script>") || !strings.Contains(out, "&lt;script&gt;") {
		t.Fatalf("name not escaped:\n%s", out)
	}
	if !strings.Contains(out, `<path d="M`) {
		t.Fatalf("no line drawn:\n%s", out)
	}
}
