// Package layering holds no code: its test enforces the import layering
// that docs/RATIONALE.md ("Project structure") describes, so that a
// package reaching up a layer, the client reaching into the server's
// packages, or a second package importing wazero fails `make test`
// instead of being noticed in review.
package layering
