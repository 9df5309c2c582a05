package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/facefleet/facefleet/config"
	"github.com/facefleet/facefleet/models"
	"github.com/facefleet/facefleet/worker/internal/benchmix"
	"github.com/facefleet/facefleet/worker/internal/engine"
	"github.com/facefleet/facefleet/worker/internal/imagedecode"
	"github.com/facefleet/facefleet/worker/internal/pipeline"
)

// benchReport is what one precision measured.
type benchReport struct {
	precision models.Precision
	images    int                // images per pass
	faces     int                // faces found per pass
	bare      []float64          // images/s of each bare pass
	pipe      []float64          // images/s of each pipeline pass
	stageMS   map[string]float64 // wall ms per stage, summed over the timed passes
	stageCPU  map[string]float64 // process CPU ms per stage, summed likewise
	totalMS   float64
	imageMS   []float64 // pipeline total ms of each image, summed over the timed passes
	cpuMS     float64   // process CPU ms of the timed pipeline passes
	detT, lmT time.Duration
	detRuns   int
	lmRuns    int
	// The concurrent pass: slots streams over the images at once.
	slots       int
	slotsIPS    []float64
	slotsCPUMS  float64 // process CPU ms per image in the concurrent passes
	slotsImages int
}

func (r *benchReport) bareIPS() float64     { return median(r.bare) }
func (r *benchReport) pipeIPS() float64     { return median(r.pipe) }
func (r *benchReport) slotsMedian() float64 { return median(r.slotsIPS) }

// perImage divides a sum over the timed single-stream passes by their images.
func (r *benchReport) perImage(sum float64) float64 {
	return sum / float64(max(1, len(r.pipe)*r.images))
}

// benchSubject is one precision under test: its engine, pipeline and bare sessions.
type benchSubject struct {
	eng      *engine.Engine
	p        *pipeline.Pipeline
	det      *engine.Bare
	perFace  []faceNet // every network the engine runs per face
	facesPer []int
	r        benchReport
}

// faceNet is one per-face network of the bare pass and its runs per face.
type faceNet struct {
	s    *engine.Bare
	runs int
}

func (s *benchSubject) close() {
	s.closeBare()
	if s.eng != nil {
		s.eng.Close()
	}
}

