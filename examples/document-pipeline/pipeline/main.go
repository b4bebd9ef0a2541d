// Command pipeline runs the workflow "pipeline": it fans a document's pages
// out to the step process-page, one step per page, all running at once,
// then fans their results in to the step combine, which totals them.
//
// flow.Map schedules every page's step before it waits, and the platform
// starts each as soon as it is scheduled, so the pages run together; the
// history shows the call_scheduled events one after the other and the
// call_completed events as they come. A page whose step fails is retried
// on its own; the pages already done are not run again.
package main

import (
	"fmt"

	"document-pipeline/doc"

	"github.com/stratahq/strata/sdk/go/flow"
)

// maxPages bounds a document: each page is two history events, and a run
// holds at most 50,000 (docs/workflows.md, Limits).
const maxPages = 10_000

func init() { flow.Workflow("pipeline", Pipeline) }

// Pipeline is the workflow.
func Pipeline(ctx flow.Context, d doc.Document) (doc.Summary, error) {
	if len(d.Pages) == 0 || len(d.Pages) > maxPages {
		return doc.Summary{}, flow.NewError("BadInput", fmt.Sprintf("a document has 1 to %d pages, %q has %d", maxPages, d.Name, len(d.Pages)))
	}
	pages := make([]doc.Page, len(d.Pages))
	for i, text := range d.Pages {
		pages[i] = doc.Page{Document: d.Name, Number: i + 1, Text: text}
	}
	// Fan-out: one step per page, all at once; fan-in: the results come
	// back in page order once every page is done.
	stats, err := flow.Map[doc.Page, doc.PageStats](ctx, pages, "process-page")
	if err != nil {
		return doc.Summary{}, err
	}
	var sum doc.Summary
	err = flow.Call(ctx, "combine", doc.Pages{Document: d.Name, Pages: stats}, &sum)
	return sum, err
}

func main() {}
