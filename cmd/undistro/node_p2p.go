package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/un-distro/undistro/internal/atomicfile"
	"github.com/un-distro/undistro/runtime/facts"
	"github.com/un-distro/undistro/runtime/node"
	"github.com/un-distro/undistro/runtime/p2p"
	"github.com/un-distro/undistro/runtime/store"
)

// loadNodeConfig reads the node's config file (--node-config, else
// ROOT/node.toml; missing: the defaults).
func loadNodeConfig(cfg node.Config) (*facts.Config, error) {
	path := cfg.NodeConfig
	if path == "" {
		path = filepath.Join(cfg.Root, facts.FileName)
	}
	host, _ := os.Hostname()
	return facts.LoadConfig(path, host)
}

// btFlags adds node run's BitTorrent flags and returns how to read them:
// --peers and --trackers, when given, replace the node config's [p2p]
// peers and trackers.
func btFlags(cmd *cobra.Command) func(nc *facts.Config) (node.BitTorrent, error) {
	fl := cmd.Flags()
	listen := fl.String("p2p", p2p.DefaultListen, "BitTorrent address HOST:PORT the daemon fetches and seeds layers on, or off")
	peers := fl.StringSlice("peers", nil, "bootstrap peers' BitTorrent addresses HOST:PORT,... (also the only starting nodes of the private DHT; default: [p2p] peers in the node config)")
	allow := fl.String("p2p-allow", "", "address ranges CIDR,... peers may be in; others are refused at connect (default loopback, 10/8, 172.16/12, 192.168/16, fc00::/7, link-local)")
	trackers := fl.StringSlice("trackers", nil, "HTTP tracker announce URLs (e.g. the origin's http://HOST:PORT/announce; default: [p2p] trackers in the node config)")
	up := fl.String("p2p-up", "0", "upload rate cap to peers in bytes/s (K, M, G suffixes; 0: none)")
	down := fl.String("p2p-down", "0", "download rate cap from peers and web seeds in bytes/s (0: none)")
	return func(nc *facts.Config) (node.BitTorrent, error) {
		// The default address is best effort (another daemon may hold
		// it); an address given by hand must work.
		b := node.BitTorrent{Listen: *listen, Peers: *peers, Trackers: *trackers, Optional: !fl.Changed("p2p")}
		if !fl.Changed("peers") {
			b.Peers = nc.P2P.Peers
		}
		if !fl.Changed("trackers") {
			b.Trackers = nc.P2P.Trackers
		}
		if *allow != "" {
			if _, err := p2p.ParseAllow(*allow); err != nil {
				return b, fmt.Errorf("--p2p-allow: %w", err)
			}
			b.Allow = strings.Split(*allow, ",")
		}
		var err error
		if b.UploadRate, err = p2p.ParseRate(*up); err != nil {
			return b, fmt.Errorf("--p2p-up: %w", err)
		}
		if b.DownloadRate, err = p2p.ParseRate(*down); err != nil {
			return b, fmt.Errorf("--p2p-down: %w", err)
		}
		return b, nil
	}
}

// daemon dials the node's daemon: the BitTorrent commands need it.
func (f *nodeFlags) daemon(cmd *cobra.Command) (*node.Client, error) {
	cfg, err := f.config()
	if err != nil {
		return nil, err
	}
	socket := cfg.Socket
	if socket == "" {
		socket = cfg.Root + "/undistro.sock"
	}
	c, err := node.Dial(cmd.Context(), socket)
	if err != nil {
		return nil, fmt.Errorf("%w (%w)", node.ErrNoP2P, err)
	}
	return c, nil
}

func newNodeTorrentCmd(f *nodeFlags) *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "torrent DIGEST [-o FILE]",
		Short: "Write the .torrent of a stored layer blob",
		Long: `torrent writes the metainfo of a layer blob the node's daemon seeds: its
deterministic info dictionary (the infohash the signed manifest names), the
trackers the daemon knows, and the registry's blob URL as web seed. Any
BitTorrent client inside the fleet's address ranges can fetch the blob from
the node with it.`,
		Example: `  undistro node torrent sha256:4f3c... -o layer.torrent
  aria2c --seed-time=0 layer.torrent`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.daemon(cmd)
			if err != nil {
				return err
			}
			b, err := c.Torrent(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if out == "" || out == "-" {
				_, err = cmd.OutOrStdout().Write(b)
				return err
			}
			return atomicfile.WriteFile(out, b, 0o644)
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "", "file to write (default standard output)")
	return cmd
}

