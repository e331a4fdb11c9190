package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/pgschemas/pgschemas/schemaset"
)

// progress follows a run schema by schema. It is called from the engine's workers, so each
// implementation locks.
type progress interface {
	// result is called once per schema, as soon as it is done.
	result(schemaset.Result)
	// done is called once after the run, before the summary.
	done()
}

// newProgress picks how a run over n schemas is shown: a bar on stderr when stderr is a terminal
// and the run covers several schemas, else (when stream is set) one line per schema that changed or
// failed, as it finishes, else nothing until the end.
func (a *app) newProgress(verb string, n int, stream bool) progress {
	switch {
	case a.terminal && n > 1:
		return &barProgress{a: a, bar: progressbar.NewOptions(n,
			progressbar.OptionSetWriter(a.stderr),
			progressbar.OptionSetDescription(verb),
			progressbar.OptionShowCount(),
			progressbar.OptionSetElapsedTime(true),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionClearOnFinish(),
			progressbar.OptionThrottle(100*time.Millisecond),
		)}
	case stream:
		return &lineProgress{a: a}
	}
	return quietProgress{}
}

// lineProgress prints one line per schema that changed (stdout) or failed (stderr).
type lineProgress struct {
	a  *app
	mu sync.Mutex
}

func (p *lineProgress) result(r schemaset.Result) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.a.printResult(r)
}

func (p *lineProgress) done() {}

// barProgress draws a bar, and prints the failures once the bar is gone.
type barProgress struct {
	a      *app
	bar    *progressbar.ProgressBar
	mu     sync.Mutex
	failed []schemaset.Result
}

func (p *barProgress) result(r schemaset.Result) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if r.Err != nil {
		p.failed = append(p.failed, r)
	}
	_ = p.bar.Add(1)
}

func (p *barProgress) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	_ = p.bar.Finish()
	for _, r := range p.failed {
		p.a.printResult(r)
	}
}

type quietProgress struct{}

func (quietProgress) result(schemaset.Result) {}
func (quietProgress) done()                   {}

// printResult prints one line for a schema that changed or failed, and nothing otherwise. A
// failure that a signal caused is not printed: the run's "interrupted" line says it.
func (a *app) printResult(r schemaset.Result) {
	switch {
	case r.Err != nil && interruptedBy(a.ctx) != 0 && errors.Is(r.Err, context.Canceled):
	case r.Err != nil:
		a.printError(r.Err)
	case r.Outcome == schemaset.OutcomeApplied:
		fmt.Fprintf(a.stdout, "applied %s %q: %s (%s)\n", r.Kind, r.Schema, describe(r), r.Duration.Round(time.Millisecond))
	}
}

// describe says what a result did: "created, 1 step, 3 statements".
func describe(r schemaset.Result) string {
	var parts []string
	if r.Created {
		parts = append(parts, "created")
	}
	if n := len(r.Steps); n > 0 {
		parts = append(parts, plural(n, "step"))
	}
	if n := len(r.Statements); n > 0 || len(parts) == 0 {
		parts = append(parts, plural(n, "statement"))
	}
	return strings.Join(parts, ", ")
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// summary is the last line of an apply or a plan.
func summary(verb string, rep *schemaset.Report, took time.Duration) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: ", verb)
	if verb == "plan" {
		fmt.Fprintf(&b, "%d to change", rep.Count(schemaset.OutcomePlanned))
	} else {
		fmt.Fprintf(&b, "%d applied", rep.Count(schemaset.OutcomeApplied))
	}
	fmt.Fprintf(&b, ", %d up to date, %d refused, %d failed", rep.Count(schemaset.OutcomeUpToDate),
		rep.Count(schemaset.OutcomeRefused), rep.Count(schemaset.OutcomeFailed))
	if n := rep.Count(schemaset.OutcomeSkipped); n > 0 {
		fmt.Fprintf(&b, ", %d skipped after a failure", n)
	}
	if n := rep.Tally(func(r schemaset.Result) bool { return r.Shared }); n > 0 {
		fmt.Fprintf(&b, ", %d by a shared plan", n)
	}
	if n := rep.Tally(func(r schemaset.Result) bool { return r.FellBack }); n > 0 {
		fmt.Fprintf(&b, ", %d fell back to their own diff", n)
	}
	if n := rep.Tally(func(r schemaset.Result) bool { return r.Retries > 0 }); n > 0 {
		fmt.Fprintf(&b, ", %d retried after a lock timeout", n)
	}
	fmt.Fprintf(&b, " (%s in %s)", plural(len(rep.Results), "schema"), took.Round(time.Millisecond))
	return b.String()
}

// jsonReport is the --json data of apply, plan and createrefschema.
type jsonReport struct {
	Results []jsonResult `json:"results"`
	Totals  jsonTotals   `json:"totals"`
	// Pool is what an apply did to the pool of pre-cloned schemas, when it did anything.
	Pool *jsonPool `json:"pool,omitempty"`
}

type jsonPool struct {
	*schemaset.PoolFill
	Error *jsonError `json:"error,omitempty"`
}

type jsonResult struct {
	schemaset.Result
	Error *jsonError `json:"error,omitempty"`
	// ErrorDetail is the error's SQLSTATE, DETAIL, HINT and position, and the app file and line.
	ErrorDetail *schemaset.ErrorDetail `json:"error_detail,omitempty"`
}

type jsonTotals struct {
	Schemas    int   `json:"schemas"`
	Applied    int   `json:"applied"`
	Planned    int   `json:"planned"`
	UpToDate   int   `json:"up_to_date"`
	Refused    int   `json:"refused"`
	Failed     int   `json:"failed"`
	Skipped    int   `json:"skipped"`
	Shared     int   `json:"shared"`
	FellBack   int   `json:"fell_back"`
	Retried    int   `json:"retried"`
	DurationNS int64 `json:"duration_ns"`
}

func newJSONReport(rep *schemaset.Report, took time.Duration) jsonReport {
	out := jsonReport{
		Results: make([]jsonResult, len(rep.Results)),
		Totals: jsonTotals{
			Schemas:    len(rep.Results),
			Applied:    rep.Count(schemaset.OutcomeApplied),
			Planned:    rep.Count(schemaset.OutcomePlanned),
			UpToDate:   rep.Count(schemaset.OutcomeUpToDate),
			Refused:    rep.Count(schemaset.OutcomeRefused),
			Failed:     rep.Count(schemaset.OutcomeFailed),
			Skipped:    rep.Count(schemaset.OutcomeSkipped),
			Shared:     rep.Tally(func(r schemaset.Result) bool { return r.Shared }),
			FellBack:   rep.Tally(func(r schemaset.Result) bool { return r.FellBack }),
			Retried:    rep.Tally(func(r schemaset.Result) bool { return r.Retries > 0 }),
			DurationNS: took.Nanoseconds(),
		},
	}
	if rep.Pool != nil {
		out.Pool = &jsonPool{PoolFill: rep.Pool, Error: newJSONError(rep.Pool.Err)}
	}
	for i, r := range rep.Results {
		out.Results[i] = jsonResult{Result: r, Error: newJSONError(r.Err), ErrorDetail: schemaset.DetailOf(r.Err)}
	}
	return out
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// oneLine folds a statement's white space, to print it on one line.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
