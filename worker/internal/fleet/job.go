package fleet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/facefleet/facefleet/shared/errcode"
	"github.com/facefleet/facefleet/shared/job"
	"github.com/facefleet/facefleet/shared/queue"
	"github.com/facefleet/facefleet/shared/status"
	"github.com/facefleet/facefleet/shared/storage"
	"github.com/facefleet/facefleet/worker/internal/pipeline"
)

// StageUpload names the upload of result files in timings and progress.
const StageUpload = "upload"

// finishTimeout bounds the status write, dead-letter publish and ack after a
// job ends (they run even when the job's own context is cancelled).
const finishTimeout = 10 * time.Second

// handle processes one message from decode to ack. It never panics.
func (w *Worker) handle(ctx context.Context, msg jetstream.Msg) {
	attempt := numDelivered(msg)
	start := time.Now()
	w.m.Inflight.WithLabelValues(w.cfg.Device).Inc()
	defer w.m.Inflight.WithLabelValues(w.cfg.Device).Dec()

	m, err := job.Decode(msg.Data())
	if err != nil {
		seed := lenientRecord(msg.Data())
		log := w.log.With(slog.String("job_id", seed.ID), slog.Uint64("attempt", attempt))
		w.finish(ctx, log, msg, nil, seed, attempt, Permanent(fmt.Errorf("decode job message: %w", err), errcode.InvalidJob))
		return
	}
	log := w.log.With(slog.String("job_id", m.ID), slog.Uint64("attempt", attempt))

	// Heartbeats keep JetStream from redelivering a long job.
	hbCtx, stopHB := context.WithCancel(ctx)
	var hb sync.WaitGroup
	hb.Add(1)
	go func() {
		defer hb.Done()
		w.heartbeat(hbCtx, log, msg)
	}()
	err = w.process(ctx, log, m, int(min(attempt, 1<<30)))
	stopHB()
	hb.Wait()

	a := w.finish(ctx, log, msg, m, recordOf(m), attempt, err)
	log.Info("job done", slog.Duration("took", time.Since(start)), slog.String("action", a.Verb.String()), slog.String("code", a.Code.String()))
}

// lenientRecord reads what it can of a message that failed strict
// decoding, so that its failure can still be recorded: the ID when it is a
// well-formed job ID (else the record has none and nothing is stored), the
// tenant and input key when they are valid.
func lenientRecord(data []byte) status.Record {
	if len(data) > job.MaxMessageBytes {
		return status.Record{}
	}
	var v struct {
		ID     any `json:"id"`
		Tenant any `json:"tenant"`
		Input  struct {
			Key any `json:"key"`
		} `json:"input"`
	}
	if json.Unmarshal(data, &v) != nil {
		// A wrong type elsewhere must not hide the ID: read the fields alone.
		var fields map[string]json.RawMessage
		if json.Unmarshal(data, &fields) != nil {
			return status.Record{}
		}
		_ = json.Unmarshal(fields["id"], &v.ID)
		_ = json.Unmarshal(fields["tenant"], &v.Tenant)
	}
	id, _ := v.ID.(string)
	if !job.ValidID(id) {
		return status.Record{}
	}
	rec := status.Record{ID: id}
	if t, _ := v.Tenant.(string); job.ValidTenant(t) {
		rec.Tenant = t
	}
	if k, _ := v.Input.Key.(string); job.ValidateKey(k) == nil {
		rec.Input = k
	}
	return rec
}

// recordOf is the record the producer creates for m: tenant, input,
// options and submitted_at (as created_at).
func recordOf(m *job.Message) status.Record {
	opts, _ := json.Marshal(m.Options) // plain struct: cannot fail
	return status.Record{ID: m.ID, Tenant: m.Tenant, Input: m.Input.Key, Options: opts, CreatedAt: m.SubmittedAt}
}

// errAlreadyDone: the job reached a terminal state before this delivery.
var errAlreadyDone = errors.New("fleet: job already finished")

