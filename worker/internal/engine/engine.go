// Package engine runs facefleet's neural networks on ONNX Runtime: BlazeFace
// face detection (short-range 128×128 and full-range 256×256), FaceMesh
// landmarks (468 points from a 192×192 crop), FaceMesh with attention on the
// same crop (MediaPipe's refined-mesh irises: 478 points) and the Face
// Landmarker v2 + blendshape models, with MediaPipe's pre- and
// post-processing (letterboxing, SSD anchors, weighted NMS, rotated ROI crop,
// landmark projection) implemented in Go. It is the one package that talks
// to ONNX Runtime (sessions, their options, the execution providers).
//
// An Engine owns one ORT session per network on one device. Its methods are
// safe for concurrent use but serialised by a mutex, because they reuse the
// engine's input and output buffers. `worker run` builds one Engine per
// device and shares it among that device's slots: a slot's inference waits
// for the others', while decoding, texture, geometry, encoding and upload run
// in parallel. Sessions are created once in New and never per image.
//
// Input normalisation, verified against the real photos in testdata (see
// TestInputNormalisation): the detectors take RGB in [-1, 1] (NHWC), the
// landmark network takes RGB in [0, 1] (NCHW), as in MediaPipe's graphs.
package engine

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/facefleet/facefleet/models"
	"github.com/facefleet/facefleet/shared/device"
)

// Sentinel errors; every error the package returns that falls in one of these
// classes wraps it, so callers test with errors.Is.
var (
	// ErrRuntimeUnavailable: the ONNX Runtime shared library is missing or
	// cannot be loaded.
	ErrRuntimeUnavailable = errors.New("engine: onnx runtime unavailable")
	// ErrProviderUnavailable: the execution provider of the requested
	// device (CUDA, TensorRT) is not available in the loaded runtime or on
	// this machine.
	ErrProviderUnavailable = errors.New("engine: execution provider unavailable")
	// ErrInvalidDevice: a device string or kind that is not cpu, cuda:N or
	// tensorrt:N.
	ErrInvalidDevice = device.ErrInvalid
	// ErrInvalidOptions: bad Config, DetectOptions or arguments.
	ErrInvalidOptions = errors.New("engine: invalid options")
	// ErrModel: a model file is missing or has unexpected inputs/outputs.
	ErrModel = errors.New("engine: unexpected model")
	// ErrClosed: the Engine was used after Close.
	ErrClosed = errors.New("engine: closed")
)

// Device kinds (shared/device owns the syntax).
const (
	KindCPU      = device.KindCPU
	KindCUDA     = device.KindCUDA
	KindTensorRT = device.KindTensorRT
)

// Device names an execution device: the CPU, or a GPU by ordinal through the
// CUDA or TensorRT execution provider (shared/device.Device).
type Device = device.Device

// ParseDevice parses "cpu", "cuda", "cuda:N", "tensorrt" or "tensorrt:N"
// (case-insensitive; a missing ordinal means 0): device.Parse.
func ParseDevice(s string) (Device, error) { return device.Parse(s) }

// DefaultIntraOpThreads is the intra-op thread count of a session when
// Config.IntraOpThreads is 0. One: the networks are small (64–256 px
// inputs), and on the CPU every one of them runs faster on one thread than
// on ORT's default pool of one per core (measured on 2 cores: FaceMesh 2.1
// vs 2.5 ms, Face Landmarker v2 8.6 vs 9.3, iris 2.3 vs 3.2), while the
// other cores serve the other slots and the CPU stages. A worker scales on
// the CPU with SlotsPerDevice, not with threads inside one network.
const DefaultIntraOpThreads = 1

// Config configures New.
type Config struct {
	// LibraryPath is the libonnxruntime.so path. "" means $FACEFLEET_ORT_LIB,
	// then DefaultLibraryPath. The first successful New fixes it for the
	// process.
	LibraryPath string
	// Device to run on. The zero value means the CPU.
	Device Device
	// Precision of the model files: models.FP32 or models.FP16 ("auto" is
	// resolved by the caller). "" means FP32.
	Precision models.Precision
	// IntraOpThreads is ORT's intra-op thread count per session; 0 means
	// DefaultIntraOpThreads.
	IntraOpThreads int
	// MinPresence is the face-presence score below which Landmarks drops a
	// face; 0 means 0.5 (MediaPipe's threshold).
	MinPresence float32
	// MaxBatch caps the faces per landmark Run when the landmark model has a
	// dynamic batch dimension; 0 means 16.
	MaxBatch int
	// TensorRTCacheDir, for tensorrt devices, enables TensorRT's engine cache
	// in this directory; "" disables it.
	TensorRTCacheDir string
	// Logger receives session setup messages; nil discards them.
	Logger *slog.Logger
}

