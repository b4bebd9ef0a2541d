// Command sfntask is the Step Functions test guest: a function Task
// states call. POST / with {"a":1,"b":2} answers {"sum":3}; with
// {"fail":"why"} it fails as a Lambda function does, 500 with
// {"errorType":"BadInput","errorMessage":"why"}. A "log" field is
// printed to its logs.
package main

import (
	"encoding/json"
	"fmt"
	"net/http"

	strata "github.com/stratahq/strata/sdk/go"
)

func init() {
	strata.HandleFunc(func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			A, B float64
			Fail string
			Log  string
		}
		w.Header().Set("Content-Type", "application/json")
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			_ = json.NewEncoder(w).Encode(map[string]string{"errorType": "InvalidJSON", "errorMessage": err.Error()})
			return
		}
		if in.Log != "" {
			fmt.Println(in.Log) // lands in the function's logs, where tests look for it
		}
		if in.Fail != "" {
			w.WriteHeader(http.StatusInternalServerError)
			_ = json.NewEncoder(w).Encode(map[string]string{"errorType": "BadInput", "errorMessage": in.Fail})
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]float64{"sum": in.A + in.B})
	})
}

func main() {}
