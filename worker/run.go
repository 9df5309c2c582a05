package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
)

// runFleet is a placeholder until the fleet engineer lands worker/run.go.
func runFleet(ctx context.Context, args []string, stdout, stderr io.Writer, log *slog.Logger) error {
	return errors.New("fleet mode not built yet")
}
