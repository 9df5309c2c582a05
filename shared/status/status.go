// Package status keeps the live status record of each job in Redis.
//
// A record is a Redis hash at "facefleet:job:<id>" (fields below, all
// strings; outputs, timings and options hold JSON). Every write goes through
// one Lua script (transition.lua) that enforces the state machine
// queued < running < terminal (succeeded | failed | canceled): a terminal
// record never changes (except Requeue: an operator resubmits a failed job),
// percent never decreases within a run, and a stale or duplicate delivery
// never moves a job backwards. The script refreshes the
// record's TTL and publishes the full record as a JSON object of those string
// fields on "facefleet:job:<id>:events" on every change.
//
// Hash fields: id tenant state stage percent attempts worker device timings
// error_code error_message input outputs options cancel_requested created_at
// updated_at started_at finished_at revision (incremented by every change).
package status

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// State of a job.
type State string

// States, in order; the last three are terminal.
const (
	StateQueued    State = "queued"
	StateRunning   State = "running"
	StateSucceeded State = "succeeded"
	StateFailed    State = "failed"
	StateCanceled  State = "canceled"
)

// Terminal reports whether s is succeeded, failed or canceled.
func (s State) Terminal() bool {
	return s == StateSucceeded || s == StateFailed || s == StateCanceled
}

// Sentinel errors; transition errors are *TransitionError wrapping one.
var (
	// ErrNotFound: no record with that ID (never created, or expired).
	ErrNotFound = errors.New("status: job not found")
	// ErrTerminal: the job already finished; the record did not change.
	ErrTerminal = errors.New("status: job is in a terminal state")
	// ErrStaleTransition: the transition would move the job backwards (an
	// older attempt, a lower percent, progress before start); no change.
	ErrStaleTransition = errors.New("status: stale transition")
)

// TransitionError reports a refused transition and the record as it is.
type TransitionError struct {
	ID  string
	Op  string
	Err error // ErrTerminal or ErrStaleTransition
	// Current is the unchanged record.
	Current Record
}

func (e *TransitionError) Error() string {
	return fmt.Sprintf("status: %s %s (state %s): %v", e.Op, e.ID, e.Current.State, e.Err)
}

// Unwrap returns ErrTerminal or ErrStaleTransition.
func (e *TransitionError) Unwrap() error { return e.Err }

// Record is the status of one job.
type Record struct {
	ID       string `json:"id"`
	Tenant   string `json:"tenant"`
	State    State  `json:"state"`
	Stage    string `json:"stage,omitempty"`
	Percent  int    `json:"percent"`
	Attempts int    `json:"attempts"`
	Worker   string `json:"worker,omitempty"`
	Device   string `json:"device,omitempty"`
	// Timings are stage durations in milliseconds.
	Timings      map[string]float64 `json:"timings,omitempty"`
	ErrorCode    string             `json:"error_code,omitempty"`
	ErrorMessage string             `json:"error_message,omitempty"`
	// Input is the S3 key of the uploaded image.
	Input string `json:"input"`
	// Outputs are the S3 keys of the results.
	Outputs []string `json:"outputs,omitempty"`
	// Options are the job options as submitted (job.Options JSON).
	Options         json.RawMessage `json:"options,omitempty"`
	CancelRequested bool            `json:"cancel_requested"`
	CreatedAt       time.Time       `json:"created_at"`
	UpdatedAt       time.Time       `json:"updated_at"`
	StartedAt       time.Time       `json:"started_at,omitzero"`
	FinishedAt      time.Time       `json:"finished_at,omitzero"`
	// Revision counts the changes to the record (1 after Create).
	Revision int64 `json:"revision"`
}

// Config of a Store.
type Config struct {
	// TTL of a record, refreshed on every write. Default 168h; < 0 = no TTL.
	TTL time.Duration
	// KeyPrefix of record keys and event channels. Default "facefleet:job:".
	KeyPrefix string
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// WaitReplicas > 0 makes every transition wait (Redis WAIT) until that
	// many replicas acknowledge it, up to WaitTimeout, and fail with
	// ErrNotReplicated when fewer do, so that a failover to a replica
	// cannot lose a status its writer was told about. The write itself
	// stands (a retry of the same transition is a no-op). Not for Redis
	// Cluster. Default 0 (off).
	WaitReplicas int
	// WaitTimeout bounds that wait. Default 1s.
	WaitTimeout time.Duration
}

