// Package build turns the Go functions of a user project into WebAssembly
// reactor modules: it materialises the embedded guest SDK under
// <project>/.strata/sdk, makes sure the project's go.mod requires it through
// a local replace directive, and runs the Go toolchain with GOOS=wasip1
// GOARCH=wasm -buildmode=c-shared.
//
// It owns nothing about what happens to the module afterwards (compiling it
// with wazero is internal/wasm's job, storing it is the store's) and it
// does not read strata.yaml: callers pass the package directory of each
// function. Only the Go module proxy is ever contacted, and only for the
// user's own dependencies; the SDK always comes from the strata binary.
package build