// bench runs `worker bench`. For every precision (FP32 and FP16 by default,
// in the same process) it measures (1) bare model throughput — the ORT
// sessions alone, on real inputs (the letterbox and crops the engine staged
// for the last warm-up image), one detector run plus, per face the pipeline
// found in each image, every per-face network (engine.PerFaceNetworks): the
// upper bound — (2) the full local pipeline (decode → … → encode, in
// memory), one image at a time, with each stage's wall and process-CPU
// milliseconds, and (3) the same pipeline with -slots streams at once, as a
// worker runs its slots. Passes of the precisions are interleaved and the
// median pass is reported, so load changes on a shared machine hit both
// alike. The images are the 20-photo mix of package benchmix unless -images
// names a directory. It prints the pipeline/bare ratio, each stage's share
// and CPU ms, the end-to-end ms per image, the peak RSS and which precision
// is faster on this device.
func bench(ctx context.Context, args []string, stdout, stderr io.Writer, log *slog.Logger) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		ef        engineFlags
		o         pipeline.Options
		dir       string
		n         int
		precision string
		asJSON    bool
		writeMix  string
		slots     int
		peerDir   string
		noBare    bool
		gcPercent int
	)
	ef.register(fs)
	fs.StringVar(&dir, "images", "mix", "directory of JPEG/PNG/WebP images to run, or \"mix\": the 20-photo mix built from the repository's test photos (package benchmix)")
	fs.StringVar(&writeMix, "write-mix", "", "write the 20-photo mix into this directory and exit (for the MediaPipe peer run)")
	def := workerDefaults()
	fs.IntVar(&slots, "slots", def.SlotsPerDevice, "streams of the concurrent pass (a worker's FACEFLEET_SLOTS_PER_DEVICE; 0 skips it)")
	fs.IntVar(&gcPercent, "gc-percent", def.GCPercent, "Go GC target percent, as a worker's FACEFLEET_GC_PERCENT (a GOGC variable wins)")
	fs.BoolVar(&noBare, "no-bare", false, "skip the bare sessions (they are a second copy of every network: without them the peak RSS is a worker's)")
	fs.StringVar(&peerDir, "peer", "", "output directory of the MediaPipe oracle (tools: ../shared/tools/mediapipe-oracle) run on the same images (-write-mix): compare its \"ms\" per image with ours")
	fs.IntVar(&n, "n", 5, "interleaved passes over the images per precision (after one warm-up pass)")
	fs.BoolVar(&o.Geometry, "geometry", false, "include the geometry stage")
	fs.BoolVar(&o.Head, "head", false, "include the head stage (implies -geometry)")
	fs.IntVar(&o.UVSize, "uv-size", pipeline.DefaultUVSize, "UV texture size")
	fs.StringVar(&o.Detector, "detector", pipeline.DefaultDetector, "face detector: short | full")
	fs.StringVar(&precision, "precisions", "fp32,fp16", "comma-separated precisions to compare")
	fs.BoolVar(&asJSON, "json", false, "print the figures as one JSON object on stdout (the header goes to stderr)")
	if _, err := config.ParseInterspersed(fs, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return errUsage
	}
	if n < 1 {
		return fmt.Errorf("-n %d: want at least 1", n)
	}
	if slots < 0 {
		return fmt.Errorf("-slots %d: want 0 or more", slots)
	}
	if err := o.Validate(); err != nil {
		return err
	}
	def.GCPercent = gcPercent // the bound is the worker config's
	if err := def.Validate(); err != nil {
		return fmt.Errorf("-gc-percent: %w", err)
	}
	setGCPercent(gcPercent, log)
	if writeMix != "" {
		mix, err := buildMix()
		if err != nil {
			return err
		}
		if err := benchmix.Write(writeMix, mix); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "wrote %d photos to %s\n", len(mix), writeMix)
		return nil
	}
	images, names, err := loadImages(dir)
	if err != nil {
		return err
	}
	var peer *peerTimes
	if peerDir != "" { // before the passes: a missing file fails at once
		if peer, err = readPeer(peerDir, names); err != nil {
			return err
		}
	}
	header := stdout
	if asJSON {
		header = stderr
	}
	fmt.Fprintf(header, "bench: %d images from %s (%s), %d interleaved passes, detector %s, geometry %v, head %v, uv %d, device %s, ORT threads %d (0 = engine default %d), concurrent pass %d slots, GC percent %d\n",
		len(images), dir, strings.Join(names, " "), n, o.WithDefaults().Detector, o.WithDefaults().Geometry, o.Head, o.WithDefaults().UVSize, ef.device, ef.threads, engine.DefaultIntraOpThreads, slots, gcPercent)

	var subjects []*benchSubject
	defer func() {
		for _, s := range subjects {
			s.close()
		}
	}()
	for _, p := range strings.Split(precision, ",") {
		s, err := newBenchSubject(ctx, &ef, strings.TrimSpace(p), images, o, !noBare, log)
		if s != nil {
			subjects = append(subjects, s)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
	}
	for range n {
		for _, s := range subjects {
			if err := s.barePass(ctx); err != nil {
				return err
			}
		}
		for _, s := range subjects {
			if err := s.pipelinePass(ctx, images, o); err != nil {
				return err
			}
		}
		for _, s := range subjects {
			if err := s.slotsPass(ctx, images, o, slots); err != nil {
				return err
			}
		}
	}
	reports := make([]benchReport, len(subjects))
	for i, s := range subjects {
		reports[i] = s.r
	}
	if asJSON {
		return writeBenchJSON(stdout, reports, len(images), n, ef.device, o.WithDefaults(), peer)
	}
	printBench(stdout, reports)
	if peer != nil {
		printPeer(stdout, reports, peer)
	}
	return nil
}

// peerTimes are MediaPipe Face Mesh's own times for the bench's images, as
// its oracle tool records them: the median of warm send() calls per image
// (landmarks only, the image already decoded by the browser), without and
// with refineLandmarks (478 points), mean over the images.
type peerTimes struct {
	Dir          string      `json:"dir"`
	Images       int         `json:"images"`
	BaseMSPerImg float64     `json:"base_ms_per_image"`
	RefineMSPer  float64     `json:"refine_ms_per_image"`
	PerImage     []peerImage `json:"per_image"`
}

// peerImage is MediaPipe's time for one image, in the bench's order.
type peerImage struct {
	Name     string  `json:"name"`
	Width    int     `json:"width"`
	Height   int     `json:"height"`
	BaseMS   float64 `json:"base_ms"`
	RefineMS float64 `json:"refine_ms"`
}

