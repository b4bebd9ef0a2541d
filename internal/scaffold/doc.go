// Package scaffold creates new Strata projects (`strata new`) from a few
// small templates (http, queue, cron, workflow, crud, command-c): a
// strata.yaml, the functions' source, a .gitignore and a README and, for
// Go templates, a go.mod wired to the SDK the strata binary carries, with
// the SDK written into .strata/sdk so the project type-checks at once.
//
// It only writes files. Building them is internal/build's job, and the
// manifest format itself is owned by internal/manifest; names follow
// internal/naming, the rule the manifest applies.
package scaffold
