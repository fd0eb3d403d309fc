package main

import (
	"fmt"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "podium",
		Short:         "podium: a Kafka-native saga orchestrator",
		Long:          "podium drives e-commerce orders through a saga of worker commands over Kafka,\nwith retries, timeouts and compensations. Start with `podium dev`.",
		SilenceUsage:  true,
		SilenceErrors: true,
		// Before any command runs: a malformed PODIUM_* variable stops it (see envName).
		PersistentPreRunE: checkEnv,
	}
	root.AddCommand(subcommands()...)
	return root
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the podium version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			goVersion := "unknown"
			if bi, ok := debug.ReadBuildInfo(); ok {
				goVersion = bi.GoVersion
			}
			fmt.Fprintf(cmd.OutOrStdout(), "podium %s (%s)\n", version, goVersion)
			return nil
		},
	}
}
