// Package humanlog owns the log format people read in a terminal: a
// log/slog handler that prints one compact line per record (time as
// hh:mm:ss, the level only when it is not info, the message, then
// key=value attributes), in colour when asked, and the helpers that decide
// whether a writer is a colour terminal.
//
// It does not choose where logs go or at which level; the command line
// does (strata dev uses this format by default, strata server the
// structured text format, and both accept --log-format).
package humanlog
