package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"sigs.k8s.io/yaml"
)

// EnvPrefix is the prefix of every environment variable read by this package.
const EnvPrefix = "FACEFLEET_"

// LookupEnv looks up an environment variable; os.LookupEnv fits. A nil
// LookupEnv means no environment.
type LookupEnv func(key string) (string, bool)

// field describes one leaf configuration field.
type field struct {
	index  []int  // reflect field index path from the root struct
	key    string // file key: nats_url
	env    string // FACEFLEET_NATS_URL
	flag   string // nats-url
	def    string // default, as text
	usage  string
	secret bool
	kind   reflect.Type
}

var durationType = reflect.TypeFor[time.Duration]()

// fieldsOf lists the leaf fields of a config struct type, descending into
// embedded structs.
func fieldsOf(t reflect.Type) []field {
	var out []field
	var walk func(t reflect.Type, prefix []int)
	walk = func(t reflect.Type, prefix []int) {
		for i := range t.NumField() {
			sf := t.Field(i)
			idx := append(append([]int(nil), prefix...), i)
			if sf.Anonymous && sf.Type.Kind() == reflect.Struct {
				walk(sf.Type, idx)
				continue
			}
			env, ok := sf.Tag.Lookup("env")
			if !ok {
				continue
			}
			key := strings.ToLower(env)
			out = append(out, field{
				index:  idx,
				key:    key,
				env:    EnvPrefix + env,
				flag:   strings.ReplaceAll(key, "_", "-"),
				def:    sf.Tag.Get("default"),
				usage:  sf.Tag.Get("usage"),
				secret: sf.Tag.Get("secret") == "true",
				kind:   sf.Type,
			})
		}
	}
	walk(t, nil)
	return out
}

// set parses text into the field of root (a pointer to the config struct).
func (f field) set(root reflect.Value, text string) error {
	v := root.Elem().FieldByIndex(f.index)
	text = strings.TrimSpace(text)
	switch {
	case f.kind == durationType:
		d, err := time.ParseDuration(text)
		if err != nil {
			return fieldErr(f.key, "%q is not a duration (like 90s, 5m, 168h)", text)
		}
		v.SetInt(int64(d))
	case f.kind.Kind() == reflect.String:
		v.SetString(text)
	case f.kind.Kind() == reflect.Bool:
		b, err := strconv.ParseBool(text)
		if err != nil {
			return fieldErr(f.key, "%q is not a boolean", text)
		}
		v.SetBool(b)
	case f.kind.Kind() == reflect.Int || f.kind.Kind() == reflect.Int64:
		n, err := strconv.ParseInt(text, 10, 64)
		if err != nil || v.OverflowInt(n) {
			return fieldErr(f.key, "%q is not an integer", text)
		}
		v.SetInt(n)
	default:
		return fieldErr(f.key, "unsupported field type %s", f.kind)
	}
	return nil
}

// text formats the field's current value of root (a struct value).
func (f field) text(root reflect.Value) string {
	v := root.FieldByIndex(f.index)
	if f.kind == durationType {
		return time.Duration(v.Int()).String()
	}
	return fmt.Sprint(v.Interface())
}

// Flags binds the configuration flags of T (Worker or Producer) to a
// flag.FlagSet. Register them, parse the set, then call Load.
type Flags[T any] struct {
	name       string
	fields     []field
	configPath string
	set        map[string]string // flag key → text, in order of appearance
	order      []string
	postLoad   func(*T) error
}

// flagValue records the text of a configuration flag; it is applied in Load
// after the file and the environment.
type flagValue struct {
	f     *field
	flags interface{ record(key, text string) }
}

func (v *flagValue) String() string {
	if v == nil || v.f == nil {
		return ""
	}
	return v.f.def
}

func (v *flagValue) Set(s string) error {
	// Parse now into a scratch value so that a bad flag fails at Parse time.
	if err := v.f.check(s); err != nil {
		return err
	}
	v.flags.record(v.f.key, s)
	return nil
}

func (v *flagValue) IsBoolFlag() bool { return v.f.kind.Kind() == reflect.Bool }

func (f field) check(text string) error {
	scratch := reflect.New(reflect.StructOf([]reflect.StructField{{Name: "V", Type: f.kind}}))
	g := f
	g.index = []int{0}
	return g.set(scratch, text)
}

