package main

import (
	"context"
	"fmt"
	"io"
)

// runData runs the maintenance subcommands: export, import, backup and check.
func runData(ctx context.Context, name string, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) error {
	return fmt.Errorf("%s: not implemented yet", name)
}
