package main

import "github.com/spf13/cobra"

// subcommands lists every subcommand; each lives in its own file.
func subcommands() []*cobra.Command {
	return []*cobra.Command{
		newVersionCmd(),
		newBrokerCmd(),
		newTopicsCmd(),
		newOrchestratorCmd(),
		newOrderCmd(),
		newReturnCmd(),
		newDevCmd(),
		newAPICmd(),
		newWorkerCmd(),
		newSagaCmd(),
		newBenchCmd(),
		newHealthcheckCmd(),
	}
}
