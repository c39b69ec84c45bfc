package facts

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"regexp"
	"slices"
	"strings"

	"github.com/pelletier/go-toml/v2"
)

// FileName is the node config's name in the node's root.
const FileName = "node.toml"

// Config is a node's config file.
type Config struct {
	// Name is the node's name; default: the hostname.
	Name string `toml:"name" json:"name"`
	// Tags are ordered, the node's name first: an earlier tag's values
	// override a later one's. Default: [Name].
	Tags []string `toml:"tags" json:"tags"`
	// Values holds, per tag, the keys templates read as .Values.KEY.
	Values map[string]map[string]any `toml:"values" json:"values,omitempty"`
}

var tagRE = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9._-]{0,62}$`)

// LoadConfig reads the node config at path. A missing file is the default
// config (named after hostname, no values). Errors name path:line:col.
func LoadConfig(path, hostname string) (*Config, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return defaults(&Config{}, hostname), nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading node config: %w", err)
	}
	return ParseConfig(path, data, hostname)
}

// ParseConfig decodes data, read from path, strictly: an unknown key, a
// wrong type or an inconsistent tag list is an error naming path:line:col
// and what to write instead.
func ParseConfig(path string, data []byte, hostname string) (*Config, error) {
	var c Config
	dec := toml.NewDecoder(bytes.NewReader(data)).DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		var de *toml.DecodeError
		var se *toml.StrictMissingError
		switch {
		case errors.As(err, &se):
			var msgs []string
			for _, e := range se.Errors {
				line, col := e.Position()
				msgs = append(msgs, fmt.Sprintf("%s:%d:%d: unknown key %q (valid: name, tags, values)", path, line, col, strings.Join(e.Key(), ".")))
			}
			return nil, errors.New(strings.Join(msgs, "\n"))
		case errors.As(err, &de):
			line, col := de.Position()
			return nil, fmt.Errorf("%s:%d:%d: %s", path, line, col, de.Error())
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	defaults(&c, hostname)
	if err := c.validate(); err != nil {
		return nil, fmt.Errorf("%s:%d:1: %w", path, lineOf(data, err.(*keyError).key), err)
	}
	return &c, nil
}

func defaults(c *Config, hostname string) *Config {
	if c.Name == "" {
		c.Name = hostname
	}
	if len(c.Tags) == 0 {
		c.Tags = []string{c.Name}
	}
	return c
}

type keyError struct {
	key string // the top-level key or table the problem is at
	msg string
}

func (e *keyError) Error() string { return e.msg }

func (c *Config) validate() error {
	if !tagRE.MatchString(c.Name) {
		return &keyError{"name", fmt.Sprintf("name %q: use letters, digits and . _ - (at most 63)", c.Name)}
	}
	if c.Tags[0] != c.Name {
		return &keyError{"tags", fmt.Sprintf("tags: the first tag must be the node's name %q (it overrides all others), got %q", c.Name, c.Tags[0])}
	}
	seen := map[string]bool{}
	for _, t := range c.Tags {
		if !tagRE.MatchString(t) {
			return &keyError{"tags", fmt.Sprintf("tag %q: use letters, digits and . _ - (at most 63)", t)}
		}
		if seen[t] {
			return &keyError{"tags", fmt.Sprintf("tag %q is listed twice", t)}
		}
		seen[t] = true
	}
	var unknown []string
	for t := range c.Values {
		if !seen[t] {
			unknown = append(unknown, t)
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		return &keyError{"values." + unknown[0], fmt.Sprintf("[values.%s]: %q is not one of the node's tags %v: add it to tags or remove the table", unknown[0], unknown[0], c.Tags)}
	}
	return nil
}

// lineOf finds the line that sets key ("name", "tags" or "values.TAG") in
// data, or 1.
func lineOf(data []byte, key string) int {
	want := []string{key + " ", key + "="}
	if tag, ok := strings.CutPrefix(key, "values."); ok {
		want = []string{"[values." + tag + "]", `[values."` + tag + `"]`, "values." + tag}
	}
	for i, l := range strings.Split(string(data), "\n") {
		l = strings.TrimSpace(l)
		for _, w := range want {
			if strings.HasPrefix(l, w) {
				return i + 1
			}
		}
	}
	return 1
}

// Merged returns the values templates see: every tag's values, an earlier
// tag's key overriding a later one's (tables are not merged key by key: the
// earlier tag's value wins whole).
func (c *Config) Merged() map[string]any {
	out := map[string]any{}
	for _, t := range slices.Backward(c.Tags) {
		for k, v := range c.Values[t] {
			out[k] = v
		}
	}
	return out
}
