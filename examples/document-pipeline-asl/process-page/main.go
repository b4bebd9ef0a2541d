// Command process-page is the state machine's Task for one page: it
// counts the page's words and characters.
//
// It fails as a Lambda function does, with a JSON body naming an
// errorType, which the state machine's Retry and Catch match:
//   - a page marked "flaky" fails with Transient on its first attempt
//     (retry_count 0, from $$.State.RetryCount), as a page whose storage
//     timed out would, and succeeds when the Retry runs it again;
//   - a page marked "corrupt" fails with CorruptPage every time.
package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"

	strata "github.com/stratahq/strata/sdk/go"
)

// task is the Task's input (its Parameters).
type task struct {
	Index      int  `json:"index"`
	RetryCount int  `json:"retry_count"`
	Page       page `json:"page"`
}

type page struct {
	Text    string `json:"text"`
	Flaky   bool   `json:"flaky"`
	Corrupt bool   `json:"corrupt"`
}

// result is what a processed page answers.
type result struct {
	Index      int    `json:"index"`
	Status     string `json:"status"`
	Words      int    `json:"words"`
	Characters int    `json:"characters"`
	Attempts   int    `json:"attempts"`
}

func init() { strata.HandleFunc(process) }

func process(w http.ResponseWriter, r *http.Request) {
	var t task
	if err := json.NewDecoder(r.Body).Decode(&t); err != nil {
		fail(w, "BadInput", "the body is not a page task: "+err.Error())
		return
	}
	switch {
	case t.Page.Corrupt:
		fail(w, "CorruptPage", fmt.Sprintf("page %d cannot be read", t.Index))
		return
	case t.Page.Flaky && t.RetryCount == 0:
		fail(w, "Transient", fmt.Sprintf("page %d: storage timed out, try again", t.Index))
		return
	}
	fmt.Printf("page %d: processed on attempt %d\n", t.Index, t.RetryCount+1)
	writeJSON(w, http.StatusOK, result{
		Index:      t.Index,
		Status:     "done",
		Words:      len(strings.Fields(t.Page.Text)),
		Characters: utf8.RuneCountInString(t.Page.Text),
		Attempts:   t.RetryCount + 1,
	})
}

// fail answers a Lambda-style error: the Task fails with errorType.
func fail(w http.ResponseWriter, errorType, message string) {
	fmt.Printf("%s: %s\n", errorType, message)
	writeJSON(w, http.StatusOK, map[string]string{"errorType": errorType, "errorMessage": message})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v) // plain structs and maps of strings always encode
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b)
}

func main() {}