// ErrNotReplicated: a transition was applied on the master but fewer than
// Config.WaitReplicas replicas acknowledged it in time.
var ErrNotReplicated = errors.New("status: write not acknowledged by enough replicas")

// Store reads and writes job status records.
type Store struct {
	rdb         redis.UniversalClient
	ttl         time.Duration
	prefix      string
	now         func() time.Time
	waitN       int
	waitTimeout time.Duration
}

//go:embed transition.lua
var transitionLua string

var transition = redis.NewScript(transitionLua)

// New returns a Store on rdb.
func New(rdb redis.UniversalClient, cfg Config) *Store {
	if cfg.TTL == 0 {
		cfg.TTL = 168 * time.Hour
	}
	if cfg.KeyPrefix == "" {
		cfg.KeyPrefix = "facefleet:job:"
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.WaitTimeout <= 0 {
		cfg.WaitTimeout = time.Second
	}
	return &Store{rdb: rdb, ttl: cfg.TTL, prefix: cfg.KeyPrefix, now: cfg.Now,
		waitN: cfg.WaitReplicas, waitTimeout: cfg.WaitTimeout}
}

// Key returns the Redis key of the record for id.
func (s *Store) Key(id string) string { return s.prefix + id }

// Channel returns the pub/sub channel of events for id: Key(id) + ":events"
// (transition.lua derives it the same way; it is not a key, so the script
// touches one key and is slot-safe in Redis Cluster).
func (s *Store) Channel(id string) string { return s.Key(id) + ":events" }

// run executes one transition and maps the script's result to errors.
func (s *Store) run(ctx context.Context, id, op string, args ...any) (Record, string, error) {
	ttl := int64(0)
	if s.ttl > 0 {
		ttl = s.ttl.Milliseconds()
	}
	argv := append([]any{op, s.now().UTC().Format(time.RFC3339Nano), ttl}, args...)
	res, err := s.eval(ctx, s.Key(id), argv)
	if err != nil {
		return Record{}, "", fmt.Errorf("status: %s %s: %w", op, id, err)
	}
	if len(res) != 2 {
		return Record{}, "", fmt.Errorf("status: %s %s: unexpected script reply %v", op, id, res)
	}
	result, _ := res[0].(string)
	if result == "notfound" {
		return Record{}, result, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	flat, _ := res[1].([]any)
	fields := make(map[string]string, len(flat)/2)
	for i := 0; i+1 < len(flat); i += 2 {
		k, _ := flat[i].(string)
		v, _ := flat[i+1].(string)
		fields[k] = v
	}
	rec, err := decodeFields(fields)
	if err != nil {
		return Record{}, result, err
	}
	switch result {
	case "ok", "nochange", "exists":
		return rec, result, nil
	case "terminal":
		return rec, result, &TransitionError{ID: id, Op: op, Err: ErrTerminal, Current: rec}
	case "stale":
		return rec, result, &TransitionError{ID: id, Op: op, Err: ErrStaleTransition, Current: rec}
	}
	return Record{}, result, fmt.Errorf("status: %s %s: unexpected script result %q", op, id, result)
}

// eval runs the transition script on key. With WaitReplicas it runs the
// script and WAIT on one connection (a pipeline), so WAIT counts the
// replicas that have this write.
func (s *Store) eval(ctx context.Context, key string, argv []any) ([]any, error) {
	keys := []string{key}
	if s.waitN <= 0 {
		return transition.Run(ctx, s.rdb, keys, argv...).Slice()
	}
	for _, sha := range []bool{true, false} {
		var res *redis.Cmd
		var wait *redis.Cmd
		_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			if sha {
				res = transition.EvalSha(ctx, p, keys, argv...)
			} else {
				res = transition.Eval(ctx, p, keys, argv...)
			}
			wait = p.Do(ctx, "WAIT", s.waitN, s.waitTimeout.Milliseconds())
			return nil
		})
		if sha && redis.HasErrorPrefix(res.Err(), "NOSCRIPT") {
			continue // not cached on this server (a promoted replica): send the script
		}
		if err := res.Err(); err != nil {
			return nil, err
		}
		if err != nil {
			return nil, err
		}
		out, err := res.Slice()
		if err != nil {
			return nil, err
		}
		n, err := wait.Int64()
		if err != nil {
			return nil, fmt.Errorf("%w: WAIT: %v", ErrNotReplicated, err)
		}
		if n < int64(s.waitN) {
			return nil, fmt.Errorf("%w: %d of %d within %s", ErrNotReplicated, n, s.waitN, s.waitTimeout)
		}
		return out, nil
	}
	return nil, errors.New("status: transition script not loadable")
}

