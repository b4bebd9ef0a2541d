package schedule

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // the binary carries the zone database: containers often lack /usr/share/zoneinfo

	"github.com/robfig/cron/v3"
)

// Horizon is how far Next looks ahead. A spec that does not fire within it
// ("0 0 30 2 *") is rejected by Parse.
const Horizon = 5 * 365 * 24 * time.Hour

// MinInterval is the shortest "@every" or "rate(...)" interval.
const MinInterval = time.Second

// Rule is the sentence error messages use for what a spec may be.
const Rule = `must be a cron line like "0 3 * * *", a descriptor like "@daily", "@every 10m" or "rate(5 minutes)"`

// Schedule is a parsed spec in a time zone. It is immutable and safe for
// concurrent use.
type Schedule struct {
	spec     string
	timezone string
	loc      *time.Location
	cron     *cron.SpecSchedule // nil for intervals
	every    time.Duration      // > 0 for intervals
	// fixedHour is true when the cron line names particular hours; only
	// then do the daylight-saving rules apply.
	fixedHour bool
}

// parser accepts five fields and descriptors. "@every" and "rate()" are
// handled before it (with epoch anchoring), and "TZ=" prefixes are refused:
// the zone is the timezone setting's job.
var parser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// reference is where Parse starts looking for a first fire: a fixed
// instant keeps validation deterministic. Every spec that fires at all
// fires within any five-year window (February 29 included), so the choice
// does not matter beyond that.
var reference = time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)

// Parse parses a spec in an IANA time zone ("" means UTC).
func Parse(spec, timezone string) (*Schedule, error) {
	s := &Schedule{spec: spec, timezone: timezone, loc: time.UTC}
	if timezone != "" {
		loc, err := LoadLocation(timezone)
		if err != nil {
			return nil, err
		}
		s.loc = loc
	}
	text := strings.TrimSpace(spec)
	switch {
	case text == "":
		return nil, fmt.Errorf("%s, got an empty string", Rule)
	case strings.HasPrefix(text, "@every"):
		d, err := parseEvery(strings.TrimPrefix(text, "@every"))
		if err != nil {
			return nil, fmt.Errorf("schedule %q: %w", spec, err)
		}
		s.every = d
		return s, nil
	case strings.HasPrefix(text, "rate(") || strings.HasPrefix(text, "rate "):
		d, err := parseRate(text)
		if err != nil {
			return nil, fmt.Errorf("schedule %q: %w", spec, err)
		}
		s.every = d
		return s, nil
	case strings.HasPrefix(text, "TZ=") || strings.HasPrefix(text, "CRON_TZ="):
		return nil, fmt.Errorf("schedule %q: set the time zone with the timezone setting, not in the spec", spec)
	}
	if n := len(strings.Fields(text)); !strings.HasPrefix(text, "@") && n != 5 {
		return nil, fmt.Errorf("schedule %q: a cron line has 5 fields (minute hour day-of-month month day-of-week), got %d", spec, n)
	}
	sched, err := parser.Parse(text)
	if err != nil {
		return nil, fmt.Errorf("schedule %q: %s", spec, cronMessage(err))
	}
	cs, ok := sched.(*cron.SpecSchedule)
	if !ok { // the parser makes only SpecSchedules without "@every"
		return nil, fmt.Errorf("schedule %q: %s", spec, Rule)
	}
	// A copy with our zone: the parser sets time.Local, which would make
	// results depend on the server's zone.
	c := *cs
	c.Location = s.loc
	s.cron = &c
	const allHours = 1<<24 - 1
	s.fixedHour = c.Hour&allHours != allHours
	if s.Next(reference).IsZero() {
		return nil, fmt.Errorf("schedule %q never fires (no such date within %d years)", spec, int(Horizon/(365*24*time.Hour)))
	}
	return s, nil
}

// cronMessage rewords the cron parser's errors for people who did not
// write it: "FUNDAY: strconv.Atoi: parsing ..." says nothing to them.
func cronMessage(err error) string {
	msg := strings.TrimPrefix(err.Error(), "failed to parse int from ")
	if field, _, ok := strings.Cut(msg, ": strconv.Atoi"); ok {
		return fmt.Sprintf("%q is not a number, range, step or month/weekday name", field)
	}
	return msg
}

// LoadLocation loads an IANA zone by name with an error that says what a
// zone name looks like. "Local" is refused: a schedule must not depend on
// the server's settings.
func LoadLocation(name string) (*time.Location, error) {
	if name == "Local" || name == "" {
		return nil, fmt.Errorf("unknown time zone %q; use an IANA name like \"Europe/Berlin\" or \"UTC\"", name)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("unknown time zone %q; use an IANA name like \"Europe/Berlin\" or \"UTC\"", name)
	}
	return loc, nil
}

func parseEvery(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, errors.New(`"@every" needs a duration, e.g. "@every 10m"`)
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf(`"@every" needs a Go duration like "90s" or "1h30m", got %q`, s)
	}
	return checkInterval(d)
}

var rateUnits = map[string]time.Duration{
	"minute": time.Minute, "minutes": time.Minute,
	"hour": time.Hour, "hours": time.Hour,
	"day": 24 * time.Hour, "days": 24 * time.Hour,
}

