package main

import (
	"log/slog"

	"github.com/pgschemas/pgschemas/schemaset"
)

// The values of --log-format.
const (
	logFormatText = "text"
	logFormatJSON = "json"
)

// checkLogFormat refuses a --log-format other than text, json or none.
func (a *app) checkLogFormat() error {
	switch a.logFormat {
	case "", logFormatText, logFormatJSON:
		return nil
	}
	return usageErrorf("--log-format %q: want text or json", a.logFormat)
}

// logger is the engine's logger, on stderr: with --log-format, text or JSON records with their
// time; without, text records without time (warnings and waits only, for a person).
func (a *app) logger() *slog.Logger {
	if a.logFormat == logFormatJSON {
		return slog.New(slog.NewJSONHandler(a.stderr, nil))
	}
	opts := &slog.HandlerOptions{}
	if a.logFormat == "" {
		opts.ReplaceAttr = func(groups []string, attr slog.Attr) slog.Attr {
			if len(groups) == 0 && attr.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return attr
		}
	}
	return slog.New(slog.NewTextHandler(a.stderr, opts))
}

// engineLogging sets the logger of opts and, with --log-format, logs the engine's events to it
// (schemaset.LogEvents): one record per tenant created, dropped, renamed or whose domain changed,
// and per schema applied or failed.
func (a *app) engineLogging(opts *schemaset.Options) {
	opts.Logger = a.logger()
	if a.logFormat != "" {
		opts.OnEvent = schemaset.LogEvents(opts.Logger)
	}
}
