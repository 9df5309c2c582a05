// Package deploy_test validates the deployment artifacts (docker-compose.yml,
// Dockerfiles, the Helm chart) with real tools, offline.
package deploy_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/stretchr/testify/require"
)

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("..")
	require.NoError(t, err)
	return root
}

// loadCompose loads docker-compose.yml with compose-go (the loader Docker
// Compose itself uses, schema embedded) in a scratch copy of the project that
// has a secrets.env made from the committed example.
func loadCompose(t *testing.T, profiles ...string) *types.Project {
	t.Helper()
	root := repoRoot(t)
	dir := t.TempDir()
	for _, f := range []string{"docker-compose.yml", ".env"} {
		b, err := os.ReadFile(filepath.Join(root, f))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, f), b, 0o644))
	}
	ex, err := os.ReadFile(filepath.Join(root, "deploy", "secrets.env.example"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "secrets.env"), ex, 0o600))

	opts := []cli.ProjectOptionsFn{cli.WithWorkingDirectory(dir), cli.WithEnvFiles(), cli.WithDotEnv, cli.WithConsistency(true)}
	if profiles != nil {
		opts = append(opts, cli.WithProfiles(profiles))
	} else {
		// As `docker compose up` does: COMPOSE_PROFILES from .env.
		opts = append(opts, cli.WithDefaultProfiles())
	}
	po, err := cli.NewProjectOptions([]string{filepath.Join(dir, "docker-compose.yml")}, opts...)
	require.NoError(t, err)
	p, err := po.LoadProject(context.Background())
	require.NoError(t, err)
	return p
}

func TestComposeGPUProfilePinsOneWorkerPerGPU(t *testing.T) {
	t.Parallel()
	p := loadCompose(t) // .env selects the gpu profile
	require.Equal(t, "facefleet", p.Name)
	names := p.ServiceNames()
	require.Subset(t, names, []string{"nats", "redis", "s3", "init", "producer", "worker-gpu-0", "worker-gpu-1"})
	require.NotContains(t, names, "worker-cpu")

	for i, name := range []string{"worker-gpu-0", "worker-gpu-1"} {
		svc, err := p.GetService(name)
		require.NoError(t, err)
		require.NotNil(t, svc.Deploy, name)
		require.NotNil(t, svc.Deploy.Resources.Reservations, name)
		devs := svc.Deploy.Resources.Reservations.Devices
		require.Len(t, devs, 1, name)
		require.Equal(t, []string{string(rune('0' + i))}, devs[0].IDs, "%s must be pinned to GPU %d", name, i)
		require.Contains(t, devs[0].Capabilities, "gpu")
		require.Equal(t, "cuda:0", *svc.Environment["FACEFLEET_DEVICES"], "the pinned GPU is the container's cuda:0")
	}
}

func TestComposeCPUProfileRunsWithoutGPUs(t *testing.T) {
	t.Parallel()
	p := loadCompose(t, "cpu")
	names := p.ServiceNames()
	require.Contains(t, names, "worker-cpu")
	require.NotContains(t, names, "worker-gpu-0")
	for _, svc := range p.Services {
		if svc.Deploy != nil && svc.Deploy.Resources.Reservations != nil {
			require.Empty(t, svc.Deploy.Resources.Reservations.Devices, "%s reserves a device in the cpu profile", svc.Name)
		}
	}
}

func TestComposeHealthAndOrdering(t *testing.T) {
	t.Parallel()
	for _, profile := range []string{"gpu", "cpu"} {
		p := loadCompose(t, profile)
		for _, svc := range p.Services {
			if svc.Name == "init" {
				require.Equal(t, "no", svc.Restart)
				continue
			}
			require.NotNil(t, svc.HealthCheck, "%s has no healthcheck", svc.Name)
			require.NotEmpty(t, svc.HealthCheck.Test, svc.Name)
			for dep, cond := range svc.DependsOn {
				want := types.ServiceConditionHealthy
				if dep == "init" {
					want = types.ServiceConditionCompletedSuccessfully
				}
				require.Equal(t, want, cond.Condition, "%s depends_on %s", svc.Name, dep)
			}
			if strings.HasPrefix(svc.Name, "worker") {
				require.Contains(t, svc.DependsOn, "nats")
				require.Contains(t, svc.DependsOn, "init")
				require.NotNil(t, svc.StopGracePeriod)
			}
		}
		for _, stateful := range []string{"nats", "redis", "s3"} {
			svc, err := p.GetService(stateful)
			require.NoError(t, err)
			require.NotEmpty(t, svc.Volumes, "%s must persist to a volume", stateful)
		}
	}
}

// Secrets come from env files that are not committed, never inline.
func TestComposeHasNoInlineSecrets(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile(filepath.Join(repoRoot(t), "docker-compose.yml"))
	require.NoError(t, err)
	for _, key := range []string{"SECRET_KEY", "PASSWORD", "ACCESS_KEY", "API_KEYS", "ROOT_USER"} {
		require.NotContains(t, string(raw), key+":", "docker-compose.yml sets %s inline", key)
	}
	ignore, err := os.ReadFile(filepath.Join(repoRoot(t), ".gitignore"))
	require.NoError(t, err)
	require.Contains(t, string(ignore), "/secrets.env")
}
