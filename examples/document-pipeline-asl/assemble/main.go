// Command assemble is the state machine's last Task: it receives the
// Map's results, one per page in page order (a processed page's counts,
// or a skipped page's {"index", "status": "skipped", "reason"}), and
// answers the document's summary.
package main

import (
	"encoding/json"
	"net/http"

	strata "github.com/stratahq/strata/sdk/go"
)

type input struct {
	Document string `json:"document"`
	Results  []struct {
		Index      int    `json:"index"`
		Status     string `json:"status"`
		Words      int    `json:"words"`
		Characters int    `json:"characters"`
	} `json:"results"`
}

type summary struct {
	Document   string `json:"document"`
	Pages      int    `json:"pages"`
	Done       int    `json:"done"`
	Skipped    int    `json:"skipped"`
	SkippedAt  []int  `json:"skipped_pages"`
	Words      int    `json:"words"`
	Characters int    `json:"characters"`
}

func init() { strata.HandleFunc(assemble) }

func assemble(w http.ResponseWriter, r *http.Request) {
	var in input
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		writeJSON(w, map[string]string{"errorType": "BadInput", "errorMessage": "the body is not the Map's results: " + err.Error()})
		return
	}
	s := summary{Document: in.Document, Pages: len(in.Results), SkippedAt: []int{}}
	for _, p := range in.Results {
		if p.Status == "skipped" {
			s.Skipped++
			s.SkippedAt = append(s.SkippedAt, p.Index)
			continue
		}
		s.Done++
		s.Words += p.Words
		s.Characters += p.Characters
	}
	writeJSON(w, s)
}

func writeJSON(w http.ResponseWriter, v any) {
	b, _ := json.Marshal(v) // plain structs and maps of strings always encode
	w.Header().Set("Content-Type", "application/json")
	w.Write(b)
}

func main() {}
