package invoke

import (
	"time"

	"github.com/stratahq/strata/internal/meter"
)

// UsageReport is what `strata usage` shows: the admin API's answer, built
// from meter.Summarize. It is a wire type of the admin API and is meant to
// move to the package of those (internal/apitype).
type UsageReport struct {
	Since     time.Time         `json:"since"`
	Prices    meter.Prices      `json:"prices"`
	Functions []meter.UsageLine `json:"functions"`
	Total     meter.UsageLine   `json:"total"`
}
