package bench

import (
	"testing"
	"time"
)

func TestDueOrdersPlacesEachOrderAtItsDueTime(t *testing.T) {
	for _, tt := range []struct {
		rate    float64
		elapsed time.Duration
		sent    int64
		want    int64
	}{
		{10, time.Millisecond, 0, 1},          // order 0 is due at the start
		{10, 99 * time.Millisecond, 1, 0},     // order 1 is due at 100 ms
		{10, 100 * time.Millisecond, 1, 1},    // ... and placed then, not at 200 ms
		{1000, 5500 * time.Microsecond, 3, 3}, // orders 3, 4, 5
		{1000, time.Second, 1001, 0},          // all of the first second's, and the next
		{0.5, 1999 * time.Millisecond, 1, 0},  // slower than a tick: order 1 at 2 s
		{0.5, 2000 * time.Millisecond, 1, 1},
	} {
		if got := dueOrders(tt.rate, tt.elapsed, tt.sent); got != tt.want {
			t.Errorf("dueOrders(%v, %v, %d) = %d, want %d", tt.rate, tt.elapsed, tt.sent, got, tt.want)
		}
	}
}