func newNodePeersCmd(f *nodeFlags) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "peers [--json]",
		Short: "List the daemon's BitTorrent peers, banned peers and layers",
		Long: `peers shows the daemon's BitTorrent client: connected peers (per layer, bytes
each way), peers banned for sending pieces that failed their hash, and each
layer's progress with the bytes that came from peers and from the origin.`,
		Example: `  undistro node peers
  undistro node peers --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := f.daemon(cmd)
			if err != nil {
				return err
			}
			s, err := c.P2P(cmd.Context())
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(s)
			}
			printPeers(cmd.OutOrStdout(), s)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func printPeers(w io.Writer, s *p2p.Stats) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "listening on %s; %d bytes from origins\n", s.Listen, s.OriginBytes)
	fmt.Fprintln(tw, "LAYER\tDONE\tFROM PEERS\tFROM ORIGIN\tUPLOADED\tPEERS\tSTATE")
	for _, l := range s.Layers {
		state := "downloading"
		if l.Seeding {
			state = "seeding"
		}
		fmt.Fprintf(tw, "%s\t%d/%d\t%d\t%d\t%d\t%d\t%s\n", shortDigest(l.Digest), l.Done, l.Size, l.FromPeers, l.FromOrigin, l.Uploaded, l.Peers, state)
	}
	fmt.Fprintln(tw, "\nPEER\tLAYER\tDOWNLOADED\tUPLOADED\tCLIENT")
	for _, p := range s.Peers {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\n", p.Addr, shortDigest(p.Digest), p.Downloaded, p.Uploaded, p.Client)
	}
	tw.Flush()
	if len(s.Banned) > 0 {
		fmt.Fprintf(w, "\nbanned (sent pieces that failed their hash): %s\n", strings.Join(s.Banned, " "))
	}
}

// p2pProgress shows per-layer progress of a pull through the daemon on a
// terminal: it polls the daemon's BitTorrent state until stop is closed.
func p2pProgress(ctx context.Context, w io.Writer, c *node.Client, stop <-chan struct{}) {
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	lines := 0
	prev := map[string]int64{}
	last := time.Now()
	for {
		select {
		case <-stop:
			return
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s, err := c.P2P(ctx)
		if err != nil {
			return
		}
		now := time.Now()
		dt := now.Sub(last).Seconds()
		last = now
		if lines > 0 {
			fmt.Fprintf(w, "\x1b[%dA", lines)
		}
		lines = 0
		for _, l := range s.Layers {
			if l.Seeding && prev[l.Digest] == 0 {
				continue // not part of this pull
			}
			rate := float64(l.Done-prev[l.Digest]) / dt
			prev[l.Digest] = max(l.Done, 1)
			pct := int64(100)
			if l.Size > 0 {
				pct = l.Done * 100 / l.Size
			}
			fmt.Fprintf(w, "\x1b[2K%s %3d%% %6.1f/%.1f MB %6.1f MB/s  peers %.1f MB  origin %.1f MB\n",
				shortDigest(l.Digest), pct, float64(l.Done)/1e6, float64(l.Size)/1e6, rate/1e6, float64(l.FromPeers)/1e6, float64(l.FromOrigin)/1e6)
			lines++
		}
	}
}

// startPullProgress shows a pull's progress on a terminal: per layer
// through a daemon with a BitTorrent client, else the byte count. The
// returned function ends it.
func startPullProgress(cmd *cobra.Command, api node.API, o *node.PullOptions) func() {
	if quiet(cmd) {
		return func() {}
	}
	if c, ok := api.(*node.Client); ok {
		if _, err := c.P2P(cmd.Context()); err == nil {
			stop, done := make(chan struct{}), make(chan struct{})
			go func() {
				defer close(done)
				p2pProgress(cmd.Context(), cmd.ErrOrStderr(), c, stop)
			}()
			return func() { close(stop); <-done }
		}
	}
	o.Progress = nodeProgress(cmd.ErrOrStderr(), "pulling")
	return func() { fmt.Fprintln(cmd.ErrOrStderr()) }
}

// pullJSON is what `node pull --json` prints.
type pullJSON struct {
	Digest string           `json:"digest"`
	Ref    string           `json:"ref"`
	Size   int64            `json:"size"`
	Layers []p2p.LayerStats `json:"layers,omitempty"`
	// FromPeers and FromOrigin add up the layers' bytes.
	FromPeers  int64 `json:"fromPeers"`
	FromOrigin int64 `json:"fromOrigin"`
}

func printPullJSON(cmd *cobra.Command, api node.API, img *store.Image) error {
	out := pullJSON{Digest: img.Digest, Ref: img.Ref, Size: img.Size}
	if c, ok := api.(*node.Client); ok {
		if s, err := c.P2P(cmd.Context()); err == nil {
			for _, l := range s.Layers {
				if slices.Contains(img.Blobs, l.Digest) {
					out.Layers = append(out.Layers, l)
					out.FromPeers += l.FromPeers
					out.FromOrigin += l.FromOrigin
				}
			}
		}
	}
	enc := json.NewEncoder(cmd.OutOrStdout())
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
