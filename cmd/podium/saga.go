package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/podiumhq/podium/api/diagram"
	"github.com/podiumhq/podium/orchestrator/order"
	"github.com/podiumhq/podium/orchestrator/saga"
)

// sagaDefinitions are the built-in saga definitions, by name.
var sagaDefinitions = map[string]func() *saga.Definition{
	order.DefinitionName: order.Definition,
}

func newSagaCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "saga",
		Short: "Inspect the built-in saga definitions",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newSagaDiagramCmd())
	return cmd
}

func newSagaDiagramCmd() *cobra.Command {
	names := make([]string, 0, len(sagaDefinitions))
	for name := range sagaDefinitions {
		names = append(names, name)
	}
	slices.Sort(names)
	var format string
	cmd := &cobra.Command{
		Use:   "diagram NAME",
		Short: "Print a saga definition as a Mermaid flowchart or an SVG drawing",
		Long: "Print a saga definition (" + strings.Join(names, ", ") + ") as a Mermaid flowchart: steps with their workers,\ndependencies, milestones, compensations and the steps run after a compensation.\n" +
			"With --format svg, print the drawing the dashboard shows (the same layout code).",
		Example:   "  podium saga diagram order > order-saga.mmd\n  podium saga diagram order --format svg > order-saga.svg",
		Args:      cobra.ExactArgs(1),
		ValidArgs: names,
		RunE: func(cmd *cobra.Command, args []string) error {
			build, ok := sagaDefinitions[args[0]]
			if !ok {
				return fmt.Errorf("unknown saga %q (known: %s)", args[0], strings.Join(names, ", "))
			}
			def := build()
			if err := def.Validate(); err != nil {
				return fmt.Errorf("validating saga %q: %w", args[0], err)
			}
			switch format {
			case "mermaid":
				_, err := fmt.Fprint(cmd.OutOrStdout(), def.Mermaid())
				return err
			case "svg":
				_, err := cmd.OutOrStdout().Write(diagram.SVG(def))
				return err
			default:
				return fmt.Errorf("--format: want mermaid or svg, got %q", format)
			}
		},
	}
	cmd.Flags().StringVar(&format, "format", "mermaid", "output format: mermaid or svg")
	return cmd
}
