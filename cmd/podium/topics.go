package main

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

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

// retentionFlags registers --retention and --delete-retention. `podium topics create` and
// `podium broker` share them, environment variables included, so that topics created by
// either have the same configs (a `topics create` against the embedded broker then finds
// nothing to change).
func retentionFlags(fs *pflag.FlagSet, retention, deleteRetention *time.Duration) {
	durationFlagEnv(fs, retention, "retention", "topic-retention", pkafka.DefaultRetention,
		"retention.ms of the non-compacted topics: how long events, commands, replies and dead letters stay (negative: forever)")
	durationFlagEnv(fs, deleteRetention, "delete-retention", "topic-delete-retention", pkafka.DefaultDeleteRetention,
		"delete.retention.ms of the compacted topics: how long tombstones stay readable for lagging followers")
}

func newTopicsCreateCmd() *cobra.Command {
	var (
		kafka           kafkaOptions
		logs            logOptions
		partitions      int
		replication     int
		retention       time.Duration
		deleteRetention time.Duration
	)
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create every podium topic, or verify the existing ones",
		Long: "Create the topics podium needs (DESIGN §2) on any Kafka cluster: --partitions partitions\n" +
			"each (dead-letter topics: 1), cleanup.policy=compact on podium.saga-state and every\n" +
			"<worker>.processed, delete elsewhere. Non-compacted topics get retention.ms=--retention;\n" +
			"compacted ones delete.retention.ms=--delete-retention, segment.ms=1h (so that Kafka compacts\n" +
			"a quiet changelog within the hour) and retention.ms=-1. It is safe to run again: existing\n" +
			"topics are verified, and those retention settings are updated where they differ (each change\n" +
			"is listed). Partition count and cleanup.policy are never altered: exits with status 2 and\n" +
			"lists every mismatch when they differ, changing nothing; status 1 on other errors.",
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
			if retention > 0 && retention < time.Millisecond {
				errs = append(errs, fmt.Errorf("--retention must be at least 1ms (or negative: forever), got %s", retention))
			}
			if deleteRetention < 0 {
				errs = append(errs, fmt.Errorf("--delete-retention must not be negative, got %s", deleteRetention))
			}
			if err := errors.Join(errs...); err != nil {
				return err
			}
			kafka.logFields(log.Info()).Int("partitions", partitions).Int("replication_factor", replication).
				Dur("retention", retention).Dur("delete_retention", deleteRetention).Msg("configuration")

			specs := pkafka.PodiumTopics(partitions)
			for i := range specs {
				specs[i].ReplicationFactor = replication
				specs[i].Retention, specs[i].DeleteRetention = retention, deleteRetention
			}
			report, err := pkafka.ReconcileTopics(cmd.Context(), kcfg, specs)
			var mm *pkafka.MismatchError
			switch {
			case errors.As(err, &mm):
				return &exitError{code: 2, msg: err.Error() +
					"\npodium never alters the partition count or cleanup.policy of existing topics: fix them with your cluster's tools or recreate them"}
			case err != nil:
				return fmt.Errorf("topics create: %w", err)
			}
			for _, u := range report.Updated {
				log.Warn().Str("topic", u.Topic).Str("config", u.Name).Str("old", u.Old).Str("new", u.New).Msg("topic config updated")
			}
			printTopics(cmd.OutOrStdout(), specs, report)
			return nil
		},
	}
	fs := cmd.Flags()
	kafka.register(fs)
	logs.register(fs)
	intFlag(fs, &partitions, "partitions", events.DefaultPartitions, "partitions of every podium topic (dead-letter topics have 1)")
	intFlag(fs, &replication, "replication-factor", -1, "replication factor of created topics (-1: the broker's default.replication.factor)")
	retentionFlags(fs, &retention, &deleteRetention)
	return cmd
}

// printTopics reports every topic, its retention, and whether it was created now, updated
// or already as wanted.
func printTopics(w io.Writer, specs []pkafka.TopicSpec, report pkafka.TopicReport) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TOPIC\tPARTITIONS\tCLEANUP\tRETENTION\tSTATUS")
	var updated int
	for _, s := range specs {
		status := "ok"
		var changes []string
		for _, u := range report.Updated {
			if u.Topic == s.Name {
				changes = append(changes, fmt.Sprintf("%s %s -> %s", u.Name, orUnset(u.Old), u.New))
			}
		}
		switch {
		case slices.Contains(report.Created, s.Name):
			status = "created"
		case len(changes) > 0:
			status = "updated: " + strings.Join(changes, ", ")
			updated++
		}
		cfg := s.Configs()
		retention := "records " + formatMillis(cfg[pkafka.ConfigRetentionMS])
		if s.Compacted {
			retention = "tombstones " + formatMillis(cfg[pkafka.ConfigDeleteRetentionMS])
		}
		parts, ok := report.Partitions[s.Name]
		if !ok {
			parts = s.Partitions
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\n", s.Name, parts, cfg[pkafka.ConfigCleanupPolicy], retention, status)
	}
	_ = tw.Flush()
	created := len(report.Created)
	fmt.Fprintf(w, "%d topics ready (%d created, %d verified, %d of them updated)\n", len(specs), created, len(specs)-created, updated)
}

// formatMillis renders a *.ms config value as a duration ("7d", "10m0s"), "forever" for -1.
func formatMillis(v string) string {
	var ms int64
	if _, err := fmt.Sscan(v, &ms); err != nil {
		return v
	}
	if ms < 0 {
		return "forever"
	}
	d := time.Duration(ms) * time.Millisecond
	if day := 24 * time.Hour; d >= day && d%day == 0 {
		return fmt.Sprintf("%dd", d/day)
	}
	return d.String()
}

// orUnset names a config value a topic did not report.
func orUnset(v string) string {
	if v == "" {
		return "(unset)"
	}
	return v
}