// readPeer reads <stem>.json and <stem>.refine.json of every image name
// from dir; every image must be there.
func readPeer(dir string, names []string) (*peerTimes, error) {
	p := &peerTimes{Dir: dir}
	for _, name := range names {
		stem := strings.TrimSuffix(name, filepath.Ext(name))
		im := peerImage{Name: name}
		for suffix, ms := range map[string]*float64{".json": &im.BaseMS, ".refine.json": &im.RefineMS} {
			b, err := os.ReadFile(filepath.Join(dir, stem+suffix))
			if err != nil {
				return nil, fmt.Errorf("peer: %w", err)
			}
			var r struct {
				MS     *float64 `json:"ms"`
				Width  int      `json:"width"`
				Height int      `json:"height"`
			}
			if err := json.Unmarshal(b, &r); err != nil || r.MS == nil {
				return nil, fmt.Errorf("peer: %s%s: no \"ms\" (%v)", stem, suffix, err)
			}
			*ms = *r.MS
			im.Width, im.Height = r.Width, r.Height
		}
		p.BaseMSPerImg += im.BaseMS
		p.RefineMSPer += im.RefineMS
		p.PerImage = append(p.PerImage, im)
		p.Images++
	}
	p.BaseMSPerImg /= float64(p.Images)
	p.RefineMSPer /= float64(p.Images)
	return p, nil
}

func printPeer(w io.Writer, reports []benchReport, p *peerTimes) {
	fmt.Fprintf(w, "MediaPipe JS Face Mesh on the same %d images (%s; measured apart from this run): %.1f ms/image (468 points), %.1f ms/image (refineLandmarks, 478)\n",
		p.Images, p.Dir, p.BaseMSPerImg, p.RefineMSPer)
	for _, r := range reports {
		e2e := r.perImage(r.totalMS)
		fmt.Fprintf(w, "  %s: our end to end %.1f ms/image = %.2f× its 468-point time, %.2f× its 478-point time\n",
			r.precision, e2e, e2e/p.BaseMSPerImg, e2e/p.RefineMSPer)
	}
	if len(reports) == 0 || len(reports[0].imageMS) != len(p.PerImage) {
		return
	}
	r := reports[0]
	passes := float64(max(1, len(r.pipe)))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "image\tpixels\tours (%s, end to end) ms\tMediaPipe 478 ms\tratio\t\n", r.precision)
	for i, im := range p.PerImage {
		ours := r.imageMS[i] / passes
		fmt.Fprintf(tw, "%s\t%dx%d\t%.1f\t%.1f\t%.2f\t\n", im.Name, im.Width, im.Height, ours, im.RefineMS, ours/im.RefineMS)
	}
	tw.Flush()
}

// benchJSON is the machine-readable form of `worker bench -json`.
type benchJSON struct {
	Images  int                  `json:"images"`
	Passes  int                  `json:"passes"`
	Device  string               `json:"device"`
	Options pipeline.Options     `json:"options"`
	Results []benchPrecisionJSON `json:"results"`
	PeakRSS float64              `json:"peak_rss_mib"`
	CPUAuto models.Precision     `json:"cpu_auto_precision"`
	Peer    *peerTimes           `json:"mediapipe,omitempty"`
}

type benchPrecisionJSON struct {
	Precision models.Precision `json:"precision"`
	// FacesPerPass is the faces found in one pass over the images.
	FacesPerPass int `json:"faces_per_pass"`
	// BareImagesPerSec is 0 where the bare sessions failed on the device.
	BareImagesPerSec      float64 `json:"bare_images_per_s"`
	BareDetectMS          float64 `json:"bare_detect_ms"`
	BareFaceNetsMSPerFace float64 `json:"bare_face_nets_ms_per_face"` // every per-face network, see perFaceNets
	PipelineImagesPerSec  float64 `json:"pipeline_images_per_s"`
	// StageMS sums each stage's milliseconds over the timed passes; TotalMS
	// is the sum of the pipeline totals.
	StageMS map[string]float64 `json:"stage_ms"`
	TotalMS float64            `json:"total_ms"`
	// StageCPUMSPerImage is each stage's process CPU ms per image (single
	// stream); CPUMSPerImage the whole pipeline's; E2EMSPerImage its mean
	// wall ms per image.
	StageCPUMSPerImage map[string]float64 `json:"stage_cpu_ms_per_image"`
	CPUMSPerImage      float64            `json:"cpu_ms_per_image"`
	E2EMSPerImage      float64            `json:"e2e_ms_per_image"`
	// Slots is the concurrent pass's stream count (0: skipped), with its
	// median images/s and CPU ms per image.
	Slots              int     `json:"slots"`
	SlotsImagesPerSec  float64 `json:"slots_images_per_s"`
	SlotsCPUMSPerImage float64 `json:"slots_cpu_ms_per_image"`
}