// Create stores rec as a new queued record (SET-NX semantics). If a record
// with rec.ID exists, it is returned unchanged with created == false (a
// duplicate submit). The ID is added to the tenant's index (List). Only ID, Tenant, Input, Options and CreatedAt (default
// now) are taken from rec; rec.State, if set, must be queued.
func (s *Store) Create(ctx context.Context, rec Record) (_ Record, created bool, err error) {
	if rec.ID == "" {
		return Record{}, false, errors.New("status: create: empty id")
	}
	if rec.State != "" && rec.State != StateQueued {
		return Record{}, false, fmt.Errorf("status: create %s: state must be queued, got %q", rec.ID, rec.State)
	}
	fields, err := s.newRecordFields(rec)
	if err != nil {
		return Record{}, false, fmt.Errorf("status: create %s: %w", rec.ID, err)
	}
	if err := s.index(ctx, rec.Tenant, rec.ID); err != nil {
		return Record{}, false, err
	}
	got, result, err := s.run(ctx, rec.ID, "create", fields...)
	if err != nil {
		return Record{}, false, err
	}
	return got, result == "ok", nil
}

// newRecordFields are the hash fields of a new queued record made from rec
// (ID, Tenant, Input, Options, CreatedAt default now).
func (s *Store) newRecordFields(rec Record) ([]any, error) {
	if rec.CreatedAt.IsZero() {
		rec.CreatedAt = s.now()
	}
	opts := string(rec.Options)
	if opts == "" {
		opts = "null"
	} else if !json.Valid(rec.Options) {
		return nil, errors.New("options are not valid JSON")
	}
	return []any{"id", rec.ID, "tenant", rec.Tenant,
		"state", string(StateQueued), "stage", "", "percent", "0", "attempts", "0", "input", rec.Input,
		"options", opts, "outputs", "[]", "timings", "{}", "cancel_requested", "0",
		"created_at", rec.CreatedAt.UTC().Format(time.RFC3339Nano)}, nil
}

// Start marks a run: queued → running, or a redelivery (attempt greater than
// the recorded one) restarting the run with percent 0. The same attempt again
// is a no-op; a lower attempt is ErrStaleTransition; a finished job is
// ErrTerminal (the worker should then ack and skip the message).
func (s *Store) Start(ctx context.Context, id, worker, device string, attempt int) (Record, error) {
	rec, _, err := s.run(ctx, id, "start", worker, device, strconv.Itoa(attempt))
	return rec, err
}

// Progress records the current stage and percent (0..100) of a running job.
// A lower percent than recorded, or a job that is not running, is
// ErrStaleTransition; a finished job is ErrTerminal. The returned record
// carries CancelRequested, so workers learn of a cancel on each report.
// Progress carries no attempt number: a worker whose run was superseded by a
// redelivery should compare the returned record's Attempts and Worker with
// its own and stop when they differ.
func (s *Store) Progress(ctx context.Context, id, stage string, percent int) (Record, error) {
	if percent < 0 || percent > 100 {
		return Record{}, fmt.Errorf("status: progress %s: percent %d out of 0..100", id, percent)
	}
	rec, _, err := s.run(ctx, id, "progress", stage, strconv.Itoa(percent))
	return rec, err
}

// Succeed marks a running job succeeded with its output keys and stage
// timings (ms). A job that is not running is ErrStaleTransition; a finished
// one ErrTerminal.
func (s *Store) Succeed(ctx context.Context, id string, outputs []string, timings map[string]float64) (Record, error) {
	if outputs == nil {
		outputs = []string{}
	}
	if timings == nil {
		timings = map[string]float64{}
	}
	o, err := json.Marshal(outputs)
	if err != nil {
		return Record{}, fmt.Errorf("status: succeed %s: %w", id, err)
	}
	tm, err := json.Marshal(timings)
	if err != nil {
		return Record{}, fmt.Errorf("status: succeed %s: %w", id, err)
	}
	rec, _, err := s.run(ctx, id, "succeed", string(o), string(tm))
	return rec, err
}

