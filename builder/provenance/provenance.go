package provenance

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"
)

// Type URIs.
const (
	StatementType = "https://in-toto.io/Statement/v1"
	PredicateType = "https://slsa.dev/provenance/v1"
	// BuildType names undistro's build: roles built from recipes at a
	// commit. Its externalParameters are roles, repository and commit.
	BuildType = "https://github.com/un-distro/undistro/buildtypes/recipes/v1"
	// DefaultBuilderID is runDetails.builder.id when Params.BuilderID is "".
	DefaultBuilderID = "https://github.com/un-distro/undistro/builder"
)

// Material is a resolved dependency: a recipe or a source, with its digest
// set (algorithm → value, e.g. "sha256", "gitCommit", "dirHash").
type Material struct {
	URI    string            `json:"uri"`
	Digest map[string]string `json:"digest"`
}

// Params are the facts of one build.
type Params struct {
	// Roles built, e.g. ["web"].
	Roles []string
	// Repository is the git repository of the recipes (URL or path) and
	// Commit the full commit hash built.
	Repository string
	Commit     string
	// Recipes are the recipe files used (URI e.g. "recipes/whoami.toml")
	// and Sources the fetched sources, each with digests.
	Recipes []Material
	Sources []Material
	// BuilderID defaults to DefaultBuilderID; BuilderVersion is the
	// undistro version.
	BuilderID      string
	BuilderVersion string
	// StartedOn and FinishedOn are written when set (not zero). Leave them
	// zero for byte-reproducible provenance.
	StartedOn, FinishedOn time.Time
}

type statement struct {
	Type          string    `json:"_type"`
	Subject       []subject `json:"subject"`
	PredicateType string    `json:"predicateType"`
	Predicate     Predicate `json:"predicate"`
}

type subject struct {
	Name   string            `json:"name"`
	Digest map[string]string `json:"digest"`
}

// Predicate is a SLSA provenance v1 predicate.
type Predicate struct {
	BuildDefinition BuildDefinition `json:"buildDefinition"`
	RunDetails      RunDetails      `json:"runDetails"`
}

// BuildDefinition says what was built and from what.
type BuildDefinition struct {
	BuildType            string             `json:"buildType"`
	ExternalParameters   ExternalParameters `json:"externalParameters"`
	ResolvedDependencies []Dependency       `json:"resolvedDependencies"`
}

// ExternalParameters are the build's inputs from the user.
type ExternalParameters struct {
	Roles      []string `json:"roles"`
	Repository string   `json:"repository"`
	Commit     string   `json:"commit"`
}

// Dependency is a SLSA ResourceDescriptor.
type Dependency struct {
	URI    string            `json:"uri"`
	Digest map[string]string `json:"digest"`
	Name   string            `json:"name,omitempty"`
}

// RunDetails says who built it.
type RunDetails struct {
	Builder  Builder   `json:"builder"`
	Metadata *Metadata `json:"metadata,omitempty"`
}

// Builder identifies the builder.
type Builder struct {
	ID      string            `json:"id"`
	Version map[string]string `json:"version,omitempty"`
}

// Metadata holds the build's timestamps.
type Metadata struct {
	StartedOn  string `json:"startedOn,omitempty"`
	FinishedOn string `json:"finishedOn,omitempty"`
}

var (
	sha256RE = regexp.MustCompile(`^sha256:[a-f0-9]{64}$`)
	commitRE = regexp.MustCompile(`^([a-f0-9]{40}|[a-f0-9]{64})$`)
)

