package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/facefleet/facefleet/config"
	"github.com/facefleet/facefleet/producer/client"
	"github.com/facefleet/facefleet/shared/queue"
)

const dlqUsage = `usage: producer dlq list [--from SEQ] [--limit N] [--json]
       producer dlq show SEQ [--json]
       producer dlq retry SEQ [--file FIXED.json | --file -] [--json]
       producer dlq delete SEQ`

// cmdDLQ runs `producer dlq …`: the operator's view of the dead-letter
// stream (messages the workers refused or gave up on).
func cmdDLQ(ctx context.Context, args []string, stdout, stderr io.Writer, env config.LookupEnv, stdin io.Reader) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, dlqUsage)
		return fmt.Errorf("%w: dlq needs list, show, retry or delete", ErrUsage)
	}
	sub, rest := args[0], args[1:]
	cmd := newCommand("dlq "+sub, stderr, env)
	fs := cmd.fs
	asJSON := fs.Bool("json", false, "print JSON (one object per line)")
	var (
		from  uint64
		limit int
		file  string
	)
	switch sub {
	case "list":
		fs.Uint64Var(&from, "from", 1, "first dead-letter sequence to list")
		fs.IntVar(&limit, "limit", 50, "most dead letters to list")
	case "retry":
		fs.StringVar(&file, "file", "", "resubmit this corrected job message instead of the stored one (- = stdin)")
	case "show", "delete":
	default:
		fmt.Fprintln(stderr, dlqUsage)
		return fmt.Errorf("%w: unknown dlq command %q", ErrUsage, sub)
	}
	pos, err := cmd.parse(rest)
	if err != nil {
		return err
	}
	var seq uint64
	if sub == "list" {
		if len(pos) != 0 || limit < 1 {
			return fmt.Errorf("%w: dlq list takes no arguments and --limit ≥ 1", ErrUsage)
		}
	} else {
		if len(pos) != 1 {
			return fmt.Errorf("%w: dlq %s needs exactly one sequence number (see dlq list)", ErrUsage, sub)
		}
		if seq, err = strconv.ParseUint(pos[0], 10, 64); err != nil || seq == 0 {
			return fmt.Errorf("%w: %q is not a dead-letter sequence number", ErrUsage, pos[0])
		}
	}
	var fixed []byte
	switch file {
	case "":
	case "-":
		if fixed, err = io.ReadAll(io.LimitReader(stdin, queue.MaxStoredMessageBytes)); err != nil {
			return err
		}
	default:
		if fixed, err = os.ReadFile(file); err != nil {
			return err
		}
	}
	c, err := cmd.connect(ctx)
	if err != nil {
		return err
	}
	defer c.Close()

	switch sub {
	case "list":
		dls, err := c.DeadLetters(ctx, from, limit)
		if err != nil {
			return err
		}
		if *asJSON {
			for _, d := range dls {
				if err := printJSONLine(stdout, dlqView(d)); err != nil {
					return err
				}
			}
			return nil
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "SEQ\tTIME\tJOB\tCODE\tDELIVERIES\tBYTES\tREASON")
		for _, d := range dls {
			job := d.JobID
			if job == "" {
				job = "-"
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%d\t%s\n", d.Seq, d.Time.UTC().Format(time.RFC3339), job, d.Code,
				d.Deliveries, len(d.Data), truncate(d.Reason, 100))
		}
		return tw.Flush()
	case "show":
		d, err := c.DeadLetter(ctx, seq)
		if err != nil {
			return err
		}
		if *asJSON {
			return printJSONLine(stdout, dlqView(d))
		}
		fmt.Fprintf(stdout, "seq: %d\ntime: %s\njob: %s\ncode: %s\ndeliveries: %d\nsubject: %s\nreason: %s\nheaders:\n",
			d.Seq, d.Time.UTC().Format(time.RFC3339Nano), d.JobID, d.Code, d.Deliveries, d.Subject, d.Reason)
		keys := make([]string, 0, len(d.Header))
		for k := range d.Header {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			for _, v := range d.Header[k] {
				fmt.Fprintf(stdout, "  %s: %s\n", k, v)
			}
		}
		fmt.Fprintf(stdout, "payload (%d bytes):\n%s\n", len(d.Data), payloadText(d.Data))
		return nil
	case "delete":
		if err := c.DeleteDeadLetter(ctx, seq); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "deleted dead letter %d\n", seq)
		return nil
	}
	rec, err := c.RetryDeadLetter(ctx, seq, fixed)
	if errors.Is(err, client.ErrInvalidRequest) && fixed == nil {
		return fmt.Errorf("%w (write a corrected message to a file and retry with --file FILE)", err)
	}
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSONLine(stdout, rec)
	}
	fmt.Fprintf(stdout, "resubmitted dead letter %d as job %s (state %s); follow it with: producer watch %s\n", seq, rec.ID, rec.State, rec.ID)
	return nil
}

// dlqJSON is the JSON of a dead letter: the payload as text when it is
// UTF-8 (data), else base64 (data_base64).
type dlqJSON struct {
	queue.DeadLetter
	Data       *string `json:"data,omitempty"`
	DataBase64 []byte  `json:"data_base64,omitempty"`
}

func dlqView(d queue.DeadLetter) dlqJSON {
	v := dlqJSON{DeadLetter: d}
	if utf8.Valid(d.Data) {
		s := string(d.Data)
		v.Data = &s
	} else {
		v.DataBase64 = d.Data
	}
	return v
}

func printJSONLine(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// payloadText shows a payload: indented when it is JSON, quoted when it is
// other text, a hex preview otherwise; at most 4 KiB of it.
func payloadText(b []byte) string {
	const maxShow = 4 << 10
	var v any
	if json.Unmarshal(b, &v) == nil {
		if out, err := json.MarshalIndent(v, "", "  "); err == nil && len(out) <= maxShow {
			return string(out)
		}
	}
	more := ""
	if len(b) > maxShow {
		b, more = b[:maxShow], fmt.Sprintf("\n… (%d bytes not shown)", len(b)-maxShow)
	}
	if utf8.Valid(b) {
		return strconv.Quote(string(b)) + more
	}
	return fmt.Sprintf("% x", b) + more
}

func truncate(s string, n int) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
