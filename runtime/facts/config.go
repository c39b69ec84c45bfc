package facts

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"

	"github.com/un-distro/undistro/internal/tomlpos"
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
	// P2P is where the node finds its fleet's BitTorrent peers; `node run`
	// flags (--peers, --trackers) override it.
	P2P P2P `toml:"p2p" json:"p2p,omitzero"`
}

// P2P is the [p2p] table of the node config.
type P2P struct {
	// Peers are bootstrap peers' BitTorrent addresses, HOST:PORT.
	Peers []string `toml:"peers" json:"peers,omitempty"`
	// Trackers are HTTP tracker announce URLs.
	Trackers []string `toml:"trackers" json:"trackers,omitempty"`
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
// and what to write instead (every problem at once).
func ParseConfig(path string, data []byte, hostname string) (*Config, error) {
	var c Config
	idx, errs := tomlpos.Decode(path, data, &c)
	if err := errs.Err(); err != nil {
		return nil, err
	}
	defaults(&c, hostname)
	if err := c.validate(); err != nil {
		ke := err.(*keyError)
		p := idx.Lookup(ke.key)
		return nil, &tomlpos.Error{File: path, Line: p.Line, Col: p.Col, Msg: ke.msg}
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
	key string // the key path the problem is at, as tomlpos.Index names it
	msg string
}

func (e *keyError) Error() string { return e.msg }

func (c *Config) validate() error {
	if !tagRE.MatchString(c.Name) {
		return &keyError{"name", fmt.Sprintf("name %q: use letters, digits and . _ - (at most 63)", c.Name)}
	}
	if c.Tags[0] != c.Name {
		return &keyError{"tags[0]", fmt.Sprintf("tags: the first tag must be the node's name %q (it overrides all others), got %q", c.Name, c.Tags[0])}
	}
	seen := map[string]bool{}
	for i, t := range c.Tags {
		if !tagRE.MatchString(t) {
			return &keyError{fmt.Sprintf("tags[%d]", i), fmt.Sprintf("tag %q: use letters, digits and . _ - (at most 63)", t)}
		}
		if seen[t] {
			return &keyError{fmt.Sprintf("tags[%d]", i), fmt.Sprintf("tag %q is listed twice", t)}
		}
		seen[t] = true
	}
	for i, p := range c.P2P.Peers {
		if host, port, err := net.SplitHostPort(p); err != nil || host == "" || !validPort(port) {
			return &keyError{fmt.Sprintf("p2p.peers[%d]", i), fmt.Sprintf("p2p.peers: %q: want HOST:PORT (a peer's BitTorrent address, e.g. 10.0.0.2:6881)", p)}
		}
	}
	for i, tr := range c.P2P.Trackers {
		if u, err := url.Parse(tr); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return &keyError{fmt.Sprintf("p2p.trackers[%d]", i), fmt.Sprintf("p2p.trackers: %q: want an http(s) announce URL, e.g. http://origin:5000/announce", tr)}
		}
	}
	var unknown []string
	for t := range c.Values {
		if !seen[t] {
			unknown = append(unknown, t)
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		return &keyError{"values." + tomlpos.KeyString(unknown[0]), fmt.Sprintf("[values.%s]: %q is not one of the node's tags %v: add it to tags or remove the table", unknown[0], unknown[0], c.Tags)}
	}
	return nil
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

func validPort(s string) bool {
	n, err := strconv.Atoi(s)
	return err == nil && n > 0 && n < 65536
}
