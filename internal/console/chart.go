package console

import (
	"fmt"
	"html/template"
	"strings"
	"time"
)

// series is one line of a chart.
type series struct {
	Name   string
	Values []float64 // one per x
}

// palette colours lines; more functions than colours reuse them.
var palette = []string{"#2563eb", "#dc2626", "#16a34a", "#d97706", "#7c3aed", "#0891b2", "#db2777", "#4b5563"}

// lineChart draws series over xs as an SVG line chart with a legend. It
// is drawn on the server: a page is complete HTML, with no chart script
// to load, and a chart of many points is a few kilobytes of path data.
func lineChart(title, unit string, xs []time.Time, ss []series) template.HTML {
	const w, h, left, right, top, bottom = 640.0, 200.0, 48.0, 8.0, 20.0, 24.0
	maxV := 0.0
	for _, s := range ss {
		for _, v := range s.Values {
			maxV = max(maxV, v)
		}
	}
	maxV = niceCeil(maxV)
	var b strings.Builder
	fmt.Fprintf(&b, `<figure class="chart"><svg viewBox="0 0 %.0f %.0f" role="img" aria-label="%s">`, w, h, template.HTMLEscapeString(title))
	fmt.Fprintf(&b, `<text x="%.0f" y="14" class="t">%s</text>`, left, template.HTMLEscapeString(title))
	pw, ph := w-left-right, h-top-bottom
	for i := 0; i <= 4; i++ {
		y := top + ph*float64(i)/4
		v := maxV * float64(4-i) / 4
		fmt.Fprintf(&b, `<line x1="%.0f" x2="%.0f" y1="%.1f" y2="%.1f" class="g"/><text x="%.0f" y="%.1f" class="a" text-anchor="end">%s</text>`,
			left, w-right, y, y, left-4, y+4, fmtNum(v)+unit)
	}
	n := len(xs)
	xAt := func(i int) float64 {
		if n <= 1 {
			return left + pw/2
		}
		return left + pw*float64(i)/float64(n-1)
	}
	if n > 0 {
		for k, i := range []int{0, n / 2, n - 1} {
			anchor := [...]string{"start", "middle", "end"}[k] // the edge labels stay inside
			fmt.Fprintf(&b, `<text x="%.1f" y="%.0f" class="a" text-anchor="%s">%s</text>`, xAt(i), h-6, anchor, xs[i].UTC().Format("Jan 2 15:04"))
		}
	}
	for k, s := range ss {
		var d strings.Builder
		for i, v := range s.Values {
			y := top + ph
			if maxV > 0 {
				y = top + ph*(1-v/maxV)
			}
			cmd := "L"
			if i == 0 {
				cmd = "M"
			}
			fmt.Fprintf(&d, "%s%.1f %.1f", cmd, xAt(i), y)
		}
		fmt.Fprintf(&b, `<path d="%s" fill="none" stroke="%s" stroke-width="1.5"><title>%s</title></path>`, d.String(), palette[k%len(palette)], template.HTMLEscapeString(s.Name))
	}
	b.WriteString(`</svg><figcaption>`)
	for k, s := range ss {
		fmt.Fprintf(&b, `<span class="key"><i style="background:%s"></i>%s</span>`, palette[k%len(palette)], template.HTMLEscapeString(s.Name))
	}
	if len(ss) == 0 {
		b.WriteString(`<span class="muted">no invocations in this window</span>`)
	}
	b.WriteString(`</figcaption></figure>`)
	return template.HTML(b.String()) // built from escaped text and numbers only
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := 1.0
	for p*10 <= v {
		p *= 10
	}
	for p > v*10 {
		p /= 10
	}
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

func fmtNum(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.3gM", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.3gk", v/1e3)
	case v == float64(int64(v)):
		return fmt.Sprintf("%d", int64(v))
	default:
		return fmt.Sprintf("%.2g", v)
	}
}