// process runs the job and records success. A returned error is decided by
// finish; panics become ErrPanic.
func (w *Worker) process(ctx context.Context, log *slog.Logger, m *job.Message, attempt int) (err error) {
	defer func() {
		if r := recover(); r != nil {
			log.Error("job panicked", slog.Any("panic", r), slog.String("stack", trimStack(debug.Stack())))
			err = fmt.Errorf("%w: %v", ErrPanic, r)
		}
	}()
	jobCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	jobCtx, cancelTimeout := context.WithTimeoutCause(jobCtx, w.cfg.JobTimeout,
		fmt.Errorf("%w after %v", ErrJobTimeout, w.cfg.JobTimeout))
	defer cancelTimeout()
	// cause names why the job context ended, when it did.
	cause := func(err error) error {
		if err == nil || jobCtx.Err() == nil {
			return err
		}
		if c := context.Cause(jobCtx); c != nil && !errors.Is(err, c) {
			return fmt.Errorf("%w: %w", c, err)
		}
		return err
	}

	if w.cfg.Bucket != "" && m.Input.Bucket != w.cfg.Bucket {
		return Permanent(fmt.Errorf("input.bucket %q: this fleet reads inputs from bucket %q", m.Input.Bucket, w.cfg.Bucket), errcode.InvalidJob)
	}
	rec, err := w.deps.Status.StartTenant(jobCtx, m.Tenant, m.ID, w.cfg.Name, w.cfg.Device, attempt)
	if errors.Is(err, status.ErrNotFound) {
		// A raw publish (not through the producer): the message is valid, so
		// the job gets its record here, with the same transition rules.
		if err := w.createRecord(jobCtx, m); err != nil {
			return cause(fmt.Errorf("create record: %w", err))
		}
		log.Info("status record created by the worker (job published without the producer)")
		rec, err = w.deps.Status.StartTenant(jobCtx, m.Tenant, m.ID, w.cfg.Name, w.cfg.Device, attempt)
	}
	var te *status.TransitionError
	switch {
	case errors.Is(err, status.ErrTerminal):
		return errAlreadyDone
	case errors.As(err, &te) && errors.Is(err, status.ErrStaleTransition) && te.Current.Tenant != m.Tenant:
		return Permanent(fmt.Errorf("job %s belongs to another tenant than %q", m.ID, m.Tenant), errcode.InvalidJob)
	case err != nil:
		return cause(fmt.Errorf("mark running: %w", err))
	case rec.CancelRequested:
		return ErrCanceled
	}
	w.deps.Notifier.Notify(jobCtx, job.EventStarted, m, rec)

	data, err := w.deps.Images.Get(jobCtx, m.Input.Key, w.cfg.MaxImageBytes)
	switch {
	case errors.Is(err, storage.ErrTooLarge):
		return Permanent(err, errcode.ImageTooLarge)
	case errors.Is(err, storage.ErrNotFound):
		return Permanent(err, errcode.InputNotFound)
	case err != nil:
		return cause(fmt.Errorf("read input: %w", err))
	}

	// progress records each stage and learns of cancel requests: the
	// pipeline checks its context right after calling it.
	progress := func(stage string, percent int) {
		rec, err := w.deps.Status.Progress(jobCtx, m.ID, stage, percent)
		if err == nil {
			w.deps.Notifier.Notify(jobCtx, job.EventProgress, m, rec)
		}
		switch {
		case err == nil && rec.CancelRequested:
			cancel(ErrCanceled)
		case errors.Is(err, status.ErrTerminal):
			cancel(errAlreadyDone)
		case err != nil:
			log.Warn("progress not recorded", slog.String("stage", stage), slog.Any("error", err))
		}
	}
	out, err := w.deps.Processor.Run(jobCtx, data, pipeline.FromJob(m.Options), progress)
	if err != nil {
		return cause(err)
	}
	defer out.Release()

	upStart := time.Now()
	keys := make([]string, 0, len(out.Files))
	for _, f := range out.Files {
		key, err := storage.ResultKey(m.ID, f.Path)
		if err != nil {
			return fmt.Errorf("result key: %w", err)
		}
		if err := w.deps.Images.PutBytes(jobCtx, key, f.Data, f.ContentType); err != nil {
			return cause(fmt.Errorf("upload %s: %w", f.Path, err))
		}
		keys = append(keys, key)
	}
	tm := timings(out.Result.TimingsMS, time.Since(upStart))
	if err := cause(jobCtx.Err()); err != nil {
		return err
	}
	done, err := w.deps.Status.Succeed(jobCtx, m.ID, keys, tm)
	if err != nil {
		if errors.Is(err, status.ErrTerminal) {
			return errAlreadyDone
		}
		return cause(fmt.Errorf("mark succeeded: %w", err))
	}
	w.deps.Notifier.Notify(jobCtx, job.EventSucceeded, m, done)
	for stage, ms := range tm {
		if stage != "total" {
			w.m.StageSeconds.WithLabelValues(stage).Observe(ms / 1000)
		}
	}
	return nil
}

// createRecord stores the queued record of a job whose message arrived
// without one, as the producer would have (recordOf). An existing record is
// left as it is.
func (w *Worker) createRecord(ctx context.Context, m *job.Message) error {
	_, _, err := w.deps.Status.Create(ctx, recordOf(m))
	return err
}

// timings flattens the pipeline's stage timings and adds the upload.
func timings(t pipeline.Timings, upload time.Duration) map[string]float64 {
	m := t.Stages()
	m[StageUpload] = float64(upload.Microseconds()) / 1000
	m["total"] = t.Total + m[StageUpload]
	return m
}

