package deploy_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/facefleet/facefleet/shared/toolcheck"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// helmBin finds the helm binary: $HELM, PATH, then $GOPATH/bin. CI sets
// FACEFLEET_REQUIRE_TOOLS=1 so that a missing helm fails instead of skipping.
func helmBin(t *testing.T) string {
	t.Helper()
	cands := []string{os.Getenv("HELM")}
	if p, err := exec.LookPath("helm"); err == nil {
		cands = append(cands, p)
	}
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		cands = append(cands, filepath.Join(strings.TrimSpace(string(out)), "bin", "helm"))
	}
	for _, c := range cands {
		if c == "" {
			continue
		}
		if _, err := os.Stat(c); err == nil {
			return c
		}
	}
	toolcheck.Missing(t, "helm not found; run `make setup` (go install helm.sh/helm/v4/cmd/helm@v4.3.2)")
	return ""
}

func runHelm(t *testing.T, args ...string) (string, error) {
	t.Helper()
	bin := helmBin(t)
	home := t.TempDir()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(),
		"HELM_CACHE_HOME="+filepath.Join(home, "cache"),
		"HELM_CONFIG_HOME="+filepath.Join(home, "config"),
		"HELM_DATA_HOME="+filepath.Join(home, "data"))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	done := make(chan error, 1)
	require.NoError(t, cmd.Start())
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return out.String(), err
	case <-time.After(2 * time.Minute):
		_ = cmd.Process.Kill()
		t.Fatalf("helm %v timed out", args)
		return "", nil
	}
}

func chartDir(t *testing.T) string { return filepath.Join(repoRoot(t), "charts", "facefleet") }

var matrix = []string{"cpu-only", "gpu-pool", "keda", "ingress", "external-secrets", "ha", "redis-cluster"}

func valuesFile(t *testing.T, name string) string {
	return filepath.Join(repoRoot(t), "deploy", "testdata", "values", name+".yaml")
}

func TestHelmLintStrict(t *testing.T) {
	t.Parallel()
	out, err := runHelm(t, "lint", "--strict", chartDir(t))
	require.NoError(t, err, out)
	for _, m := range matrix {
		out, err := runHelm(t, "lint", "--strict", chartDir(t), "-f", valuesFile(t, m))
		require.NoError(t, err, "%s: %s", m, out)
	}
}

// rendered holds the strictly decoded objects of one `helm template` run.
type rendered struct {
	deployments  map[string]*appsv1.Deployment
	services     map[string]*corev1.Service
	configMaps   map[string]*corev1.ConfigMap
	jobs         map[string]*batchv1.Job
	pdbs         map[string]*policyv1.PodDisruptionBudget
	hpas         map[string]*autoscalingv2.HorizontalPodAutoscaler
	ingresses    map[string]*networkingv1.Ingress
	netpols      map[string]*networkingv1.NetworkPolicy
	scaled       map[string]*scaledObject
	monitors     map[string]*serviceMonitor
	secrets      int
	kindsCounted map[string]int
}

