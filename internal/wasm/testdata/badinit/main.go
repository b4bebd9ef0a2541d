// Command badinit is a test guest whose package init fails as its
// BADINIT environment variable says: "panic" panics, "loop" never
// returns, "alloc" allocates past any memory limit; anything else
// initialises normally and the handler answers "ready".
package main

import (
	"net/http"
	"os"

	strata "github.com/stratahq/strata/sdk/go"
)

var keep [][]byte

var sink int

func init() {
	switch os.Getenv("BADINIT") {
	case "panic":
		panic("init failed on purpose: DATABASE_URL is not set")
	case "loop":
		for {
			sink++
		}
	case "alloc":
		for {
			b := make([]byte, 1<<20)
			for i := range b {
				b[i] = byte(i)
			}
			keep = append(keep, b)
		}
	}
	strata.HandleFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("ready"))
	})
}

func main() {}
