package client

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	pkafka "github.com/podiumhq/podium/internal/kafka"
)

// WaitForGroups waits until every consumer group is Stable with at least one member, so that
// records written from then on are consumed at once rather than after a join. It polls
// every 100 ms until ctx ends, and then reports the groups still not ready.
func WaitForGroups(ctx context.Context, cfg pkafka.Config, groups []string) error {
	cl := cfg.Client()
	if t, ok := cl.Transport.(*kafkago.Transport); ok {
		defer t.CloseIdleConnections()
	}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var notReady []string
	for {
		notReady = notReady[:0]
		resp, err := cl.DescribeGroups(ctx, &kafkago.DescribeGroupsRequest{GroupIDs: groups})
		if err == nil {
			ready := map[string]bool{}
			for _, g := range resp.Groups {
				ready[g.GroupID] = g.Error == nil && g.GroupState == "Stable" && len(g.Members) > 0
			}
			for _, g := range groups {
				if !ready[g] {
					notReady = append(notReady, g)
				}
			}
			if len(notReady) == 0 {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			if err != nil {
				return fmt.Errorf("describing groups: %w", errors.Join(ctx.Err(), err))
			}
			return fmt.Errorf("consumer groups not ready: %s: %w", strings.Join(notReady, ", "), ctx.Err())
		case <-tick.C:
		}
	}
}
