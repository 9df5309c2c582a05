package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/facefleet/facefleet/config"
	"github.com/facefleet/facefleet/producer/client"
	"github.com/facefleet/facefleet/producer/internal/api"
	"github.com/facefleet/facefleet/producer/internal/console"
	"github.com/facefleet/facefleet/shared/job"
	"github.com/facefleet/facefleet/shared/status"
)

// ErrUsage is returned for a bad command line.
var ErrUsage = errors.New("usage error")

// ErrJobsFailed is returned by submit --wait when a job did not succeed.
var ErrJobsFailed = errors.New("not every job succeeded")

const usage = `usage: producer COMMAND [flags] [args]

commands:
  submit IMAGE...   submit images as jobs
                    --geometry --head --uv-size N --uv-format png|jpeg|webp --detector short|full --max-faces N
                    --priority high|normal|low --wait --json --timeout D
                    --webhook URL [--webhook-events started,progress,succeeded,failed,canceled]
  status ID         print a job's record (--json)
  watch ID          print each change of a job until it finishes (--json)
  cancel ID         cancel a job (--json)
  dlq list|show|retry|delete
                    dead letters: messages the workers refused or gave up on;
                    retry resubmits one (--file FIXED.json with a corrected message)
  serve             serve the HTTP API (docs/openapi.yaml) on --http-addr
  provision         create the bucket, job stream and consumers (idempotent)
  healthcheck       exit 0 when the local API's /healthz answers 200
  help              this text and the configuration flags

Every command takes the configuration flags below (they override FACEFLEET_*
environment variables, which override --config FILE).
`

// run is the whole program: args without the program name.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runEnv(ctx, args, stdout, stderr, os.LookupEnv)
}

func runEnv(ctx context.Context, args []string, stdout, stderr io.Writer, env config.LookupEnv) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("%w: no command", ErrUsage)
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "submit":
		return cmdSubmit(ctx, rest, stdout, stderr, env)
	case "status", "watch", "cancel":
		return cmdJob(ctx, cmd, rest, stdout, stderr, env)
	case "dlq":
		return cmdDLQ(ctx, rest, stdout, stderr, env, os.Stdin)
	case "serve":
		return cmdServe(ctx, rest, stdout, stderr, env)
	case "provision":
		return cmdProvision(ctx, rest, stdout, stderr, env)
	case "healthcheck":
		return cmdHealthcheck(ctx, rest, stdout, stderr, env)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		fs := flag.NewFlagSet("producer", flag.ContinueOnError)
		config.RegisterProducer(fs)
		fs.SetOutput(stdout)
		fs.PrintDefaults()
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("%w: unknown command %q", ErrUsage, cmd)
}

// command is the preamble every subcommand shares: a flag set named after
// it (its own flags first), the producer configuration's flags, parsing
// with flags among the arguments, and loading the configuration (flags <
// env < file, validated).
type command struct {
	name   string
	fs     *flag.FlagSet
	cf     *config.Flags[config.Producer]
	env    config.LookupEnv
	stderr io.Writer
}

// newCommand starts subcommand name; register its own flags on fs before
// calling parse.
func newCommand(name string, stderr io.Writer, env config.LookupEnv) *command {
	fs := flag.NewFlagSet("producer "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return &command{name: name, fs: fs, env: env, stderr: stderr}
}

// parse registers the configuration flags and parses args (flags may come
// among the positional arguments, config.ParseInterspersed); flag errors
// are usage errors. It returns the positional arguments.
func (c *command) parse(args []string) ([]string, error) {
	c.cf = config.RegisterProducer(c.fs)
	pos, err := config.ParseInterspersed(c.fs, args)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUsage, err)
	}
	return pos, nil
}

// parseNoArgs is parse for a subcommand that takes no positional arguments.
func (c *command) parseNoArgs(args []string) error {
	pos, err := c.parse(args)
	if err == nil && len(pos) != 0 {
		err = fmt.Errorf("%w: %s takes no arguments", ErrUsage, c.name)
	}
	return err
}

// load returns the configuration the flags, FACEFLEET_* env and file select.
func (c *command) load() (config.Producer, error) { return c.cf.Load(c.env) }

// connect loads the configuration and opens a client on it.
func (c *command) connect(ctx context.Context) (*client.Client, error) {
	cfg, err := c.load()
	if err != nil {
		return nil, err
	}
	return connect(ctx, cfg, c.stderr)
}

// connect opens a client on cfg (15 s to connect), logging to stderr.
func connect(ctx context.Context, cfg config.Producer, stderr io.Writer) (*client.Client, error) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	return client.New(ctx, cfg, client.WithLogger(cfg.Logger(stderr)))
}