func writeBenchJSON(w io.Writer, reports []benchReport, images, passes int, device string, o pipeline.Options, peer *peerTimes) error {
	out := benchJSON{Images: images, Passes: passes, Device: device, Options: o, PeakRSS: peakRSSMiB(), CPUAuto: engine.CPUAutoPrecision, Peer: peer}
	for _, r := range reports {
		j := benchPrecisionJSON{Precision: r.precision, FacesPerPass: r.faces,
			BareImagesPerSec: r.bareIPS(), PipelineImagesPerSec: r.pipeIPS(), StageMS: r.stageMS, TotalMS: r.totalMS,
			StageCPUMSPerImage: map[string]float64{}, CPUMSPerImage: r.perImage(r.cpuMS), E2EMSPerImage: r.perImage(r.totalMS),
			Slots: r.slots, SlotsImagesPerSec: r.slotsMedian()}
		for k, v := range r.stageCPU {
			j.StageCPUMSPerImage[k] = r.perImage(v)
		}
		if r.slotsImages > 0 {
			j.SlotsCPUMSPerImage = r.slotsCPUMS / float64(r.slotsImages)
		}
		if r.detRuns > 0 {
			j.BareDetectMS = float64(r.detT.Microseconds()) / 1000 / float64(r.detRuns)
		}
		if r.lmRuns > 0 {
			j.BareFaceNetsMSPerFace = float64(r.lmT.Microseconds()) / 1000 / float64(r.lmRuns)
		}
		out.Results = append(out.Results, j)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// buildMix builds the 20-photo mix from the repository's test photos.
func buildMix() ([]benchmix.Photo, error) {
	dirs, err := benchmix.SourceDirs()
	if err != nil {
		return nil, err
	}
	return benchmix.Build(dirs...)
}

// workerDefaults is a worker's configuration with every default: the bench
// measures what `worker run` would do.
func workerDefaults() config.Worker {
	w, err := config.LoadWorker(nil, nil)
	if err != nil {
		panic("config: the worker's defaults do not validate: " + err.Error())
	}
	return w
}

func loadImages(dir string) ([][]byte, []string, error) {
	if dir == "mix" {
		mix, err := buildMix()
		if err != nil {
			return nil, nil, err
		}
		var data [][]byte
		var names []string
		for _, p := range mix {
			data = append(data, p.Data)
			names = append(names, p.Name)
		}
		return data, names, nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, err
	}
	var data [][]byte
	var names []string
	for _, e := range entries {
		switch strings.ToLower(filepath.Ext(e.Name())) {
		case ".jpg", ".jpeg", ".png", ".webp":
		default:
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, nil, err
		}
		data = append(data, b)
		names = append(names, e.Name())
	}
	if len(data) == 0 {
		return nil, nil, fmt.Errorf("no .jpg/.png/.webp images in %s", dir)
	}
	return data, names, nil
}

// newBenchSubject opens the engine and bare sessions of one precision and
// runs a warm-up pass, which also counts the faces per image.
func newBenchSubject(ctx context.Context, ef *engineFlags, precision string, images [][]byte, o pipeline.Options, withBare bool, log *slog.Logger) (*benchSubject, error) {
	eng, err := ef.open(log, precision)
	if err != nil {
		return nil, err
	}
	s := &benchSubject{eng: eng, p: pipeline.New(eng, imagedecode.DefaultLimits(), log)}
	s.r = benchReport{precision: eng.Precision(), images: len(images), stageMS: map[string]float64{}, stageCPU: map[string]float64{}}
	s.facesPer = make([]int, len(images))
	for i, img := range images {
		out, err := s.p.Run(ctx, img, o, nil)
		if err != nil {
			return s, fmt.Errorf("image %d: %w", i, err)
		}
		s.facesPer[i] = len(out.Result.Faces)
		s.r.faces += s.facesPer[i]
		out.Release()
	}
	if !withBare {
		return s, nil
	}
	err = s.openBare(eng, o)
	if err != nil && eng.Device().Kind != engine.KindCPU {
		// The bare sessions run on the device's provider too (their
		// tensors live in host memory, as the pipeline's do); where that
		// fails the pipeline figures still stand.
		log.Warn("bare sessions failed on this device; bare figures skipped", slog.String("device", eng.Device().String()), slog.Any("error", err))
		s.closeBare()
		return s, nil
	}
	return s, err
}

// openBare opens and warms up the bare sessions: the detector and every
// per-face network, on the inputs the engine staged for the last image.
func (s *benchSubject) openBare(eng *engine.Engine, o pipeline.Options) error {
	bare := func(m models.Model, p models.Precision) (*engine.Bare, error) {
		b, err := eng.NewBare(m, p)
		if err != nil {
			return nil, err
		}
		if in := eng.StagedInput(m); in != nil {
			if err := b.SetInput(in); err != nil {
				b.Close()
				return nil, fmt.Errorf("%s: %w", m, err)
			}
		}
		return b, nil
	}
	var err error
	if s.det, err = bare(engine.DetectorModel(o.WithDefaults().Detector), s.r.precision); err != nil {
		return err
	}
	for _, n := range eng.PerFaceNetworks() {
		b, err := bare(n.Model, n.Precision)
		if err != nil {
			return err
		}
		s.perFace = append(s.perFace, faceNet{b, n.Runs})
	}
	for range 2 { // warm-up
		if err := s.det.Run(); err != nil {
			return err
		}
		if err := s.faceRun(); err != nil {
			return err
		}
	}
	return nil
}

// closeBare closes the bare sessions; the bare pass then does nothing.
func (s *benchSubject) closeBare() {
	if s.det != nil {
		s.det.Close()
		s.det = nil
	}
	for _, n := range s.perFace {
		n.s.Close()
	}
	s.perFace = nil
}

// faceRun runs every per-face network once for one face.
func (s *benchSubject) faceRun() error {
	for _, n := range s.perFace {
		for range n.runs {
			if err := n.s.Run(); err != nil {
				return err
			}
		}
	}
	return nil
}

// barePass runs the sessions alone for one pass over the images.
func (s *benchSubject) barePass(ctx context.Context) error {
	if s.det == nil {
		return nil
	}
	start := time.Now()
	for _, f := range s.facesPer {
		if err := ctx.Err(); err != nil {
			return err
		}
		t0 := time.Now()
		if err := s.det.Run(); err != nil {
			return err
		}
		t1 := time.Now()
		for range f {
			if err := s.faceRun(); err != nil {
				return err
			}
		}
		s.r.detT += t1.Sub(t0)
		s.r.lmT += time.Since(t1)
		s.r.detRuns++
		s.r.lmRuns += f
	}
	s.r.bare = append(s.r.bare, float64(len(s.facesPer))/time.Since(start).Seconds())
	return nil
}

// pipelinePass runs the whole pipeline once over the images.
func (s *benchSubject) pipelinePass(ctx context.Context, images [][]byte, o pipeline.Options) error {
	start := time.Now()
	c0 := cpuTime()
	if s.r.imageMS == nil {
		s.r.imageMS = make([]float64, len(images))
	}
	for i, img := range images {
		// Progress is called after each stage: the CPU the process used
		// since the previous call is that stage's (one image at a time, so
		// nothing else runs; ORT runs on the calling thread).
		last := cpuTime()
		out, err := s.p.Run(ctx, img, o, func(stage string, _ int) {
			now := cpuTime()
			s.r.stageCPU[stage] += float64((now - last).Microseconds()) / 1000
			last = now
		})
		if err != nil {
			return err
		}
		t := out.Result.TimingsMS
		for stage, ms := range t.Stages() {
			s.r.stageMS[stage] += ms
		}
		s.r.totalMS += t.Total
		s.r.imageMS[i] += t.Total
		out.Release()
	}
	s.r.pipe = append(s.r.pipe, float64(len(images))/time.Since(start).Seconds())
	s.r.cpuMS += float64((cpuTime() - c0).Microseconds()) / 1000
	return nil
}

// slotsPass runs the pipeline over the images with slots streams at once,
// as a worker's slots share its engine.
func (s *benchSubject) slotsPass(ctx context.Context, images [][]byte, o pipeline.Options, slots int) error {
	if slots == 0 {
		return nil
	}
	s.r.slots = slots
	next := make(chan []byte)
	errs := make(chan error, slots)
	var wg sync.WaitGroup
	start, c0 := time.Now(), cpuTime()
	for range slots {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for img := range next {
				out, err := s.p.Run(ctx, img, o, nil)
				if err != nil {
					errs <- err
					return
				}
				out.Release()
			}
		}()
	}
feed:
	for _, img := range images {
		select {
		case next <- img:
		case err := <-errs:
			close(next)
			wg.Wait()
			return err
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s.r.slotsIPS = append(s.r.slotsIPS, float64(len(images))/time.Since(start).Seconds())
	s.r.slotsCPUMS += float64((cpuTime() - c0).Microseconds()) / 1000
	s.r.slotsImages += len(images)
	return nil
}

// cpuTime is the process's user+system CPU time so far (all threads).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// peakRSSMiB is the process's peak resident set size (getrusage, Linux KiB).
func peakRSSMiB() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Maxrss) / 1024
}

func printBench(w io.Writer, reports []benchReport) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "precision\tfaces/pass\tbare img/s\tdetect ms\tface nets ms/face\tpipeline img/s\tpipeline/bare\te2e ms/image\tcpu ms/image\tslots\tslots img/s\t")
	for _, r := range reports {
		ratio, det, lm := "n/a", 0.0, 0.0
		if r.bareIPS() > 0 {
			ratio = fmt.Sprintf("%.1f%%", 100*r.pipeIPS()/r.bareIPS())
		}
		if r.detRuns > 0 {
			det = float64(r.detT.Microseconds()) / 1000 / float64(r.detRuns)
		}
		if r.lmRuns > 0 {
			lm = float64(r.lmT.Microseconds()) / 1000 / float64(r.lmRuns)
		}
		fmt.Fprintf(tw, "%s\t%d\t%.1f\t%.2f\t%.2f\t%.2f\t%s\t%.1f\t%.1f\t%d\t%.2f\t\n", r.precision, r.faces, r.bareIPS(), det, lm,
			r.pipeIPS(), ratio, r.perImage(r.totalMS), r.perImage(r.cpuMS), r.slots, r.slotsMedian())
	}
	tw.Flush()
	fmt.Fprintln(w, "(img/s: median pass; bare: the networks alone on real inputs; detect ms: mean per run; face nets: every per-face network, mean per face;")
	fmt.Fprintln(w, " e2e: mean pipeline wall ms per image, one at a time; cpu: process CPU ms per image; slots: that many images at once, as a worker's slots)")
	fmt.Fprintln(w, "stages (share of pipeline time, process CPU ms per image):")
	stages := []string{pipeline.StageDecode, pipeline.StageDetect, pipeline.StageLandmarks, pipeline.StageTexture, pipeline.StageGeometry, pipeline.StageHead, pipeline.StageEncode}
	for _, r := range reports {
		var parts []string
		for _, s := range stages {
			if v, ok := r.stageMS[s]; ok && r.totalMS > 0 {
				parts = append(parts, fmt.Sprintf("%s %.1f%% %.1f", s, 100*v/r.totalMS, r.perImage(r.stageCPU[s])))
			}
		}
		fmt.Fprintf(w, "  %s: %s\n", r.precision, strings.Join(parts, ", "))
		if h, ok := r.stageMS[pipeline.StageHead]; ok && r.faces > 0 {
			perFace := float64(len(r.pipe) * r.faces)
			fmt.Fprintf(w, "  %s per face: landmarks %.1f ms, head %.1f ms\n", r.precision, r.stageMS[pipeline.StageLandmarks]/perFace, h/perFace)
		}
	}
	fmt.Fprintf(w, "peak RSS: %.1f MiB (the whole process: every precision's engine and, unless -no-bare, the bare sessions)\n", peakRSSMiB())
	if len(reports) >= 2 {
		best := reports[0]
		for _, r := range reports[1:] {
			if r.bareIPS() > best.bareIPS() {
				best = r
			}
		}
		fmt.Fprintf(w, "faster precision (bare model throughput): %s; this build's auto on CPU = %s\n", best.precision, engine.CPUAutoPrecision)
	}
}
