package console

import (
	"encoding/json"
	"fmt"
	"html/template"
	"strings"
)

// The state machine graph: the top-level states of a definition laid out
// in rows by their distance from StartAt, with an arrow per transition
// (Next, Default, each Choice, each Catch). A Parallel or Map is one box
// that names how many branches or which processor it runs. An
// execution's path marks the boxes: visited, current (entered and not
// left by a running execution) and failed (where a failed execution
// stopped). Drawn on the server as SVG, like the charts: no script.

type graphState struct {
	Type     string                  `json:"Type"`
	Next     string                  `json:"Next"`
	End      bool                    `json:"End"`
	Default  string                  `json:"Default"`
	Choices  []struct{ Next string } `json:"Choices"`
	Catch    []struct{ Next string } `json:"Catch"`
	Branches []json.RawMessage       `json:"Branches"`
}

type graphDef struct {
	StartAt string                `json:"StartAt"`
	States  map[string]graphState `json:"States"`
}

// stateMarks is an execution's path through the states, by name.
type stateMarks struct {
	visited map[string]bool
	current string // running: the state it is in
	failed  string // failed: the state it stopped in
}

const (
	boxW, boxH   = 180.0, 40.0
	gapX, gapY   = 30.0, 46.0
	graphPadding = 12.0
)

// stateGraph draws definition (JSON); marks may be nil. A definition
// that does not decode is drawn as nothing (the page shows its text).
func stateGraph(definition string, marks *stateMarks) template.HTML {
	var def graphDef
	if json.Unmarshal([]byte(definition), &def) != nil || def.States[def.StartAt].Type == "" {
		return ""
	}
	// Rows by breadth-first distance from StartAt; unreachable states
	// (a valid definition has none) go last.
	row := map[string]int{def.StartAt: 0}
	order := []string{def.StartAt}
	for i := 0; i < len(order); i++ {
		for _, n := range transitions(def.States[order[i]]) {
			if _, seen := row[n]; !seen && def.States[n].Type != "" {
				row[n] = row[order[i]] + 1
				order = append(order, n)
			}
		}
	}
	last := 0
	for _, n := range order {
		last = max(last, row[n])
	}
	for name := range def.States {
		if _, ok := row[name]; !ok {
			last++
			row[name] = last
			order = append(order, name)
		}
	}
	col := map[string]int{}
	perRow := map[int]int{}
	width := 1
	for _, n := range order {
		col[n] = perRow[row[n]]
		perRow[row[n]]++
		width = max(width, perRow[row[n]])
	}
	x := func(n string) float64 { return graphPadding + float64(col[n])*(boxW+gapX) }
	y := func(n string) float64 { return graphPadding + float64(row[n])*(boxH+gapY) }
	w := 2*graphPadding + float64(width)*(boxW+gapX) + 40 // room for loop-back arrows
	h := 2*graphPadding + float64(last+1)*(boxH+gapY) - gapY

	var b strings.Builder
	fmt.Fprintf(&b, `<svg id="graph" class="graph" viewBox="0 0 %.0f %.0f" width="%.0f" role="img" aria-label="state machine graph">`, w, h, w)
	b.WriteString(`<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z"/></marker></defs>`)
	for _, n := range order {
		for _, to := range transitions(def.States[n]) {
			if def.States[to].Type == "" {
				continue
			}
			x1, y1 := x(n)+boxW/2, y(n)+boxH
			x2, y2 := x(to)+boxW/2, y(to)
			if row[to] <= row[n] { // back to an earlier row: around the right side
				rx := x(n) + boxW + 18
				fmt.Fprintf(&b, `<path class="edge back" d="M%.0f,%.0f C%.0f,%.0f %.0f,%.0f %.0f,%.0f" marker-end="url(#arrow)"/>`,
					x(n)+boxW, y(n)+boxH/2, rx+20, y(n)+boxH/2, rx+20, y(to)+boxH/2, x(to)+boxW, y(to)+boxH/2)
				continue
			}
			fmt.Fprintf(&b, `<line class="edge" x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f" marker-end="url(#arrow)"/>`, x1, y1, x2, y2)
		}
	}
	for _, n := range order {
		st := def.States[n]
		class := "state"
		if marks != nil {
			switch {
			case n == marks.failed:
				class += " failed"
			case n == marks.current:
				class += " current"
			case marks.visited[n]:
				class += " visited"
			}
		}
		label := st.Type
		switch {
		case st.Type == "Parallel":
			label = fmt.Sprintf("Parallel · %d branches", len(st.Branches))
		case st.End || st.Type == "Succeed" || st.Type == "Fail":
			label += " · end"
		}
		fmt.Fprintf(&b, `<g class="%s" data-state="%s"><title>%s</title><rect x="%.0f" y="%.0f" width="%.0f" height="%.0f" rx="6"/>`,
			class, template.HTMLEscapeString(n), template.HTMLEscapeString(n+" ("+st.Type+")"), x(n), y(n), boxW, boxH)
		fmt.Fprintf(&b, `<text class="n" x="%.0f" y="%.0f">%s</text><text class="k" x="%.0f" y="%.0f">%s</text></g>`,
			x(n)+boxW/2, y(n)+17, template.HTMLEscapeString(clip(n, 24)), x(n)+boxW/2, y(n)+32, template.HTMLEscapeString(label))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// transitions are the states a state may go to, in order.
func transitions(st graphState) []string {
	var out []string
	add := func(n string) {
		if n != "" && !contains(out, n) {
			out = append(out, n)
		}
	}
	for _, c := range st.Choices {
		add(c.Next)
	}
	add(st.Default)
	add(st.Next)
	for _, c := range st.Catch {
		add(c.Next)
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