// heartbeat tells JetStream the job is alive every AckWait/3 until ctx ends.
func (w *Worker) heartbeat(ctx context.Context, log *slog.Logger, msg jetstream.Msg) {
	t := time.NewTicker(max(w.cfg.AckWait/3, time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			o := Outcome{Running: true}
			if err := w.apply(ctx, log, msg, o, Decide(o, nil), nil, status.Record{}); err != nil {
				log.Warn("heartbeat failed", slog.Any("error", err))
			}
		}
	}
}

// finish decides what err means for the job and carries it out.
// m is the decoded message (nil when it could not be decoded); rec
// identifies the job (rec.ID "" when the message has no usable ID) and
// holds what a record created for it gets (status.Store.Reject). It
// returns what Decide said.
func (w *Worker) finish(ctx context.Context, log *slog.Logger, msg jetstream.Msg, m *job.Message, rec status.Record, attempt uint64, err error) Action {
	o := Outcome{Err: err, NumDelivered: attempt, MaxDeliver: w.cfg.MaxDeliver}
	a := Decide(o, w.cfg.Retry)
	if a.Metric != "" {
		w.m.Jobs.WithLabelValues(a.Metric).Inc()
	}
	switch {
	case err != nil && a.Verb == Ack:
		log.Info("job already finished; acking this delivery without work")
	case err != nil:
		lvl := slog.LevelWarn
		if a.Verb == Term && a.Status == status.StateFailed {
			lvl = slog.LevelError
		}
		log.Log(ctx, lvl, "job not completed", slog.String("action", a.Verb.String()),
			slog.Duration("delay", a.Delay), slog.String("code", a.Code.String()), slog.Any("error", err))
	}
	// The job's context may be cancelled (shutdown); finishing must still happen.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finishTimeout)
	defer cancel()
	if aerr := w.apply(fctx, log, msg, o, a, m, rec); aerr != nil {
		log.Error("finishing job failed (nak'd for redelivery, or dead-lettered on its last delivery)", slog.Any("error", aerr))
	}
	return a
}

// apply carries out a, Decide's answer to o: status, dead letter, then the
// JetStream verb. If a terminal status cannot be stored, it carries out
// what Decide says for that instead (Outcome.StatusErr).
func (w *Worker) apply(ctx context.Context, log *slog.Logger, msg jetstream.Msg, o Outcome, a Action, m *job.Message, rec status.Record) error {
	rej := queue.Rejection{Reason: a.Reason, Code: a.Code.String(), JobID: rec.ID}
	if a.Status != "" && rec.ID != "" {
		var (
			stored status.Record
			err    error
			event  string
		)
		switch a.Status {
		case status.StateFailed:
			stored, err = w.deps.Status.Reject(ctx, rec, a.Code.String(), a.Reason)
			event = job.EventFailed
		case status.StateCanceled:
			stored, err = w.deps.Status.Canceled(ctx, rec.ID)
			event = job.EventCanceled
		}
		if err == nil {
			w.deps.Notifier.Notify(ctx, event, m, stored)
		}
		if errors.Is(err, status.ErrTerminal) || errors.Is(err, status.ErrNotFound) || errors.Is(err, status.ErrStaleTransition) {
			log.Info("status not changed", slog.String("status", string(a.Status)), slog.Any("error", err))
			err = nil
		}
		if err != nil {
			serr := fmt.Errorf("store status %s: %w", a.Status, err)
			o.StatusErr = err
			return errors.Join(serr, w.apply(ctx, log, msg, o, Decide(o, w.cfg.Retry), m, rec))
		}
	}
	if a.DeadLetter {
		if err := w.deps.Queue.DeadLetter(ctx, msg, rej); err != nil {
			log.Error("dead-letter publish failed", slog.Any("error", err))
		}
	}
	switch a.Verb {
	case Ack:
		return w.ack(ctx, log, msg)
	case Nak:
		if a.Delay > 0 {
			return msg.NakWithDelay(a.Delay)
		}
		return msg.Nak()
	case InProgress:
		return msg.InProgress()
	case Term:
		return msg.TermWithReason(a.Reason)
	}
	return fmt.Errorf("fleet: unknown verb %v", a.Verb)
}

// ack acknowledges msg and waits for the server to confirm it, so that a
// finished job is not redelivered.
func (w *Worker) ack(ctx context.Context, log *slog.Logger, msg jetstream.Msg) error {
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finishTimeout)
	defer cancel()
	err := msg.DoubleAck(actx)
	if err != nil {
		log.Warn("ack not confirmed", slog.Any("error", err))
	}
	return err
}

// trimStack keeps the frames of a panic stack below the runtime's own
// panic machinery, at most 20 lines.
func trimStack(stack []byte) string {
	lines := strings.Split(strings.TrimSpace(string(stack)), "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "panic(") {
			lines = lines[i:]
			break
		}
	}
	if len(lines) > 20 {
		lines = lines[:20]
	}
	return strings.Join(lines, "\n")
}