func cmdSubmit(ctx context.Context, args []string, stdout, stderr io.Writer, env config.LookupEnv) error {
	cmd := newCommand("submit", stderr, env)
	fs := cmd.fs
	var (
		opts     job.Options
		priority string
		wait     bool
		asJSON   bool
		timeout  time.Duration
		hookURL  string
		hookEvts string
	)
	fs.BoolVar(&opts.Geometry, "geometry", false, "also make pose, meshes, depth and normal maps")
	fs.BoolVar(&opts.Head, "head", false, "also fit the full ICT-FaceKit head (head.glb, head_texture.png, head.obj); implies --geometry")
	fs.IntVar(&opts.UVSize, "uv-size", job.DefaultUVSize, "UV texture side in pixels (256..4096)")
	fs.StringVar(&opts.UVFormat, "uv-format", job.DefaultUVFormat, "UV texture file format: "+strings.Join(job.UVFormats(), "|"))
	fs.StringVar(&opts.Detector, "detector", job.DefaultDetector, "face detector: short|full")
	fs.IntVar(&opts.MaxFaces, "max-faces", job.DefaultMaxFaces, "faces per image (1..16)")
	fs.StringVar(&priority, "priority", string(job.PriorityNormal), "priority: high|normal|low")
	fs.BoolVar(&wait, "wait", false, "wait until every job finishes; print the final records")
	fs.BoolVar(&asJSON, "json", false, "print one JSON object per job (one per line)")
	fs.DurationVar(&timeout, "timeout", 0, "with --wait: give up after this long (0 = no limit)")
	fs.StringVar(&hookURL, "webhook", "", "POST the job's events to this URL (Standard Webhooks, signed with the tenant's secret)")
	fs.StringVar(&hookEvts, "webhook-events", "", "comma-separated webhook events (default "+strings.Join(job.DefaultWebhookEvents(), ",")+")")
	images, err := cmd.parse(args)
	if err != nil {
		return err
	}
	if len(images) == 0 {
		return fmt.Errorf("%w: submit needs at least one IMAGE", ErrUsage)
	}
	if hookURL != "" {
		opts.Webhook = &job.Webhook{URL: hookURL}
		if hookEvts != "" {
			opts.Webhook.Events = strings.Split(hookEvts, ",")
		}
	} else if hookEvts != "" {
		return fmt.Errorf("%w: --webhook-events needs --webhook", ErrUsage)
	}
	if err := opts.Validate(); err != nil {
		return fmt.Errorf("%w: %v", ErrUsage, err)
	}
	if !job.Priority(priority).Valid() {
		return fmt.Errorf("%w: --priority must be high, normal or low", ErrUsage)
	}
	c, err := cmd.connect(ctx)
	if err != nil {
		return err
	}
	defer c.Close()

	type submitted struct {
		image string
		rec   status.Record
	}
	var jobs []submitted
	for _, path := range images {
		rec, err := submitFile(ctx, c, path, opts, job.Priority(priority))
		if err != nil {
			return fmt.Errorf("submit %s: %w", path, err)
		}
		jobs = append(jobs, submitted{path, rec})
		if !wait {
			if err := printRecord(ctx, c, stdout, rec, path, asJSON, false); err != nil {
				return err
			}
		}
	}
	if !wait {
		return nil
	}
	wctx := ctx
	if timeout > 0 {
		var cancel context.CancelFunc
		wctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	failed := 0
	for _, j := range jobs {
		if !asJSON {
			fmt.Fprintf(stderr, "waiting for %s (%s)\n", j.rec.ID, j.image)
		}
		rec, err := c.Wait(wctx, j.rec.ID)
		if err != nil {
			return fmt.Errorf("wait %s: %w", j.rec.ID, err)
		}
		if rec.State != status.StateSucceeded {
			failed++
		}
		if err := printRecord(ctx, c, stdout, rec, j.image, asJSON, true); err != nil {
			return err
		}
	}
	if failed > 0 {
		return fmt.Errorf("%w: %d of %d", ErrJobsFailed, failed, len(jobs))
	}
	return nil
}

func submitFile(ctx context.Context, c *client.Client, path string, opts job.Options, prio job.Priority) (status.Record, error) {
	f, err := os.Open(path)
	if err != nil {
		return status.Record{}, err
	}
	defer f.Close()
	return c.Submit(ctx, client.SubmitRequest{Image: f, Filename: path, Options: opts, Priority: prio})
}

// jobOutput is the JSON printed for a job: client.Job plus the bucket and
// the source image.
type jobOutput struct {
	client.Job
	Bucket string `json:"bucket"`
	Image  string `json:"image,omitempty"`
}

func printRecord(ctx context.Context, c *client.Client, w io.Writer, rec status.Record, image string, asJSON, withResults bool) error {
	var files []client.ResultFile
	if withResults || rec.State == status.StateSucceeded {
		var err error
		if files, err = c.ResultURLs(ctx, rec); err != nil {
			return err
		}
	}
	if asJSON {
		b, err := json.Marshal(jobOutput{client.Job{Record: rec, Results: files}, c.Storage().Bucket(), image})
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	line := func(k, format string, a ...any) { fmt.Fprintf(tw, "%s:\t"+format+"\n", append([]any{k}, a...)...) }
	line("id", "%s", rec.ID)
	if image != "" {
		line("image", "%s", image)
	}
	state := string(rec.State)
	if rec.State == status.StateRunning && rec.Stage != "" {
		state += fmt.Sprintf(" (%s, %d%%)", rec.Stage, rec.Percent)
	}
	if rec.CancelRequested && !rec.State.Terminal() {
		state += " (cancel requested)"
	}
	line("state", "%s", state)
	line("tenant", "%s", rec.Tenant)
	line("input", "s3://%s/%s", c.Storage().Bucket(), rec.Input)
	if rec.Worker != "" {
		line("worker", "%s on %s, attempt %d", rec.Worker, rec.Device, rec.Attempts)
	}
	if rec.ErrorCode != "" || rec.ErrorMessage != "" {
		line("error", "%s: %s", rec.ErrorCode, rec.ErrorMessage)
	}
	line("created", "%s", rec.CreatedAt.Format(time.RFC3339))
	if !rec.FinishedAt.IsZero() {
		line("finished", "%s (%s after creation)", rec.FinishedAt.Format(time.RFC3339), rec.FinishedAt.Sub(rec.CreatedAt).Round(time.Millisecond))
	}
	for _, f := range files {
		line("result", "s3://%s/%s", c.Storage().Bucket(), f.Key)
		line("  url", "%s", f.URL)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintln(w)
	return err
}

func cmdJob(ctx context.Context, name string, args []string, stdout, stderr io.Writer, env config.LookupEnv) error {
	cmd := newCommand(name, stderr, env)
	asJSON := cmd.fs.Bool("json", false, "print JSON (one object per line)")
	pos, err := cmd.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("%w: %s needs exactly one job ID", ErrUsage, name)
	}
	id := pos[0]
	c, err := cmd.connect(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	switch name {
	case "status":
		rec, err := c.Get(ctx, id)
		if err != nil {
			return err
		}
		return printRecord(ctx, c, stdout, rec, "", *asJSON, false)
	case "cancel":
		rec, err := c.Cancel(ctx, id)
		if err != nil {
			return err
		}
		return printRecord(ctx, c, stdout, rec, "", *asJSON, false)
	}
	ch, err := c.Watch(ctx, id)
	if err != nil {
		return err
	}
	var last status.Record
	for rec := range ch {
		last = rec
		if *asJSON {
			var files []client.ResultFile
			if rec.State == status.StateSucceeded {
				if files, err = c.ResultURLs(ctx, rec); err != nil {
					return err
				}
			}
			b, err := json.Marshal(jobOutput{Job: client.Job{Record: rec, Results: files}, Bucket: c.Storage().Bucket()})
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "%s\n", b)
			continue
		}
		detail := ""
		switch {
		case rec.State == status.StateRunning && rec.Stage != "":
			detail = fmt.Sprintf(" %s %d%%", rec.Stage, rec.Percent)
		case rec.ErrorCode != "":
			detail = " " + rec.ErrorCode + ": " + rec.ErrorMessage
		}
		if rec.CancelRequested && !rec.State.Terminal() {
			detail += " (cancel requested)"
		}
		fmt.Fprintf(stdout, "%s %s %s%s\n", rec.UpdatedAt.Format("15:04:05.000"), rec.ID, rec.State, detail)
	}
	if !last.State.Terminal() {
		if err := ctx.Err(); err != nil {
			return err
		}
		return fmt.Errorf("watch %s ended in state %s", id, last.State)
	}
	if last.State == status.StateSucceeded && !*asJSON {
		return printRecord(ctx, c, stdout, last, "", false, true)
	}
	return nil
}

func cmdServe(ctx context.Context, args []string, stdout, stderr io.Writer, env config.LookupEnv) error {
	cmd := newCommand("serve", stderr, env)
	if err := cmd.parseNoArgs(args); err != nil {
		return err
	}
	cfg, err := cmd.load()
	if err != nil {
		return err
	}
	log := cfg.Logger(stderr)
	keys, err := cfg.LoadAPIKeys()
	if err != nil {
		return err
	}
	if len(keys) == 0 {
		return fmt.Errorf("%w: serve needs API keys (--api-keys-file or FACEFLEET_API_KEYS)", config.ErrInvalid)
	}
	c, err := connect(ctx, cfg, stderr)
	if err != nil {
		return err
	}
	defer c.Close()
	s, err := api.New(c, api.Options{Keys: keys, MaxUploadBytes: cfg.MaxUploadBytes, Logger: log, Console: console.Handler()})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return err
	}
	tenants := map[string]bool{}
	for _, k := range keys {
		tenants[k.Tenant] = true
	}
	log.Info("producer API listening", "addr", ln.Addr().String(), "tenants", len(tenants), "config", cfg)
	fmt.Fprintf(stdout, "listening on http://%s\n", strings.Replace(ln.Addr().String(), "[::]", "127.0.0.1", 1))
	return s.Serve(ctx, ln)
}
