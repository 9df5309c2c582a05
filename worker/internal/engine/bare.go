package engine

import (
	"fmt"
	"slices"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/facefleet/facefleet/models"
)

// FaceNetwork is one network Landmarks runs for each face, at the
// precision the engine loaded it, and how many times per face.
type FaceNetwork struct {
	Model     models.Model
	Precision models.Precision
	Runs      int
}

// PerFaceNetworks are the networks Landmarks runs for each face: FaceMesh,
// FaceMesh with attention (the irises), the Face Landmarker v2 points and
// the blendshape MLP (always FP32).
func (e *Engine) PerFaceNetworks() []FaceNetwork {
	p := e.cfg.Precision
	return []FaceNetwork{
		{models.Landmark, p, 1}, {models.LandmarkAttention, p, 1}, {models.LandmarkV2, p, 1}, {models.Blendshapes, models.FP32, 1},
	}
}

// DetectorModel is the network Detect runs for detector (DetectorShort or
// DetectorFull; anything else is the short-range model, as in Detect).
func DetectorModel(detector string) models.Model {
	if detector == DetectorFull {
		return models.DetectorFull
	}
	return models.DetectorShort
}

// Bare is one network of the pack as an ORT session of its own, with the
// engine's session options (device, threads) and zero-filled float32 input
// and output tensors made once, so that Run measures the network's own cost
// and nothing around it: `worker bench`'s upper bound. It is not safe for
// concurrent use; Close releases it.
type Bare struct {
	sess *ort.DynamicAdvancedSession
	in   []ort.Value
	outs []ort.Value
}

// NewBare opens model m at precision p as a Bare session; a dynamic
// dimension is made 1 (one image, one face).
func (e *Engine) NewBare(m models.Model, p models.Precision) (*Bare, error) {
	e.mu.Lock()
	closed := e.closed
	e.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}
	data, ins, outs, err := loadModel(m, p)
	if err != nil {
		return nil, err
	}
	so, err := newSessionOptions(e.cfg)
	if err != nil {
		return nil, err
	}
	defer so.Destroy()
	b := &Bare{}
	names := func(infos []ort.InputOutputInfo, vals *[]ort.Value) ([]string, error) {
		var ns []string
		for _, info := range infos {
			if info.DataType != ort.TensorElementDataTypeFloat {
				return nil, fmt.Errorf("%w: %s %s: %v tensors not supported by a bare session", ErrModel, m, info.Name, info.DataType)
			}
			dims := slices.Clone([]int64(info.Dimensions))
			for i, d := range dims {
				if d < 0 {
					dims[i] = 1 // dynamic batch: one image / one face
				}
			}
			t, err := ort.NewEmptyTensor[float32](ort.NewShape(dims...))
			if err != nil {
				return nil, fmt.Errorf("engine: bare %s tensor: %w", m, err)
			}
			*vals = append(*vals, t)
			ns = append(ns, info.Name)
		}
		return ns, nil
	}
	inNames, err := names(ins, &b.in)
	if err != nil {
		b.Close()
		return nil, err
	}
	outNames, err := names(outs, &b.outs)
	if err != nil {
		b.Close()
		return nil, err
	}
	if b.sess, err = ort.NewDynamicAdvancedSessionWithONNXData(data, inNames, outNames, so); err != nil {
		b.Close()
		return nil, fmt.Errorf("engine: bare %s session: %w", m, err)
	}
	return b, nil
}

// Run runs the network once on its inputs (zeros until SetInput).
func (b *Bare) Run() error { return b.sess.Run(b.in, b.outs) }

// SetInput copies x into the first input tensor, which must have len(x)
// values. Network cost depends on the data: on the CPU FaceMesh and Face
// Landmarker v2 took about twice as long on a real crop as on zeros (as did
// the iris model FaceMesh with attention replaced), so a fair upper bound
// runs on real inputs (StagedInput).
func (b *Bare) SetInput(x []float32) error {
	t, ok := b.in[0].(*ort.Tensor[float32])
	if !ok {
		return fmt.Errorf("engine: bare input is %T, not a float32 tensor", b.in[0])
	}
	d := t.GetData()
	if len(d) != len(x) {
		return fmt.Errorf("engine: bare input has %d values, got %d", len(d), len(x))
	}
	copy(d, x)
	return nil
}

// StagedInput is a copy of the input of one item (image or face) that the
// engine last staged for model m: the detector's letterbox or a face crop
// of the last image it ran. It is nil when no session runs m.
func (e *Engine) StagedInput(m models.Model) []float32 {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, s := range e.sessions() {
		if s.model != m {
			continue
		}
		best := 0
		for n := range s.sets {
			if best == 0 || n < best {
				best = n
			}
		}
		if best == 0 {
			return nil
		}
		in := s.sets[best].in
		return slices.Clone(in[:len(in)/best])
	}
	return nil
}

// Close releases the session and its tensors.
func (b *Bare) Close() {
	if b.sess != nil {
		b.sess.Destroy()
		b.sess = nil
	}
	for _, v := range append(b.in, b.outs...) {
		v.Destroy()
	}
	b.in, b.outs = nil, nil
}