func (c *Config) normalise() error {
	if c.Device.Kind == "" {
		c.Device.Kind = KindCPU
	}
	if c.Precision == "" {
		c.Precision = models.FP32
	}
	if c.MinPresence == 0 {
		c.MinPresence = defaultMinPresence
	}
	if c.MaxBatch == 0 {
		c.MaxBatch = 16
	}
	if c.IntraOpThreads == 0 {
		c.IntraOpThreads = DefaultIntraOpThreads
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	var errs []error
	switch c.Device.Kind {
	case KindCPU, KindCUDA, KindTensorRT:
	default:
		errs = append(errs, fmt.Errorf("%w: kind %q", ErrInvalidDevice, c.Device.Kind))
	}
	if c.Device.ID < 0 {
		errs = append(errs, fmt.Errorf("%w: negative ordinal %d", ErrInvalidDevice, c.Device.ID))
	}
	if c.Precision != models.FP32 && c.Precision != models.FP16 {
		errs = append(errs, fmt.Errorf("%w: precision %q (want fp32 or fp16)", ErrInvalidOptions, c.Precision))
	}
	if c.IntraOpThreads < 0 {
		errs = append(errs, fmt.Errorf("%w: IntraOpThreads %d < 0", ErrInvalidOptions, c.IntraOpThreads))
	}
	if c.MinPresence < 0 || c.MinPresence > 1 {
		errs = append(errs, fmt.Errorf("%w: MinPresence %v outside [0,1]", ErrInvalidOptions, c.MinPresence))
	}
	if c.MaxBatch < 0 {
		errs = append(errs, fmt.Errorf("%w: MaxBatch %d < 0", ErrInvalidOptions, c.MaxBatch))
	}
	return errors.Join(errs...)
}

// Engine runs detection and landmark networks on one device. See the package
// documentation for its concurrency contract.
type Engine struct {
	cfg Config
	log *slog.Logger

	mu       sync.Mutex
	closed   bool
	short    *detector
	full     *detector
	landmark *session
	// attention is FaceMesh with attention (refined lips, eyes, irises).
	attention *session
	v2        *session
	blend     *session
	lmBuf     landmarkScratch
}

// New creates the short- and full-range detector sessions and the landmark
// session on cfg.Device, and runs each once to warm it up.
func New(cfg Config) (*Engine, error) {
	if err := cfg.normalise(); err != nil {
		return nil, err
	}
	if err := initRuntime(ResolveLibraryPath(cfg.LibraryPath)); err != nil {
		return nil, err
	}
	so, err := newSessionOptions(cfg)
	if err != nil {
		return nil, err
	}
	defer so.Destroy()

	e := &Engine{cfg: cfg, log: cfg.Logger.With(slog.String("device", cfg.Device.String()))}
	ok := false
	defer func() {
		if !ok {
			e.destroy()
		}
	}()
	if e.short, err = newDetector(shortRange, so, cfg.Precision); err != nil {
		return nil, err
	}
	if e.full, err = newDetector(fullRange, so, cfg.Precision); err != nil {
		return nil, err
	}
	if e.landmark, err = newSession(models.Landmark, so, cfg.Precision, landmarkInput, landmarkOutputs); err != nil {
		return nil, err
	}
	if err := e.landmark.expectInput(3, landmarkSize, landmarkSize); err != nil {
		return nil, err
	}
	if e.attention, err = newSession(models.LandmarkAttention, so, cfg.Precision, attentionInput, attentionOutputs); err != nil {
		return nil, err
	}
	if err := e.attention.expectInput(3, landmarkSize, landmarkSize); err != nil {
		return nil, err
	}
	if e.v2, err = newSession(models.LandmarkV2, so, cfg.Precision, v2Input, []string{v2Coords, v2Presence}); err != nil {
		return nil, err
	}
	if err := e.v2.expectInput(3, v2Size, v2Size); err != nil {
		return nil, err
	}
	// The blendshape MLP costs well under a millisecond: always FP32.
	if e.blend, err = newSession(models.Blendshapes, so, models.FP32, blendshapesInput, []string{blendshapesOutput}); err != nil {
		return nil, err
	}
	if err := e.blend.expectInput(int64(len(blendshapeLandmarks)), 2); err != nil {
		return nil, err
	}
	for _, s := range e.sessions() {
		if _, err := s.run(1); err != nil {
			return nil, fmt.Errorf("engine: warm-up %s: %w", s.model, err)
		}
	}
	e.log.Info("engine ready",
		slog.String("precision", string(cfg.Precision)),
		slog.Bool("landmark_batching", e.landmark.dynamic),
		slog.String("ort", RuntimeVersion()))
	ok = true
	return e, nil
}

// Precision is the precision of the loaded model files.
func (e *Engine) Precision() models.Precision { return e.cfg.Precision }

// Device is the device the sessions run on.
func (e *Engine) Device() Device { return e.cfg.Device }

// BatchesLandmarks reports whether the landmark model takes several faces in
// one Run (dynamic batch dimension, as in the FP16 pack).
func (e *Engine) BatchesLandmarks() bool { return e.landmark.dynamic }

// Close releases the sessions. The process-wide ORT environment stays.
// Close is idempotent.
func (e *Engine) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil
	}
	e.closed = true
	return e.destroy()
}

func (e *Engine) destroy() error {
	var errs []error
	for _, s := range e.sessions() {
		errs = append(errs, s.destroy())
	}
	return errors.Join(errs...)
}

// sessions are the engine's sessions that exist, detectors first.
func (e *Engine) sessions() []*session {
	var ss []*session
	for _, d := range []*detector{e.short, e.full} {
		if d != nil && d.sess != nil {
			ss = append(ss, d.sess)
		}
	}
	for _, s := range []*session{e.landmark, e.attention, e.v2, e.blend} {
		if s != nil {
			ss = append(ss, s)
		}
	}
	return ss
}
