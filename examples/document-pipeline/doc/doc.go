// Package doc holds the types the workflow "pipeline" and its steps
// exchange: each step is its own function (its own Wasm module), and they
// all agree on these JSON shapes.
package doc

// Document is the workflow's input.
type Document struct {
	Name  string   `json:"document"`
	Pages []string `json:"pages"` // the text of each page
}

// Page is process-page's input: one page of a document.
type Page struct {
	Document string `json:"document"`
	Number   int    `json:"page"` // from 1
	Text     string `json:"text"`
}

// PageStats is process-page's answer.
type PageStats struct {
	Number     int    `json:"page"`
	Words      int    `json:"words"`
	Characters int    `json:"characters"` // Unicode code points
	SHA256     string `json:"sha256"`     // of the page's text, hex
	Heading    string `json:"heading"`    // the first line, upper case
}

// Pages is combine's input: every page's stats, in page order.
type Pages struct {
	Document string      `json:"document"`
	Pages    []PageStats `json:"pages"`
}

// Summary is combine's answer and the workflow's output.
type Summary struct {
	Document   string `json:"document"`
	Pages      int    `json:"pages"`
	Words      int    `json:"words"`
	Characters int    `json:"characters"`
	// LongestPage is the page with the most words (the first of a tie).
	LongestPage int `json:"longest_page"`
	// Digest is the SHA-256 of the pages' checksums joined in page order:
	// it changes when any page changes or pages change places.
	Digest   string   `json:"digest"`
	Headings []string `json:"headings"`
}
