package main

import (
	"errors"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/podiumhq/podium/events"
	pkafka "github.com/podiumhq/podium/internal/kafka"
)

func newTopicsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "topics",
		Short: "Manage podium's Kafka topics",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newTopicsCreateCmd())
	return cmd
}

func newTopicsCreateCmd() *cobra.Command {
	var (
		kafka       kafkaOptions
		logs        logOptions
		partitions  int
		replication int
	)
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create every podium topic, or verify the existing ones",
		Long: "Create the topics podium needs (DESIGN §2) on any Kafka cluster: --partitions partitions\n" +
			"each (dead-letter topics: 1), cleanup.policy=compact on podium.saga-state and every\n" +
			"<worker>.processed, delete elsewhere. Existing topics are verified, never altered; it is\n" +
			"safe to run again. Exits with status 2 and lists every mismatch (partition count,\n" +
			"cleanup.policy) when existing topics differ; status 1 on other errors.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := logs.logger("topics")
			if err != nil {
				return err
			}
			kcfg, err := kafka.config("podium-topics")
			var errs []error
			if err != nil {
				errs = append(errs, err)
			}
			if partitions < 1 {
				errs = append(errs, fmt.Errorf("--partitions must be >= 1, got %d", partitions))
			}
			if err := errors.Join(errs...); err != nil {
				return err
			}
			kafka.logFields(log.Info()).Int("partitions", partitions).Int("replication_factor", replication).Msg("configuration")

			specs := pkafka.PodiumTopics(partitions)
			for i := range specs {
				specs[i].ReplicationFactor = replication
			}
			names := make([]string, len(specs))
			for i, s := range specs {
				names[i] = s.Name
			}
			ctx := cmd.Context()
			existing, _ := pkafka.PartitionCounts(ctx, kcfg, names) // missing topics are expected here
			err = pkafka.EnsureTopics(ctx, kcfg, specs)
			var mm *pkafka.MismatchError
			switch {
			case errors.As(err, &mm):
				return &exitError{code: 2, msg: err.Error() +
					"\npodium never alters existing topics: fix them with your cluster's tools or recreate them"}
			case err != nil:
				return fmt.Errorf("topics create: %w", err)
			}
			printTopics(cmd.OutOrStdout(), specs, existing)
			return nil
		},
	}
	fs := cmd.Flags()
	kafka.register(fs)
	logs.register(fs)
	intFlag(fs, &partitions, "partitions", events.DefaultPartitions, "partitions of every podium topic (dead-letter topics have 1)")
	intFlag(fs, &replication, "replication-factor", -1, "replication factor of created topics (-1: the broker's default.replication.factor)")
	return cmd
}

// printTopics reports every topic, and whether it was created now or already there.
func printTopics(w io.Writer, specs []pkafka.TopicSpec, existing map[string]int) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TOPIC\tPARTITIONS\tCLEANUP\tSTATUS")
	created := 0
	for _, s := range specs {
		parts, status := s.Partitions, "created"
		if n, ok := existing[s.Name]; ok {
			parts, status = n, "ok"
		} else {
			created++
		}
		policy := pkafka.CleanupDelete
		if s.Compacted {
			policy = pkafka.CleanupCompact
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\n", s.Name, parts, policy, status)
	}
	_ = tw.Flush()
	fmt.Fprintf(w, "%d topics ready (%d created, %d verified)\n", len(specs), created, len(specs)-created)
}
