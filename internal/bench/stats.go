package bench

import (
	"math"
	"slices"
	"time"
)

// Percentiles summarises a set of latencies. Durations are nearest-rank percentiles: the
// smallest sample such that at least q of all samples are less than or equal to it.
type Percentiles struct {
	Count int           `json:"count"`
	Min   time.Duration `json:"min_ns"`
	P50   time.Duration `json:"p50_ns"`
	P90   time.Duration `json:"p90_ns"`
	P99   time.Duration `json:"p99_ns"`
	P999  time.Duration `json:"p999_ns"`
	Max   time.Duration `json:"max_ns"`
	Mean  time.Duration `json:"mean_ns"`
}

// Summarize computes the percentiles of samples. It sorts samples in place.
func Summarize(samples []time.Duration) Percentiles {
	if len(samples) == 0 {
		return Percentiles{}
	}
	slices.Sort(samples)
	var sum float64
	for _, s := range samples {
		sum += float64(s)
	}
	return Percentiles{
		Count: len(samples),
		Min:   samples[0],
		P50:   Quantile(samples, 0.50),
		P90:   Quantile(samples, 0.90),
		P99:   Quantile(samples, 0.99),
		P999:  Quantile(samples, 0.999),
		Max:   samples[len(samples)-1],
		Mean:  time.Duration(sum / float64(len(samples))),
	}
}

// Quantile returns the nearest-rank q-quantile (0 < q <= 1) of sorted samples: the sample
// at rank ceil(q·n). It returns 0 for no samples; q <= 0 gives the minimum.
func Quantile(sorted []time.Duration, q float64) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	rank := int(math.Ceil(q*float64(n) - 1e-9))
	rank = min(max(rank, 1), n)
	return sorted[rank-1]
}

// Rate is events per second over d (0 for an empty interval).
func Rate(events int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(events) / d.Seconds()
}

// EfficiencyRatio is how much of the broker's raw command/reply capacity the sagas turn into
// work: (orders/s × command round trips per order) / raw round trips/s. 1 would mean that a
// saga costs no more than its commands' bare round trips; 0 when the raw rate is unknown.
func EfficiencyRatio(ordersPerSec, roundTripsPerOrder, rawRoundTripsPerSec float64) float64 {
	if rawRoundTripsPerSec <= 0 {
		return 0
	}
	return ordersPerSec * roundTripsPerOrder / rawRoundTripsPerSec
}

// PerThousand scales a cost measured over n units to the cost of 1,000 units (0 for n = 0).
func PerThousand(cost float64, n int64) float64 {
	if n <= 0 {
		return 0
	}
	return cost * 1000 / float64(n)
}

// BytesPerItem is the growth of a resident size from before to after, divided by the items
// it holds (0 when there are none; never negative).
func BytesPerItem(before, after int64, items int64) float64 {
	if items <= 0 || after <= before {
		return 0
	}
	return float64(after-before) / float64(items)
}
