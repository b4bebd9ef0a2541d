// Package schedule parses and evaluates the schedules of strata.yaml: when a
// scheduled function fires next.
//
// A spec is one of
//
//   - a standard five-field cron line, "minute hour day-of-month month
//     day-of-week" ("0 3 * * *", "*/15 9-17 * * MON-FRI"), evaluated in the
//     schedule's time zone;
//   - a descriptor: @yearly (@annually), @monthly, @weekly, @daily
//     (@midnight), @hourly;
//   - an interval: "@every <Go duration>" or "rate(<n> minute|minutes|hour|
//     hours|day|days)", at least one second, in whole seconds.
//
// Intervals are anchored to the Unix epoch, not to the deploy: "@every 5m"
// fires at :00, :05, :10 … UTC on every node, so Next needs no state and all
// nodes agree on it. Time zones do not change intervals.
//
// Cron lines follow wall-clock time in their zone, with the rules of Vixie
// cron for daylight-saving changes, so a job at a fixed hour runs exactly
// once a day: a time skipped when clocks go forward fires at the moment of
// the jump, and a time repeated when clocks go back fires only the first
// time. Jobs whose hour field is "*" follow real time instead (every 15
// minutes stays every 15 minutes).
//
// This package is pure computation. It does not read the clock: callers
// pass the time to start from. Storing schedules and firing them is package
// store's and the events engine's.
package schedule
