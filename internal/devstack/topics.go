package devstack

import (
	"context"
	"errors"
	"fmt"
	"time"

	pkafka "github.com/podiumhq/podium/internal/kafka"
)

// WaitForTopics waits up to 30s until the broker answers and has every podium topic, or
// until the broker process exits.
func WaitForTopics(ctx context.Context, cfg pkafka.Config, broker *Proc, partitions int) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	want := pkafka.PodiumTopics(partitions)
	names := make([]string, len(want))
	for i, t := range want {
		names[i] = t.Name
	}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		counts, err := pkafka.PartitionCounts(ctx, cfg, names)
		if err == nil {
			missing := 0
			for _, n := range names {
				if counts[n] == 0 {
					missing++
				}
			}
			if missing == 0 {
				return nil
			}
			err = fmt.Errorf("%d topics missing", missing)
		}
		last = err
		select {
		case <-ctx.Done():
			return errors.Join(errors.New("the broker did not become ready"), last)
		case <-broker.Done():
			return fmt.Errorf("the broker exited: %w", broker.Err())
		case <-tick.C:
		}
	}
}