// Fail marks a queued or running job failed with a machine code (e.g.
// "image_undecodable") and a message. A finished job is ErrTerminal.
func (s *Store) Fail(ctx context.Context, id, code, msg string) (Record, error) {
	rec, _, err := s.run(ctx, id, "fail", code, msg)
	return rec, err
}

// RequestCancel cancels a queued job at once (state canceled) or sets
// CancelRequested on a running one (the worker stops and calls Canceled).
// A finished job is ErrTerminal.
func (s *Store) RequestCancel(ctx context.Context, id string) (Record, error) {
	rec, _, err := s.run(ctx, id, "cancel")
	return rec, err
}

// Canceled marks a queued or running job canceled (the worker confirms a
// requested cancel). A finished job is ErrTerminal.
func (s *Store) Canceled(ctx context.Context, id string) (Record, error) {
	rec, _, err := s.run(ctx, id, "canceled")
	return rec, err
}

// Get returns the record for id, or ErrNotFound.
func (s *Store) Get(ctx context.Context, id string) (Record, error) {
	fields, err := s.rdb.HGetAll(ctx, s.Key(id)).Result()
	if err != nil {
		return Record{}, fmt.Errorf("status: get %s: %w", id, err)
	}
	if len(fields) == 0 {
		return Record{}, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	return decodeFields(fields)
}

// TTL returns the remaining time to live of the record (for tests and ops).
func (s *Store) TTL(ctx context.Context, id string) (time.Duration, error) {
	d, err := s.rdb.PTTL(ctx, s.Key(id)).Result()
	if err != nil {
		return 0, fmt.Errorf("status: ttl %s: %w", id, err)
	}
	if d == -2*time.Millisecond || d == -2 {
		return 0, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	return d, nil
}

// decodeFields turns hash fields into a Record.
func decodeFields(f map[string]string) (Record, error) {
	r := Record{
		ID: f["id"], Tenant: f["tenant"], State: State(f["state"]), Stage: f["stage"],
		Worker: f["worker"], Device: f["device"], ErrorCode: f["error_code"],
		ErrorMessage: f["error_message"], Input: f["input"], CancelRequested: f["cancel_requested"] == "1",
	}
	var errs []error
	atoi := func(k string) int {
		if f[k] == "" {
			return 0
		}
		n, err := strconv.Atoi(f[k])
		if err != nil {
			errs = append(errs, fmt.Errorf("field %s: %w", k, err))
		}
		return n
	}
	ts := func(k string) time.Time {
		if f[k] == "" {
			return time.Time{}
		}
		t, err := time.Parse(time.RFC3339Nano, f[k])
		if err != nil {
			errs = append(errs, fmt.Errorf("field %s: %w", k, err))
		}
		return t
	}
	r.Percent, r.Attempts, r.Revision = atoi("percent"), atoi("attempts"), int64(atoi("revision"))
	r.CreatedAt, r.UpdatedAt, r.StartedAt, r.FinishedAt = ts("created_at"), ts("updated_at"), ts("started_at"), ts("finished_at")
	if v := f["timings"]; v != "" && v != "{}" {
		if err := json.Unmarshal([]byte(v), &r.Timings); err != nil {
			errs = append(errs, fmt.Errorf("field timings: %w", err))
		}
	}
	if v := f["outputs"]; v != "" && v != "[]" {
		if err := json.Unmarshal([]byte(v), &r.Outputs); err != nil {
			errs = append(errs, fmt.Errorf("field outputs: %w", err))
		}
	}
	if v := f["options"]; v != "" && v != "null" {
		if !json.Valid([]byte(v)) {
			errs = append(errs, errors.New("field options: not valid JSON"))
		}
		r.Options = json.RawMessage(v)
	}
	if len(errs) > 0 {
		return Record{}, fmt.Errorf("status: corrupt record %s: %w", r.ID, errors.Join(errs...))
	}
	return r, nil
}