// parseRate reads EventBridge's "rate(5 minutes)". Like EventBridge it
// wants the singular for 1 and the plural otherwise.
func parseRate(s string) (time.Duration, error) {
	const form = `"rate(<n> minute|minutes|hour|hours|day|days)" with a whole number n ≥ 1`
	inner, ok := strings.CutPrefix(s, "rate(")
	if ok {
		inner, ok = strings.CutSuffix(inner, ")")
	}
	if !ok {
		return 0, fmt.Errorf("a rate must look like %s", form)
	}
	fields := strings.Fields(inner)
	if len(fields) != 2 {
		return 0, fmt.Errorf("a rate must look like %s", form)
	}
	n, err := strconv.Atoi(fields[0])
	if err != nil || n < 1 {
		return 0, fmt.Errorf("a rate must look like %s, got %q", form, fields[0])
	}
	unit, ok := rateUnits[fields[1]]
	if !ok {
		return 0, fmt.Errorf("unknown rate unit %q; use minute(s), hour(s) or day(s)", fields[1])
	}
	if plural := strings.HasSuffix(fields[1], "s"); plural != (n != 1) {
		want := strings.TrimSuffix(fields[1], "s")
		if n != 1 {
			want += "s"
		}
		return 0, fmt.Errorf("write rate(%d %s)", n, want)
	}
	if n > int(Horizon/unit) {
		return 0, fmt.Errorf("rate(%s) is longer than %d years", inner, int(Horizon/(365*24*time.Hour)))
	}
	return checkInterval(time.Duration(n) * unit)
}

func checkInterval(d time.Duration) (time.Duration, error) {
	switch {
	case d < MinInterval:
		return 0, fmt.Errorf("the interval must be at least %s, got %s", MinInterval, d)
	case d%time.Second != 0:
		return 0, fmt.Errorf("the interval must be a whole number of seconds, got %s", d)
	case d > Horizon:
		return 0, fmt.Errorf("the interval must be at most %s, got %s", Horizon, d)
	}
	return d, nil
}

// Spec returns the spec as given to Parse.
func (s *Schedule) Spec() string { return s.spec }

// Timezone returns the zone name as given to Parse ("" for UTC).
func (s *Schedule) Timezone() string { return s.timezone }

// Interval is the fixed period of an "@every" or "rate()" schedule, 0 for
// cron lines and descriptors.
func (s *Schedule) Interval() time.Duration { return s.every }

// String is the spec followed by its zone, as plans show it.
func (s *Schedule) String() string {
	if s.timezone == "" {
		return s.spec
	}
	return s.spec + " " + s.timezone
}

// Next returns the first fire strictly after after, in UTC, or the zero
// time when there is none within Horizon.
func (s *Schedule) Next(after time.Time) time.Time {
	if s.every > 0 {
		// Whole multiples of the interval since the epoch; every is whole
		// seconds and at most Horizon, so this cannot overflow.
		sec := int64(s.every / time.Second)
		u := after.Unix()
		next := (floorDiv(u, sec) + 1) * sec
		return time.Unix(next, 0).UTC()
	}
	t := after
	for range 8 { // each round skips one repeated wall-clock time; a handful suffices
		n := s.cron.Next(t)
		if n.IsZero() {
			return time.Time{}
		}
		if s.fixedHour {
			if jump, ok := s.skipped(t, n); ok {
				return jump.UTC()
			}
			if s.repeated(n) {
				t = n
				continue
			}
		}
		return n.UTC()
	}
	return time.Time{}
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// skipped looks for a forward clock change in (after, n] whose skipped
// wall-clock hour would have held a fire, and returns the instant of the
// change: the job runs as soon as its time has passed.
func (s *Schedule) skipped(after, n time.Time) (time.Time, bool) {
	t := after.In(s.loc)
	for range 16 { // zones change a few times a year at most
		_, end := t.ZoneBounds()
		if end.IsZero() || !end.Before(n) && !end.Equal(n) {
			return time.Time{}, false
		}
		_, before := end.Add(-time.Second).Zone()
		_, afterOff := end.Zone()
		if afterOff > before {
			// Wall clock jumped from W to W+gap at instant end. In a fixed
			// zone with the old offset, W..W+gap is end..end+gap.
			gap := time.Duration(afterOff-before) * time.Second
			old := *s.cron
			old.Location = time.FixedZone("", before)
			if f := old.Next(end.Add(-time.Second)); !f.IsZero() && f.Before(end.Add(gap)) && end.After(after) {
				return end, true
			}
		}
		t = end.In(s.loc)
	}
	return time.Time{}, false
}

// repeated reports whether n's wall-clock time already occurred earlier,
// before a backward clock change, at an instant the schedule fired: then
// n is the second run of the same local time.
func (s *Schedule) repeated(n time.Time) bool {
	start, _ := n.In(s.loc).ZoneBounds()
	if start.IsZero() {
		return false
	}
	_, prevOff := start.Add(-time.Second).In(s.loc).Zone()
	_, off := n.In(s.loc).Zone()
	if prevOff <= off {
		return false
	}
	shift := time.Duration(prevOff-off) * time.Second
	first := n.Add(-shift)
	if !first.Before(start) {
		return false // n's wall time did not exist before the change
	}
	return s.cron.Next(first.Add(-time.Second)).Equal(first)
}

// NextN returns the next n fires after after (fewer if the schedule stops
// firing within Horizon), for `strata schedules`.
func (s *Schedule) NextN(after time.Time, n int) []time.Time {
	out := make([]time.Time, 0, max(n, 0))
	t := after
	for range n {
		t = s.Next(t)
		if t.IsZero() {
			break
		}
		out = append(out, t)
	}
	return out
}