func (fl *Flags[T]) record(key, text string) {
	if _, ok := fl.set[key]; !ok {
		fl.order = append(fl.order, key)
	}
	fl.set[key] = text
}

func register[T any](name string, fs *flag.FlagSet, post func(*T) error) *Flags[T] {
	fl := &Flags[T]{name: name, fields: fieldsOf(reflect.TypeFor[T]()), set: map[string]string{}, postLoad: post}
	fs.StringVar(&fl.configPath, "config", "", "YAML config file (flat snake_case keys; unknown keys are errors)")
	for i := range fl.fields {
		f := &fl.fields[i]
		usage := f.usage + " (env " + f.env + ")"
		fs.Var(&flagValue{f: f, flags: fl}, f.flag, usage)
	}
	return fl
}

// RegisterWorker registers --config and one flag per Worker field on fs.
func RegisterWorker(fs *flag.FlagSet) *Flags[Worker] { return register("worker", fs, fillWorker) }

// RegisterProducer registers --config and one flag per Producer field on fs.
func RegisterProducer(fs *flag.FlagSet) *Flags[Producer] {
	return register[Producer]("producer", fs, nil)
}

// ConfigPath returns the --config value after the flag set was parsed.
func (fl *Flags[T]) ConfigPath() string { return fl.configPath }

// Load builds the configuration: defaults < file (--config) < env < flags,
// then validates it. Call it after parsing the flag set. env may be nil.
func (fl *Flags[T]) Load(env LookupEnv) (T, error) {
	var cfg T
	root := reflect.ValueOf(&cfg)
	var errs []error
	for _, f := range fl.fields {
		if err := f.set(root, f.def); err != nil {
			errs = append(errs, err)
		}
	}
	if fl.configPath != "" {
		data, err := os.ReadFile(fl.configPath)
		if err != nil {
			return cfg, fmt.Errorf("config: read %s: %w", fl.configPath, errors.Join(ErrInvalid, err))
		}
		if err := applyYAML(fl.name, fl.fields, root, data); err != nil {
			return cfg, fmt.Errorf("config: %s: %w", fl.configPath, err)
		}
	}
	if env != nil {
		for _, f := range fl.fields {
			if text, ok := env(f.env); ok {
				if err := f.set(root, text); err != nil {
					errs = append(errs, fmt.Errorf("%s: %w", f.env, err))
				}
			}
		}
	}
	byKey := map[string]field{}
	for _, f := range fl.fields {
		byKey[f.key] = f
	}
	for _, key := range fl.order {
		if err := byKey[key].set(root, fl.set[key]); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return cfg, err
	}
	if fl.postLoad != nil {
		if err := fl.postLoad(&cfg); err != nil {
			return cfg, err
		}
	}
	if v, ok := any(cfg).(interface{ Validate() error }); ok {
		if err := v.Validate(); err != nil {
			return cfg, err
		}
	}
	return cfg, nil
}

// sectionFields lists the fields of each binary's section in a file.
func sectionFields() map[string][]field {
	return map[string][]field{
		"worker":   fieldsOf(reflect.TypeFor[Worker]()),
		"producer": fieldsOf(reflect.TypeFor[Producer]()),
	}
}

// applyYAML sets the fields named in a YAML document: flat top-level keys,
// plus optional "worker:" and "producer:" sections whose keys apply only to
// that binary (and override top-level keys). Unknown keys, also in the other
// binary's section, are errors; every problem is reported.
func applyYAML(self string, fields []field, root reflect.Value, data []byte) error {
	var doc map[string]any
	if err := yaml.UnmarshalStrict(data, &doc); err != nil {
		return errors.Join(ErrInvalid, err)
	}
	sections := sectionFields()
	var errs []error
	top := map[string]any{}
	for k, v := range doc {
		if _, ok := sections[k]; !ok {
			top[k] = v
		}
	}
	errs = append(errs, applyMap("", fields, root, top)...)
	for _, name := range []string{"worker", "producer"} {
		raw, ok := doc[name]
		if !ok || raw == nil {
			continue
		}
		m, ok := raw.(map[string]any)
		if !ok {
			errs = append(errs, fieldErr(name, "want a mapping, got %T", raw))
			continue
		}
		if name == self {
			errs = append(errs, applyMap(name+".", fields, root, m)...)
		} else {
			// Check the other binary's section strictly, applying it to a scratch value.
			other := reflect.New(reflect.TypeFor[Worker]())
			if name == "producer" {
				other = reflect.New(reflect.TypeFor[Producer]())
			}
			errs = append(errs, applyMap(name+".", sections[name], other, m)...)
		}
	}
	return errors.Join(errs...)
}

