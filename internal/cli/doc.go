// Package cli implements the strata command line: one file per subcommand.
// Commands write to the injected writers in IO so tests read exactly what
// users see, and Run returns an exit code instead of exiting.
//
// Exit codes: 0 success; 1 the operation failed (build error, rejected
// deploy, function error); 2 the command line was wrong; 3 the server could
// not be reached or refused the token.
package cli
