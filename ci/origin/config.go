package origin

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"

	"github.com/distribution/distribution/v3/configuration"
	"go.yaml.in/yaml/v2"
)

// Files under the data directory.
const (
	storageDir   = "storage"  // filesystem storage root (when the config names no driver)
	htpasswdFile = "htpasswd" // users, bcrypt
	lockFile     = "lock"     // held by a running server or garbage collection
)

// HtpasswdPath is the user file of the origin whose data directory is data.
func HtpasswdPath(data string) string { return filepath.Join(data, htpasswdFile) }

// loadConfig builds the engine configuration: the YAML file if one is
// given, undistro's defaults for what it leaves out, then the options.
// The engine's REGISTRY_* environment overrides apply as in a stock
// registry.
func loadConfig(data string, o *options) (*configuration.Configuration, error) {
	doc := yaml.MapSlice{}
	src := "built-in configuration"
	if o.configFile != "" {
		src = o.configFile
		b, err := os.ReadFile(o.configFile)
		if err != nil {
			return nil, fmt.Errorf("reading registry configuration: %w", err)
		}
		if err := yaml.Unmarshal(b, &doc); err != nil {
			return nil, fmt.Errorf("%s: %w (want the YAML of a distribution registry config.yml)", src, err)
		}
	}
	doc = setDefault(doc, "version", "0.1")
	if log, _ := get(doc, "log").(yaml.MapSlice); get(log, "level") == nil && get(doc, "loglevel") == nil {
		// The engine logs every request at info; undistro logs what matters.
		doc = set(doc, "log", set(log, "level", "warn"))
	}
	var storage yaml.MapSlice
	switch v := get(doc, "storage").(type) {
	case yaml.MapSlice:
		storage = v
	case string: // "storage: inmemory", the short form the engine accepts
		storage = yaml.MapSlice{{Key: v, Value: yaml.MapSlice{}}}
	case nil:
	default:
		return nil, fmt.Errorf("%s: storage: want a mapping such as {filesystem: {rootdirectory: DIR}}", src)
	}
	if !hasDriver(storage) {
		storage = setDefault(storage, "filesystem", yaml.MapSlice{{Key: "rootdirectory", Value: filepath.Join(data, storageDir)}})
	}
	storage = setDefault(storage, "delete", yaml.MapSlice{{Key: "enabled", Value: true}})
	storage = setDefault(storage, "cache", yaml.MapSlice{{Key: "blobdescriptor", Value: "inmemory"}})
	doc = set(doc, "storage", storage)
	b, err := yaml.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", src, err)
	}
	cfg, err := configuration.Parse(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", src, err)
	}
	if cfg.Proxy.RemoteURL != "" {
		return nil, fmt.Errorf("%s: proxy (pull-through cache) is not what an origin is: remove the proxy section", src)
	}
	if cfg.HTTP.TLS.LetsEncrypt.CacheFile != "" {
		return nil, fmt.Errorf("%s: http.tls.letsencrypt is not supported by undistro serve: give http.tls.certificate and key (or --tls-cert/--tls-key)", src)
	}
	if o.addr != "" {
		cfg.HTTP.Addr, cfg.HTTP.Net = o.addr, "tcp"
	}
	if cfg.HTTP.Addr == "" {
		cfg.HTTP.Addr = DefaultAddr
	}
	if cfg.HTTP.Net == "" {
		cfg.HTTP.Net = "tcp"
	}
	if o.tlsCert != "" {
		cfg.HTTP.TLS.Certificate, cfg.HTTP.TLS.Key = o.tlsCert, o.tlsKey
	}
	if cfg.HTTP.Secret == "" {
		// Upload state is signed with it; a random one only loses uploads
		// in flight across a restart. Several replicas need one in the file.
		s := make([]byte, 32)
		if _, err := rand.Read(s); err != nil {
			return nil, err
		}
		cfg.HTTP.Secret = hex.EncodeToString(s)
	}
	cfg.Log.AccessLog.Disabled = true // requests are logged through slog
	return cfg, nil
}

// hasDriver reports whether a storage section names a driver.
func hasDriver(storage yaml.MapSlice) bool {
	for _, it := range storage {
		switch it.Key {
		case "maintenance", "cache", "delete", "redirect", "tag":
		default:
			return true
		}
	}
	return false
}

func get(m yaml.MapSlice, key string) any {
	for _, it := range m {
		if it.Key == key {
			return it.Value
		}
	}
	return nil
}

func set(m yaml.MapSlice, key string, v any) yaml.MapSlice {
	for i, it := range m {
		if it.Key == key {
			m[i].Value = v
			return m
		}
	}
	return append(m, yaml.MapItem{Key: key, Value: v})
}

func setDefault(m yaml.MapSlice, key string, v any) yaml.MapSlice {
	if get(m, key) != nil {
		return m
	}
	return set(m, key, v)
}