// Generate returns the in-toto Statement v1 whose subject is the image
// subjectName (e.g. the pushed repository) with manifest digest
// subjectDigest ("sha256:…"), and whose predicate is the SLSA provenance v1
// of p.
func Generate(subjectName, subjectDigest string, p Params) ([]byte, error) {
	if !sha256RE.MatchString(subjectDigest) {
		return nil, fmt.Errorf("generating provenance: subject digest %q is not sha256:<64 hex>", subjectDigest)
	}
	if subjectName == "" {
		return nil, errors.New("generating provenance: empty subject name")
	}
	pred, err := predicate(p)
	if err != nil {
		return nil, err
	}
	b, err := json.MarshalIndent(statement{
		Type:          StatementType,
		Subject:       []subject{{Name: subjectName, Digest: map[string]string{"sha256": strings.TrimPrefix(subjectDigest, "sha256:")}}},
		PredicateType: PredicateType,
		Predicate:     *pred,
	}, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encoding provenance: %w", err)
	}
	return append(b, '\n'), nil
}

// PredicateJSON returns only the SLSA provenance v1 predicate of p, for
// tools that wrap predicates themselves (cosign attest --type slsaprovenance1).
func PredicateJSON(p Params) ([]byte, error) {
	pred, err := predicate(p)
	if err != nil {
		return nil, err
	}
	return json.Marshal(pred)
}

func predicate(p Params) (*Predicate, error) {
	if len(p.Roles) == 0 {
		return nil, errors.New("generating provenance: no roles")
	}
	if !commitRE.MatchString(p.Commit) {
		return nil, fmt.Errorf("generating provenance: commit %q is not a full git hash (commit your changes; a dirty tree has no provenance)", p.Commit)
	}
	if p.Repository == "" {
		return nil, errors.New("generating provenance: empty repository")
	}
	deps := []Dependency{{URI: "git+" + p.Repository + "@" + p.Commit, Digest: map[string]string{"gitCommit": p.Commit}, Name: "recipes"}}
	for _, group := range []struct {
		kind string
		ms   []Material
	}{{"recipe", p.Recipes}, {"source", p.Sources}} {
		sorted := append([]Material(nil), group.ms...)
		sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].URI < sorted[j].URI })
		for _, m := range sorted {
			if m.URI == "" || len(m.Digest) == 0 {
				return nil, fmt.Errorf("generating provenance: %s %q has no URI or no digest", group.kind, m.URI)
			}
			deps = append(deps, Dependency{URI: m.URI, Digest: m.Digest})
		}
	}
	roles := append([]string(nil), p.Roles...)
	sort.Strings(roles)
	id := p.BuilderID
	if id == "" {
		id = DefaultBuilderID
	}
	pred := &Predicate{
		BuildDefinition: BuildDefinition{
			BuildType:            BuildType,
			ExternalParameters:   ExternalParameters{Roles: roles, Repository: p.Repository, Commit: p.Commit},
			ResolvedDependencies: deps,
		},
		RunDetails: RunDetails{Builder: Builder{ID: id}},
	}
	if p.BuilderVersion != "" {
		pred.RunDetails.Builder.Version = map[string]string{"undistro": p.BuilderVersion}
	}
	if !p.StartedOn.IsZero() || !p.FinishedOn.IsZero() {
		pred.RunDetails.Metadata = &Metadata{StartedOn: stamp(p.StartedOn), FinishedOn: stamp(p.FinishedOn)}
	}
	return pred, nil
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// DigestSet turns an undistro checksum ("sha256:HEX", "h1:BASE64" for Go
// modules, "git:HEX" for commits) into an in-toto digest set.
func DigestSet(sum string) (map[string]string, error) {
	alg, val, ok := strings.Cut(sum, ":")
	if !ok || val == "" {
		return nil, fmt.Errorf("checksum %q: want ALGORITHM:VALUE", sum)
	}
	switch alg {
	case "sha256", "sha512", "sha1":
		return map[string]string{alg: val}, nil
	case "h1":
		return map[string]string{"dirHash": sum}, nil
	case "git":
		return map[string]string{"gitCommit": val}, nil
	}
	return nil, fmt.Errorf("checksum %q: unknown algorithm %q (want sha256, h1 or git)", sum, alg)
}