func applyMap(prefix string, fields []field, root reflect.Value, doc map[string]any) []error {
	byKey := map[string]field{}
	for _, f := range fields {
		byKey[f.key] = f
	}
	keys := make([]string, 0, len(doc))
	for k := range doc {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var errs []error
	for _, k := range keys {
		f, ok := byKey[k]
		if !ok {
			errs = append(errs, fieldErr(prefix+k, "unknown key"))
			continue
		}
		var text string
		switch v := doc[k].(type) {
		case nil:
			text = ""
		case string:
			text = v
		case bool:
			text = strconv.FormatBool(v)
		case float64:
			text = strconv.FormatFloat(v, 'f', -1, 64)
		case int64:
			text = strconv.FormatInt(v, 10)
		default:
			errs = append(errs, fieldErr(prefix+k, "want a scalar value, got %T", v))
			continue
		}
		if err := f.set(root, text); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

func load[T any](name string, args []string, env LookupEnv, reg func(*flag.FlagSet) *Flags[T]) (T, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fl := reg(fs)
	if err := fs.Parse(args); err != nil {
		var zero T
		return zero, errors.Join(ErrInvalid, err)
	}
	if fs.NArg() > 0 {
		var zero T
		return zero, fmt.Errorf("%w: unexpected arguments %q", ErrInvalid, fs.Args())
	}
	return fl.Load(env)
}

// LoadWorker parses args (flags only) and env into a validated Worker.
func LoadWorker(args []string, env LookupEnv) (Worker, error) {
	return load("worker", args, env, RegisterWorker)
}

// LoadProducer parses args (flags only) and env into a validated Producer.
func LoadProducer(args []string, env LookupEnv) (Producer, error) {
	return load("producer", args, env, RegisterProducer)
}

// format renders cfg as "key=value" pairs with secrets redacted.
func format(cfg any) string {
	v := reflect.ValueOf(cfg)
	var b strings.Builder
	b.WriteString(v.Type().Name())
	b.WriteString("{")
	for i, f := range fieldsOf(v.Type()) {
		if i > 0 {
			b.WriteString(" ")
		}
		b.WriteString(f.key)
		b.WriteString("=")
		b.WriteString(strconv.Quote(redact(f, v)))
	}
	b.WriteString("}")
	return b.String()
}

const redacted = "[REDACTED]"

func redact(f field, v reflect.Value) string {
	t := f.text(v)
	if f.secret && t != "" {
		return redacted
	}
	return t
}

func logValue(cfg any) slog.Value {
	v := reflect.ValueOf(cfg)
	fields := fieldsOf(v.Type())
	attrs := make([]slog.Attr, 0, len(fields))
	for _, f := range fields {
		attrs = append(attrs, slog.String(f.key, redact(f, v)))
	}
	return slog.GroupValue(attrs...)
}

// Fields documents every configuration key of T (Worker or Producer): file
// key, env name, flag, default. Used by help output and the docs test.
func Fields[T any]() []FieldInfo {
	fs := fieldsOf(reflect.TypeFor[T]())
	out := make([]FieldInfo, len(fs))
	for i, f := range fs {
		out[i] = FieldInfo{Key: f.key, Env: f.env, Flag: f.flag, Default: f.def, Usage: f.usage, Secret: f.secret}
	}
	return out
}

// FieldInfo describes one configuration key.
type FieldInfo struct {
	Key, Env, Flag, Default, Usage string
	Secret                         bool
}

// ParseInterspersed parses fs's flags wherever they appear among the
// positional arguments (before, between or after them; "--" ends flag
// parsing) and returns the positional arguments in order. It is how every
// facefleet command line is read.
func ParseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}
