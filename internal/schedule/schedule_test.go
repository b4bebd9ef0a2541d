package schedule

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

func TestNext(t *testing.T) {
	tests := []struct {
		name, spec, tz, after string
		want                  []string // the next fires, in UTC
	}{
		{"daily utc", "0 3 * * *", "", "2026-01-01T00:00:00Z", []string{"2026-01-01T03:00:00Z", "2026-01-02T03:00:00Z"}},
		{"strictly after", "0 3 * * *", "", "2026-01-01T03:00:00Z", []string{"2026-01-02T03:00:00Z"}},
		{"daily berlin winter", "0 3 * * *", "Europe/Berlin", "2026-01-01T00:00:00Z", []string{"2026-01-01T02:00:00Z"}},
		{"daily berlin summer", "0 3 * * *", "Europe/Berlin", "2026-07-01T00:00:00Z", []string{"2026-07-01T01:00:00Z"}},
		{"weekdays", "30 9 * * MON-FRI", "", "2026-11-27T10:00:00Z", []string{"2026-11-30T09:30:00Z", "2026-12-01T09:30:00Z"}}, // Fri → Mon
		{"steps", "*/20 * * * *", "", "2026-01-01T00:05:00Z", []string{"2026-01-01T00:20:00Z", "2026-01-01T00:40:00Z", "2026-01-01T01:00:00Z"}},
		{"leap day", "0 0 29 2 *", "", "2026-03-01T00:00:00Z", []string{"2028-02-29T00:00:00Z"}},
		{"hourly", "@hourly", "", "2026-01-01T00:00:30Z", []string{"2026-01-01T01:00:00Z"}},
		{"daily descriptor in zone", "@daily", "America/New_York", "2026-01-01T00:00:00Z", []string{"2026-01-01T05:00:00Z"}},
		{"midnight", "@midnight", "", "2026-01-01T00:00:00Z", []string{"2026-01-02T00:00:00Z"}},
		{"weekly", "@weekly", "", "2026-01-01T00:00:00Z", []string{"2026-01-04T00:00:00Z"}}, // Sunday
		{"monthly", "@monthly", "", "2026-01-15T00:00:00Z", []string{"2026-02-01T00:00:00Z"}},
		{"yearly", "@yearly", "", "2026-01-15T00:00:00Z", []string{"2027-01-01T00:00:00Z"}},
		{"annually", "@annually", "", "2026-01-15T00:00:00Z", []string{"2027-01-01T00:00:00Z"}},

		// Intervals are anchored to the epoch, whatever the zone.
		{"every 5m", "@every 5m", "", "2026-01-01T00:07:13Z", []string{"2026-01-01T00:10:00Z", "2026-01-01T00:15:00Z"}},
		{"every on the boundary", "@every 5m", "", "2026-01-01T00:10:00Z", []string{"2026-01-01T00:15:00Z"}},
		{"every 90s", "@every 90s", "", "1970-01-01T00:00:00Z", []string{"1970-01-01T00:01:30Z", "1970-01-01T00:03:00Z"}},
		{"every zone ignored", "@every 1h", "Asia/Kolkata", "2026-01-01T00:30:00Z", []string{"2026-01-01T01:00:00Z"}},
		{"every before epoch", "@every 1h", "", "1969-12-31T22:30:00Z", []string{"1969-12-31T23:00:00Z", "1970-01-01T00:00:00Z"}},
		{"rate minutes", "rate(5 minutes)", "", "2026-01-01T00:07:00Z", []string{"2026-01-01T00:10:00Z"}},
		{"rate minute", "rate(1 minute)", "", "2026-01-01T00:07:30Z", []string{"2026-01-01T00:08:00Z"}},
		{"rate hours", "rate(2 hours)", "", "2026-01-01T01:00:00Z", []string{"2026-01-01T02:00:00Z", "2026-01-01T04:00:00Z"}},
		{"rate day", "rate(1 day)", "", "2026-01-01T01:00:00Z", []string{"2026-01-02T00:00:00Z"}},
		{"rate days", "rate(7 days)", "", "2026-01-01T00:00:00Z", []string{"2026-01-08T00:00:00Z"}}, // epoch was a Thursday
		{"spaces", "  0 3 * * *  ", "", "2026-01-01T00:00:00Z", []string{"2026-01-01T03:00:00Z"}},

		// Europe/Berlin goes CET→CEST on 2026-03-29 at 02:00 local (01:00Z):
		// 02:00–02:59 does not exist that day.
		{"spring forward: skipped time fires at the jump", "30 2 * * *", "Europe/Berlin", "2026-03-28T12:00:00Z",
			[]string{"2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z"}},
		{"spring forward: before the skipped time", "30 2 * * *", "Europe/Berlin", "2026-03-28T00:00:00Z",
			[]string{"2026-03-28T01:30:00Z", "2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z"}},
		{"spring forward: other hours unaffected", "0 3 * * *", "Europe/Berlin", "2026-03-28T12:00:00Z",
			[]string{"2026-03-29T01:00:00Z", "2026-03-30T01:00:00Z"}},
		{"spring forward: wildcard hours follow real time", "0 * * * *", "Europe/Berlin", "2026-03-29T00:30:00Z",
			[]string{"2026-03-29T01:00:00Z", "2026-03-29T02:00:00Z"}},
		{"spring forward: minutes keep real time", "*/30 * * * *", "Europe/Berlin", "2026-03-29T00:40:00Z",
			[]string{"2026-03-29T01:00:00Z", "2026-03-29T01:30:00Z"}},
		// CEST→CET on 2026-10-25 at 03:00 local (01:00Z): 02:00–02:59 happens twice.
		{"fall back: repeated time fires once", "30 2 * * *", "Europe/Berlin", "2026-10-24T12:00:00Z",
			[]string{"2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"}},
		{"fall back: asked between the two", "30 2 * * *", "Europe/Berlin", "2026-10-25T00:45:00Z",
			[]string{"2026-10-26T01:30:00Z"}},
		{"fall back: wildcard hours fire in both", "30 * * * *", "Europe/Berlin", "2026-10-25T00:00:00Z",
			[]string{"2026-10-25T00:30:00Z", "2026-10-25T01:30:00Z", "2026-10-25T02:30:00Z"}},
		{"fall back: unaffected hour", "0 4 * * *", "Europe/Berlin", "2026-10-24T12:00:00Z",
			[]string{"2026-10-25T03:00:00Z"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Parse(tt.spec, tt.tz)
			require.NoError(t, err)
			got := s.NextN(utc(tt.after), len(tt.want))
			want := make([]time.Time, len(tt.want))
			for i, w := range tt.want {
				want[i] = utc(w)
			}
			assert.Equal(t, want, got)
			for _, g := range got {
				assert.Equal(t, time.UTC, g.Location())
			}
		})
	}
}

