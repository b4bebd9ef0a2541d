// Command welcome-email subscribes to the topic user-signed-up and "sends"
// a welcome mail to each new user (it logs the mail instead).
//
// It fails, every time, for an address it cannot mail: not JSON with an
// "email" containing "@", or an address at bounce.example (a stand-in for a
// mail server that refuses it). A failed event is retried once (retries: 1)
// and then lands in the queue welcome-failures with the error. The other
// subscribers of the topic are not affected: each has its own copy.
package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	strata "github.com/stratahq/strata/sdk/go"
)

// SignUp is the event data.
type SignUp struct {
	UserID string `json:"user_id"`
	Email  string `json:"email"`
}

func init() {
	strata.HandleEvent(func(ctx context.Context, e strata.Event) error {
		var s SignUp
		if err := e.DataAs(&s); err != nil {
			return err
		}
		if err := send(s); err != nil {
			fmt.Printf("welcome mail to %q failed (attempt %d): %v\n", s.Email, e.ReceiveCount, err)
			return err
		}
		fmt.Printf("welcome mail sent to %s (user %s)\n", s.Email, s.UserID)
		return nil
	})
}

func send(s SignUp) error {
	_, domain, ok := strings.Cut(s.Email, "@")
	switch {
	case !ok || domain == "":
		return errors.New("no valid email address")
	case strings.EqualFold(domain, "bounce.example"):
		return fmt.Errorf("mail server for %s refused the message", domain)
	}
	return nil
}

func main() {}
