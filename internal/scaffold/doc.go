// Package scaffold creates new Strata projects (`strata new`): a strata.yaml
// with one Go function, its source, a go.mod wired to the SDK the strata
// binary carries, a .gitignore and a README.
//
// It only writes files. Building them is internal/build's job, and the
// manifest format itself is owned by internal/manifest.
package scaffold
