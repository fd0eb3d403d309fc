package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/podiumhq/podium/api/diagram"
	"github.com/podiumhq/podium/orchestrator/saga"
	"github.com/podiumhq/podium/sagas"
)

func newSagaCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "saga",
		Short: "Inspect the built-in saga definitions, follow sagas of every type and act on them",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newSagaDiagramCmd(), newSagaControlCmd("cancel"), newSagaControlCmd("retry"),
		newWatchCmd("Follow orders.events: one line per lifecycle event of every saga type (orders, returns, …)"))
	return cmd
}

// sagaNames are the names of the built-in saga definitions, in sagas.Builtin's order.
func sagaNames() []string {
	var names []string
	for _, d := range sagas.Definitions() {
		names = append(names, d.Name)
	}
	return names
}

// builtinDefinition is the newest built-in definition named name, validated; an unknown
// name is an error that lists the known ones.
func builtinDefinition(name string) (*saga.Definition, error) {
	def := sagas.Definition(name)
	if def == nil {
		return nil, fmt.Errorf("unknown saga %q (known: %s)", name, strings.Join(sagaNames(), ", "))
	}
	if err := def.Validate(); err != nil {
		return nil, fmt.Errorf("validating saga %q: %w", name, err)
	}
	return def, nil
}

func newSagaDiagramCmd() *cobra.Command {
	names := sagaNames()
	var format string
	cmd := &cobra.Command{
		Use:   "diagram NAME",
		Short: "Print a built-in saga definition as a Mermaid flowchart or an SVG drawing",
		Long: "Print a built-in saga definition (" + strings.Join(names, ", ") + ") as a Mermaid flowchart: steps with their workers,\ndependencies, milestones, compensations and the steps run after a compensation.\n" +
			"With --format svg, print the drawing the dashboard shows (the same layout code).",
		Example:   "  podium saga diagram order > order-saga.mmd\n  podium saga diagram returns --format svg > returns-saga.svg",
		Args:      cobra.ExactArgs(1),
		ValidArgs: names,
		RunE: func(cmd *cobra.Command, args []string) error {
			def, err := builtinDefinition(args[0])
			if err != nil {
				return err
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
