// Command process-page is the pipeline's per-page step: it counts a page's
// words and characters, checksums its text and takes its first line as a
// heading. It is a pure function of its input, so running it again (a
// retry) gives the same answer.
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"unicode/utf8"

	"document-pipeline/doc"

	"github.com/stratahq/strata/sdk/go/flow"
)

func init() { flow.Activity(process) }

func process(ctx context.Context, p doc.Page) (doc.PageStats, error) {
	if !utf8.ValidString(p.Text) {
		return doc.PageStats{}, flow.NonRetryable(flow.NewError("BadPage", fmt.Sprintf("page %d is not UTF-8 text", p.Number)))
	}
	sum := sha256.Sum256([]byte(p.Text))
	heading, _, _ := strings.Cut(p.Text, "\n")
	s := doc.PageStats{
		Number:     p.Number,
		Words:      len(strings.Fields(p.Text)),
		Characters: utf8.RuneCountInString(p.Text),
		SHA256:     hex.EncodeToString(sum[:]),
		Heading:    strings.ToUpper(strings.TrimSpace(heading)),
	}
	fmt.Printf("%s page %d: %d words\n", p.Document, p.Number, s.Words)
	return s, nil
}

func main() {}
