// Command combine is the pipeline's fan-in step: it totals the stats of
// every page of a document into its summary.
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"document-pipeline/doc"

	"github.com/stratahq/strata/sdk/go/flow"
)

func init() { flow.Activity(combine) }

func combine(ctx context.Context, in doc.Pages) (doc.Summary, error) {
	s := doc.Summary{Document: in.Document, Pages: len(in.Pages), Headings: make([]string, 0, len(in.Pages))}
	digest := sha256.New()
	most := -1
	for i, p := range in.Pages {
		if p.Number != i+1 {
			return s, flow.NonRetryable(flow.NewError("BadInput", fmt.Sprintf("page %d comes where page %d belongs", p.Number, i+1)))
		}
		s.Words += p.Words
		s.Characters += p.Characters
		if p.Words > most {
			most, s.LongestPage = p.Words, p.Number
		}
		digest.Write([]byte(p.SHA256))
		s.Headings = append(s.Headings, p.Heading)
	}
	s.Digest = hex.EncodeToString(digest.Sum(nil))
	fmt.Printf("%s: %d pages, %d words\n", s.Document, s.Pages, s.Words)
	return s, nil
}

func main() {}
