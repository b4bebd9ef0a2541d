// Command step is the Task of the state machine "pipeline". Every call
// first records itself (name, and the task token when it hands one out) in
// the database bound as "db", committed before it does anything else, then
// sleeps sleep_ms and answers {"ran": name}. The rows are the durable
// record of what ran, which the crash test counts.
package main

import (
	"encoding/json"
	"net/http"
	"time"

	strata "github.com/stratahq/strata/sdk/go"
	"github.com/stratahq/strata/sdk/go/db"
)

var trace = db.Open("db")

func init() {
	strata.HandleFunc(func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Name    string `json:"name"`
			Token   string `json:"token"`
			SleepMS int    `json:"sleep_ms"`
		}
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			http.Error(w, `{"errorType":"BadInput","errorMessage":"not JSON"}`, http.StatusBadRequest)
			return
		}
		ctx := r.Context()
		if _, err := trace.Exec(ctx, `create table if not exists calls (
			id integer primary key autoincrement, name text not null, token text not null, at_ns integer not null)`); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		if _, err := trace.Exec(ctx, `insert into calls (name, token, at_ns) values ($1, $2, $3)`, in.Name, in.Token, time.Now().UnixNano()); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		time.Sleep(time.Duration(in.SleepMS) * time.Millisecond)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"ran": in.Name})
	})
}

func main() {}