// scaledObject and serviceMonitor are the parts of the KEDA and Prometheus
// Operator CRDs that the chart uses; strict decoding rejects anything else.
type objectMeta struct {
	Name        string            `json:"name"`
	Namespace   string            `json:"namespace,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

type scaledObject struct {
	APIVersion string     `json:"apiVersion"`
	Kind       string     `json:"kind"`
	Metadata   objectMeta `json:"metadata"`
	Spec       struct {
		ScaleTargetRef struct {
			Name string `json:"name"`
		} `json:"scaleTargetRef"`
		MinReplicaCount *int32 `json:"minReplicaCount"`
		MaxReplicaCount *int32 `json:"maxReplicaCount"`
		PollingInterval *int32 `json:"pollingInterval"`
		CooldownPeriod  *int32 `json:"cooldownPeriod"`
		Triggers        []struct {
			Type     string            `json:"type"`
			Metadata map[string]string `json:"metadata"`
		} `json:"triggers"`
	} `json:"spec"`
}

type serviceMonitor struct {
	APIVersion string     `json:"apiVersion"`
	Kind       string     `json:"kind"`
	Metadata   objectMeta `json:"metadata"`
	Spec       struct {
		Selector struct {
			MatchLabels map[string]string `json:"matchLabels"`
		} `json:"selector"`
		Endpoints []struct {
			Port     string `json:"port"`
			Path     string `json:"path"`
			Interval string `json:"interval"`
		} `json:"endpoints"`
	} `json:"spec"`
}

func strictInto[T any](t *testing.T, doc []byte, m map[string]*T, name string) {
	t.Helper()
	v := new(T)
	require.NoError(t, yaml.UnmarshalStrict(doc, v), "strict decode of %s:\n%s", name, doc)
	m[name] = v
}

func render(t *testing.T, values ...string) *rendered {
	t.Helper()
	args := []string{"template", "ff", chartDir(t), "--namespace", "faces"}
	for _, v := range values {
		args = append(args, "-f", v)
	}
	out, err := runHelm(t, args...)
	require.NoError(t, err, out)
	r := &rendered{
		deployments: map[string]*appsv1.Deployment{}, services: map[string]*corev1.Service{},
		configMaps: map[string]*corev1.ConfigMap{}, jobs: map[string]*batchv1.Job{},
		pdbs: map[string]*policyv1.PodDisruptionBudget{}, hpas: map[string]*autoscalingv2.HorizontalPodAutoscaler{},
		ingresses: map[string]*networkingv1.Ingress{}, netpols: map[string]*networkingv1.NetworkPolicy{},
		scaled: map[string]*scaledObject{}, monitors: map[string]*serviceMonitor{}, kindsCounted: map[string]int{},
	}
	rd := utilyaml.NewYAMLReader(bufio.NewReader(strings.NewReader(out)))
	for {
		doc, err := rd.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		var head struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
			Metadata   struct {
				Name string `json:"name"`
			} `json:"metadata"`
		}
		require.NoError(t, yaml.Unmarshal(doc, &head))
		if head.Kind == "" {
			continue // empty document
		}
		name := head.Metadata.Name
		r.kindsCounted[head.Kind]++
		switch head.APIVersion + "/" + head.Kind {
		case "apps/v1/Deployment":
			strictInto(t, doc, r.deployments, name)
		case "v1/Service":
			strictInto(t, doc, r.services, name)
		case "v1/ConfigMap":
			strictInto(t, doc, r.configMaps, name)
		case "v1/ServiceAccount":
			strictInto(t, doc, map[string]*corev1.ServiceAccount{}, name)
		case "v1/Secret":
			r.secrets++
		case "batch/v1/Job":
			strictInto(t, doc, r.jobs, name)
		case "policy/v1/PodDisruptionBudget":
			strictInto(t, doc, r.pdbs, name)
		case "autoscaling/v2/HorizontalPodAutoscaler":
			strictInto(t, doc, r.hpas, name)
		case "networking.k8s.io/v1/Ingress":
			strictInto(t, doc, r.ingresses, name)
		case "networking.k8s.io/v1/NetworkPolicy":
			strictInto(t, doc, r.netpols, name)
		case "keda.sh/v1alpha1/ScaledObject":
			strictInto(t, doc, r.scaled, name)
		case "monitoring.coreos.com/v1/ServiceMonitor":
			strictInto(t, doc, r.monitors, name)
		default:
			t.Fatalf("unexpected object %s %s/%s: add it to the strict decoder", head.APIVersion, head.Kind, name)
		}
	}
	return r
}

func TestHelmTemplateMatrix(t *testing.T) {
	t.Parallel()
	for _, m := range append([]string{"defaults"}, matrix...) {
		t.Run(m, func(t *testing.T) {
			t.Parallel()
			var vals []string
			if m != "defaults" {
				vals = append(vals, valuesFile(t, m))
			}
			r := render(t, vals...)
			require.Zero(t, r.secrets, "the chart must not render Secrets: credentials come from existing Secrets")
			worker := r.deployments["ff-facefleet-worker"]
			require.NotNil(t, worker, "worker deployment")
			producer := r.deployments["ff-facefleet-producer"]
			require.NotNil(t, producer, "producer deployment")
			wcm := r.configMaps["ff-facefleet-worker"]
			require.NotNil(t, wcm)

			gpu := m != "cpu-only"
			pod := worker.Spec.Template.Spec
			require.Len(t, pod.Containers, 1)
			c := pod.Containers[0]
			gpus, ok := c.Resources.Limits[corev1.ResourceName("nvidia.com/gpu")]
			if gpu {
				require.True(t, ok, "worker pods must request one GPU")
				require.Zero(t, gpus.Cmp(resource.MustParse("1")), "exactly one GPU per worker pod")
				require.Equal(t, "cuda:0", wcm.Data["FACEFLEET_DEVICES"])
			} else {
				require.False(t, ok, "cpu-only workers must not request GPUs")
				require.Equal(t, "cpu", wcm.Data["FACEFLEET_DEVICES"])
			}
			_, hasMem := c.Resources.Limits[corev1.ResourceMemory]
			require.True(t, hasMem, "worker memory limit")
			_, hasMemReq := c.Resources.Requests[corev1.ResourceMemory]
			require.True(t, hasMemReq, "worker memory request")

			// Probes: ready only after warm-up, alive otherwise.
			require.NotNil(t, c.ReadinessProbe)
			require.Equal(t, "/readyz", c.ReadinessProbe.HTTPGet.Path)
			require.NotNil(t, c.LivenessProbe)
			require.Equal(t, "/healthz", c.LivenessProbe.HTTPGet.Path)
			require.NotNil(t, c.StartupProbe)

			// Drain: grace period longer than the drain timeout; preStop starts it.
			drain, err := time.ParseDuration(wcm.Data["FACEFLEET_DRAIN_TIMEOUT"])
			require.NoError(t, err)
			require.NotNil(t, pod.TerminationGracePeriodSeconds)
			require.Greater(t, time.Duration(*pod.TerminationGracePeriodSeconds)*time.Second, drain)
			require.NotNil(t, c.Lifecycle)
			require.NotNil(t, c.Lifecycle.PreStop)

			// Config changes roll the pods.
			require.NotEmpty(t, worker.Spec.Template.Annotations["checksum/config"])
			require.NotEmpty(t, producer.Spec.Template.Annotations["checksum/config"])

			for _, d := range r.deployments {
				for _, c := range d.Spec.Template.Spec.Containers {
					sc := c.SecurityContext
					require.NotNil(t, sc, d.Name)
					require.True(t, *sc.ReadOnlyRootFilesystem, d.Name)
					require.False(t, *sc.AllowPrivilegeEscalation, d.Name)
					require.Contains(t, sc.Capabilities.Drop, corev1.Capability("ALL"), d.Name)
					for _, e := range c.Env {
						up := strings.ToUpper(e.Name)
						if strings.Contains(up, "SECRET") || strings.Contains(up, "PASSWORD") || strings.Contains(up, "ACCESS_KEY") {
							require.Empty(t, e.Value, "%s: %s must come from a Secret", d.Name, e.Name)
							require.NotNil(t, e.ValueFrom, "%s: %s", d.Name, e.Name)
							require.NotNil(t, e.ValueFrom.SecretKeyRef, "%s: %s", d.Name, e.Name)
						}
					}
				}
				psc := d.Spec.Template.Spec.SecurityContext
				require.NotNil(t, psc)
				require.True(t, *psc.RunAsNonRoot, d.Name)
			}
			require.Contains(t, r.pdbs, "ff-facefleet-worker")

			// The consumers' unacked limit is sized from the fleet, in the
			// config both the workers and the provision job read.
			cm := r.configMaps["ff-facefleet"]
			require.NotNil(t, cm)
			wantPending := map[string]string{"defaults": "8", "cpu-only": "12", "gpu-pool": "16", "keda": "64", "ingress": "32", "external-secrets": "8", "ha": "8", "redis-cluster": "8"}[m]
			require.Equal(t, wantPending, cm.Data["FACEFLEET_MAX_ACK_PENDING"])
			require.Equal(t, "60s", cm.Data["FACEFLEET_ACK_WAIT"])

			switch m {
			case "defaults":
				require.NotContains(t, cm.Data, "FACEFLEET_REDIS_MASTER_NAME", "a single Redis by default")
				require.NotContains(t, cm.Data, "FACEFLEET_REDIS_CLUSTER")
			case "ha":
				require.Equal(t, "3", cm.Data["FACEFLEET_NATS_REPLICAS"])
				require.Len(t, strings.Split(cm.Data["FACEFLEET_NATS_URL"], ","), 3)
				require.Equal(t, "mymaster", cm.Data["FACEFLEET_REDIS_MASTER_NAME"])
				require.Len(t, strings.Split(cm.Data["FACEFLEET_REDIS_ADDRS"], ","), 3)
				require.Equal(t, "1", cm.Data["FACEFLEET_REDIS_WAIT_REPLICAS"])
				require.NotContains(t, cm.Data, "FACEFLEET_REDIS_CLUSTER")
			case "redis-cluster":
				require.Equal(t, "true", cm.Data["FACEFLEET_REDIS_CLUSTER"])
				require.Len(t, strings.Split(cm.Data["FACEFLEET_REDIS_ADDRS"], ","), 2)
				require.NotContains(t, cm.Data, "FACEFLEET_REDIS_MASTER_NAME")
			case "keda":
				so := r.scaled["ff-facefleet-worker"]
				require.NotNil(t, so)
				require.Equal(t, "nats-jetstream", so.Spec.Triggers[0].Type)
				require.Equal(t, "3", so.Spec.Triggers[0].Metadata["lagThreshold"])
				require.Equal(t, "FACEFLEET_JOBS", so.Spec.Triggers[0].Metadata["stream"])
				require.Equal(t, worker.Name, so.Spec.ScaleTargetRef.Name)
				require.Nil(t, worker.Spec.Replicas, "replicas belong to the scaler")
				require.Empty(t, r.hpas)
			case "ingress":
				ing := r.ingresses["ff-facefleet"]
				require.NotNil(t, ing)
				require.Equal(t, "faces-tls", ing.Spec.TLS[0].SecretName)
				require.Equal(t, "faces.example.org", ing.Spec.Rules[0].Host)
				require.Contains(t, r.hpas, "ff-facefleet-worker")
			case "gpu-pool":
				require.Equal(t, "nvidia", *pod.RuntimeClassName)
				require.Equal(t, "nvidia-l4", pod.NodeSelector["cloud.google.com/gke-accelerator"])
				require.NotEmpty(t, pod.Tolerations)
				require.NotEmpty(t, pod.TopologySpreadConstraints)
				require.Len(t, r.monitors, 2)
				require.Len(t, r.netpols, 2)
				require.Equal(t, int32(4), *worker.Spec.Replicas)
			case "external-secrets":
				refs := map[string]string{}
				for _, e := range c.Env {
					if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
						refs[e.Name] = e.ValueFrom.SecretKeyRef.Name + "/" + e.ValueFrom.SecretKeyRef.Key
					}
				}
				require.Equal(t, "aws-s3-credentials/AWS_ACCESS_KEY_ID", refs["FACEFLEET_S3_ACCESS_KEY"])
				require.Equal(t, "aws-s3-credentials/AWS_SECRET_ACCESS_KEY", refs["FACEFLEET_S3_SECRET_KEY"])
				require.Equal(t, "redis-auth/password", refs["FACEFLEET_REDIS_PASSWORD"])
				var vols []string
				for _, v := range producer.Spec.Template.Spec.Volumes {
					if v.Secret != nil {
						vols = append(vols, v.Secret.SecretName)
					}
				}
				require.ElementsMatch(t, []string{"acme-api-keys", "ngs-creds"}, vols)
			}
		})
	}
}

func TestHelmConfigChangeRollsPods(t *testing.T) {
	t.Parallel()
	a := render(t)
	dir := t.TempDir()
	f := filepath.Join(dir, "debug.yaml")
	require.NoError(t, os.WriteFile(f, []byte("logLevel: debug\n"), 0o644))
	b := render(t, f)
	w := "ff-facefleet-worker"
	require.NotEqual(t,
		a.deployments[w].Spec.Template.Annotations["checksum/config"],
		b.deployments[w].Spec.Template.Annotations["checksum/config"])
}

func TestHelmRejectsBadValues(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"unknown-key": "gpus",
		"wrong-type":  "replicas",
		"short-grace": "terminationGracePeriodSeconds must be longer",
	}
	for file, want := range cases {
		out, err := runHelm(t, "template", "ff", chartDir(t), "-f",
			filepath.Join(repoRoot(t), "deploy", "testdata", "bad", file+".yaml"))
		require.Error(t, err, "%s should be rejected", file)
		require.Contains(t, out, want, fmt.Sprintf("%s: %s", file, out))
	}
}

// The defaults carry no secret material: only the names of existing Secrets.
func TestValuesHaveNoSecrets(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile(filepath.Join(chartDir(t), "values.yaml"))
	require.NoError(t, err)
	var v map[string]any
	require.NoError(t, yaml.Unmarshal(raw, &v))
	var walk func(path string, x any)
	walk = func(path string, x any) {
		switch x := x.(type) {
		case map[string]any:
			for k, vv := range x {
				walk(path+"."+k, vv)
			}
		case string:
			low := strings.ToLower(path)
			leaf := low[strings.LastIndex(low, ".")+1:]
			sensitive := strings.Contains(leaf, "password") || strings.Contains(leaf, "secretkey") ||
				strings.Contains(leaf, "accesskey") || strings.Contains(leaf, "token") || leaf == "apikey"
			if sensitive && !strings.HasSuffix(leaf, "key") {
				require.Empty(t, x, "%s holds a secret value", path)
			}
		}
	}
	walk("", v)
	require.NotContains(t, string(raw), "password:")
	require.NotContains(t, string(raw), "secretKey:")
}