func TestNextSkipsAcrossTheYear(t *testing.T) {
	// A year of a fixed-hour job in Berlin: exactly one fire per local day,
	// DST changes included.
	s, err := Parse("30 2 * * *", "Europe/Berlin")
	require.NoError(t, err)
	berlin, err := time.LoadLocation("Europe/Berlin")
	require.NoError(t, err)
	fires := s.NextN(utc("2025-12-31T23:59:00Z"), 365)
	require.Len(t, fires, 365)
	days := map[string]int{}
	for i, f := range fires {
		if i > 0 {
			require.True(t, f.After(fires[i-1]))
		}
		days[f.In(berlin).Format(time.DateOnly)]++
	}
	assert.Len(t, days, 365)
	assert.Equal(t, "2026-12-31", fires[364].In(berlin).Format(time.DateOnly))
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ spec, tz, want string }{
		{"", "", `must be a cron line like "0 3 * * *", a descriptor like "@daily", "@every 10m" or "rate(5 minutes)", got an empty string`},
		{"0 0 30 2 *", "", `schedule "0 0 30 2 *" never fires (no such date within 5 years)`},
		{"0 0 31 4,6,9,11 *", "", `never fires`},
		{"0 3 * *", "", `schedule "0 3 * *": a cron line has 5 fields (minute hour day-of-month month day-of-week), got 4`},
		{"0 0 3 * * *", "", `a cron line has 5 fields`},
		{"61 * * * *", "", `schedule "61 * * * *": `},
		{"0 3 * * FUNDAY", "", `schedule "0 3 * * FUNDAY": "FUNDAY" is not a number, range, step or month/weekday name`},
		{"61 * * * *", "", `end of range (61) above maximum (59)`},
		{"@sometimes", "", `schedule "@sometimes": `},
		{"@every", "", `"@every" needs a duration, e.g. "@every 10m"`},
		{"@every soon", "", `"@every" needs a Go duration like "90s" or "1h30m", got "soon"`},
		{"@every 500ms", "", `the interval must be at least 1s, got 500ms`},
		{"@every 1500ms", "", `the interval must be a whole number of seconds, got 1.5s`},
		{"@every -5m", "", `at least 1s`},
		{"@every 87600h1s", "", `the interval must be at most`},
		{"rate(5 minute)", "", `write rate(5 minutes)`},
		{"rate(1 hours)", "", `write rate(1 hour)`},
		{"rate(0 minutes)", "", `whole number n ≥ 1, got "0"`},
		{"rate(5 weeks)", "", `unknown rate unit "weeks"`},
		{"rate(5 minutes", "", `a rate must look like`},
		{"rate(minutes)", "", `a rate must look like`},
		{"rate(2000 days)", "", `longer than 5 years`},
		{"TZ=Europe/Berlin 0 3 * * *", "", `set the time zone with the timezone setting`},
		{"CRON_TZ=UTC 0 3 * * *", "", `set the time zone with the timezone setting`},
		{"0 3 * * *", "Mars/Olympus", `unknown time zone "Mars/Olympus"; use an IANA name like "Europe/Berlin" or "UTC"`},
		{"0 3 * * *", "Local", `unknown time zone "Local"`},
		{"0 3 * * *", "../../etc/passwd", `unknown time zone`},
	}
	for _, tt := range tests {
		t.Run(tt.spec+"@"+tt.tz, func(t *testing.T) {
			_, err := Parse(tt.spec, tt.tz)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestAccessors(t *testing.T) {
	s, err := Parse("0 3 * * *", "Europe/Berlin")
	require.NoError(t, err)
	assert.Equal(t, "0 3 * * *", s.Spec())
	assert.Equal(t, "Europe/Berlin", s.Timezone())
	assert.Equal(t, "0 3 * * * Europe/Berlin", s.String())
	assert.Zero(t, s.Interval())

	s, err = Parse("rate(5 minutes)", "")
	require.NoError(t, err)
	assert.Equal(t, "rate(5 minutes)", s.String())
	assert.Equal(t, 5*time.Minute, s.Interval())
	assert.Empty(t, s.NextN(time.Time{}, 0))
}

func TestNextIsIndependentOfTheCallersZone(t *testing.T) {
	s, err := Parse("0 3 * * *", "Europe/Berlin")
	require.NoError(t, err)
	tokyo, err := time.LoadLocation("Asia/Tokyo")
	require.NoError(t, err)
	after := utc("2026-01-01T00:00:00Z")
	assert.Equal(t, s.Next(after), s.Next(after.In(tokyo)))
	u, err := Parse("0 3 * * *", "")
	require.NoError(t, err)
	assert.Equal(t, utc("2026-01-01T03:00:00Z"), u.Next(after.In(tokyo)))
}

func BenchmarkNext(b *testing.B) {
	s, err := Parse("30 2 * * *", "Europe/Berlin")
	require.NoError(b, err)
	t := utc("2026-01-01T00:00:00Z")
	for b.Loop() {
		t = s.Next(t)
	}
}
