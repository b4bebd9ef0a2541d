// Command invokeapi is the test guest of the Lambda Invoke API. POST /
// with a JSON payload answers {"got": <payload>, "method", "path",
// "contentType"}; the payload's fields steer it:
//   - "log": printed to its logs first (with "lines", that many times);
//   - "fail": answers 500 with {"errorType":"BadInput","errorMessage":…};
//   - "panic": panics (a trap);
//   - "sleepMS": sleeps that long first (past its timeout: a timeout);
//   - "waitDone": waits for the request context's Done (or 30s) and
//     answers {"err": ctx.Err(), "beforeDeadline": …}.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	strata "github.com/stratahq/strata/sdk/go"
)

func init() {
	strata.HandleFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var in struct {
			Log      string `json:"log"`
			Lines    int    `json:"lines"`
			Fail     string `json:"fail"`
			Panic    bool   `json:"panic"`
			SleepMS  int    `json:"sleepMS"`
			WaitDone bool   `json:"waitDone"`
		}
		_ = json.Unmarshal(body, &in)
		for i := 0; i < max(in.Lines, 1) && in.Log != ""; i++ {
			fmt.Println(in.Log)
		}
		if in.SleepMS > 0 {
			time.Sleep(time.Duration(in.SleepMS) * time.Millisecond)
		}
		if in.WaitDone {
			ctx := r.Context()
			select {
			case <-ctx.Done():
			case <-time.After(30 * time.Second):
			}
			dl, _ := ctx.Deadline()
			errText := "<nil>"
			if err := ctx.Err(); err != nil {
				errText = err.Error()
			}
			_ = json.NewEncoder(w).Encode(map[string]any{"err": errText, "beforeDeadline": time.Now().Before(dl)})
			return
		}
		if in.Panic {
			panic("asked to panic")
		}
		w.Header().Set("Content-Type", "application/json")
		if in.Fail != "" {
			w.WriteHeader(http.StatusInternalServerError)
			_ = json.NewEncoder(w).Encode(map[string]string{"errorType": "BadInput", "errorMessage": in.Fail})
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"got": json.RawMessage(body), "method": r.Method, "path": r.URL.Path, "contentType": r.Header.Get("Content-Type")})
	})
}

func main() {}
