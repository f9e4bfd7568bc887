package config

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"testing"
)

func mustLoadSFU(t *testing.T, args []string, m map[string]string) SFUConfig {
	t.Helper()
	c, err := loadSFU(args, env(m), fixedHost("sfuhost"))
	if err != nil {
		t.Fatalf("LoadSFU: %v", err)
	}
	return c
}

// nats is the one setting an SFU node cannot do without.
var nats = map[string]string{"HUB_NATS_URL": "nats://127.0.0.1:4222"}

func TestLoadSFUDefaults(t *testing.T) {
	c := mustLoadSFU(t, nil, nats)
	tests := []struct {
		name      string
		got, want any
	}{
		{"NATSURL", c.NATSURL, "nats://127.0.0.1:4222"},
		{"NATSSubjectPrefix", c.NATSSubjectPrefix, "hub"},
		{"Addr", c.Addr, "127.0.0.1:8090"},
		{"Network.UDPPort", c.Network.UDPPort, 0},
		{"Network.UDPPortMin", c.Network.UDPPortMin, uint16(0)},
		{"Network.UDPPortMax", c.Network.UDPPortMax, uint16(0)},
		{"Network.PublicIPs", len(c.Network.PublicIPs), 0},
		{"Network.TCPPort", c.Network.TCPPort, 0},
		{"Network.Loopback", c.Network.Loopback, false},
		{"Network.MaxTracks", c.Network.MaxTracks, 4},
		{"LogLevel", c.LogLevel, slog.LevelInfo},
		{"LogFormat", c.LogFormat, LogText},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: got %v, want %v", tt.name, tt.got, tt.want)
		}
	}
	if !regexp.MustCompile(`^sfuhost-[0-9a-f]{6}$`).MatchString(c.NodeID) {
		t.Errorf("NodeID: got %q, want sfuhost-<6 hex>", c.NodeID)
	}
	// The hub's defaults and the node's agree, so they hear each other.
	hub := mustLoad(t, nil, nil)
	if hub.NATSSubjectPrefix != c.NATSSubjectPrefix {
		t.Errorf("subject prefix: hub %q, sfu %q", hub.NATSSubjectPrefix, c.NATSSubjectPrefix)
	}
	if fmt.Sprint(hub.SFUNetwork) != fmt.Sprint(c.Network) {
		t.Errorf("network defaults: hub %+v, sfu %+v", hub.SFUNetwork, c.Network)
	}
}

func TestLoadSFUFromEnvAndFlags(t *testing.T) {
	environ := map[string]string{
		"HUB_NATS_URL":            "nats://a:4222, nats://b:4222",
		"HUB_NATS_SUBJECT_PREFIX": "prod.eu",
		"HUB_NODE_ID":             "sfu-1",
		"HUB_SFU_ADDR":            "0.0.0.0:9100",
		"HUB_SFU_UDP_PORT":        "3478",
		"HUB_SFU_PUBLIC_IP":       "203.0.113.7",
		"HUB_SFU_TCP_PORT":        "3479",
		"HUB_SFU_LOOPBACK":        "true",
		"HUB_SFU_MAX_TRACKS":      "8",
		"HUB_LOG_LEVEL":           "debug",
		"HUB_LOG_FORMAT":          "json",
	}
	tests := []struct {
		name string
		args []string
		get  func(SFUConfig) any
		want any
	}{
		{"nats url", nil, func(c SFUConfig) any { return c.NATSURL }, "nats://a:4222,nats://b:4222"},
		{"prefix", nil, func(c SFUConfig) any { return c.NATSSubjectPrefix }, "prod.eu"},
		{"node", nil, func(c SFUConfig) any { return c.NodeID }, "sfu-1"},
		{"addr", nil, func(c SFUConfig) any { return c.Addr }, "0.0.0.0:9100"},
		{"udp port", nil, func(c SFUConfig) any { return c.Network.UDPPort }, 3478},
		{"public ip", nil, func(c SFUConfig) any { return strings.Join(c.Network.PublicIPs, ",") }, "203.0.113.7"},
		{"tcp port", nil, func(c SFUConfig) any { return c.Network.TCPPort }, 3479},
		{"loopback", nil, func(c SFUConfig) any { return c.Network.Loopback }, true},
		{"max tracks", nil, func(c SFUConfig) any { return c.Network.MaxTracks }, 8},
		{"log level", nil, func(c SFUConfig) any { return c.LogLevel }, slog.LevelDebug},
		{"log format", nil, func(c SFUConfig) any { return c.LogFormat }, LogJSON},
		{"flag wins", []string{"-sfu-addr", "127.0.0.1:9200"}, func(c SFUConfig) any { return c.Addr }, "127.0.0.1:9200"},
		{"network flag", []string{"-sfu-udp-port=0", "-sfu-udp-port-min=40000", "-sfu-udp-port-max=40010"},
			func(c SFUConfig) any { return fmt.Sprint(c.Network.UDPPortMin, c.Network.UDPPortMax) }, "40000 40010"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustLoadSFU(t, tt.args, environ)
			if got := tt.get(c); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestLoadSFUBadValues(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"no nats", nil, `config: HUB_NATS_URL: must be set: an SFU node reaches the hubs over NATS`},
		{"bad nats", map[string]string{"HUB_NATS_URL": "http://n:4222"}, `config: HUB_NATS_URL: scheme must be nats, tls, ws or wss (got "http")`},
		{"bad prefix", map[string]string{"HUB_NATS_SUBJECT_PREFIX": "a.*"}, `config: HUB_NATS_SUBJECT_PREFIX: "a.*" must be dot-separated tokens of letters, digits, '-' and '_'`},
		{"bad node", map[string]string{"HUB_NODE_ID": "sfu.1"}, `config: HUB_NODE_ID: "sfu.1" may only hold letters, digits, '-' and '_'`},
		{"bad addr", map[string]string{"HUB_SFU_ADDR": "8090"}, `config: HUB_SFU_ADDR: "8090" is not host:port`},
		{"bad udp port", map[string]string{"HUB_SFU_UDP_PORT": "65536"}, `config: HUB_SFU_UDP_PORT: must be in 0..65535 (got 65536)`},
		{"udp min alone", map[string]string{"HUB_SFU_UDP_PORT_MIN": "40000"}, `config: HUB_SFU_UDP_PORT_MAX: must be set with HUB_SFU_UDP_PORT_MIN`},
		{"udp min above max", map[string]string{"HUB_SFU_UDP_PORT_MIN": "2", "HUB_SFU_UDP_PORT_MAX": "1"}, `config: HUB_SFU_UDP_PORT_MAX: must be at least HUB_SFU_UDP_PORT_MIN = 2 (got 1)`},
		{"bad public ip", map[string]string{"HUB_SFU_PUBLIC_IP": "example.com"}, `config: HUB_SFU_PUBLIC_IP: "example.com" is not an IP address`},
		{"bad tcp port", map[string]string{"HUB_SFU_TCP_PORT": "x"}, `config: HUB_SFU_TCP_PORT: "x" is not a whole number`},
		{"bad loopback", map[string]string{"HUB_SFU_LOOPBACK": "on"}, `config: HUB_SFU_LOOPBACK: must be true or false (got "on")`},
		{"bad max tracks", map[string]string{"HUB_SFU_MAX_TRACKS": "65"}, `config: HUB_SFU_MAX_TRACKS: must be in 1..64 (got 65)`},
		{"bad log level", map[string]string{"HUB_LOG_LEVEL": "loud"}, `config: HUB_LOG_LEVEL: must be debug, info, warn or error (got "loud")`},
		{"bad log format", map[string]string{"HUB_LOG_FORMAT": "xml"}, `config: HUB_LOG_FORMAT: must be text or json (got "xml")`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := map[string]string{}
			for k, v := range nats {
				m[k] = v
			}
			if tt.name == "no nats" {
				delete(m, "HUB_NATS_URL")
			}
			for k, v := range tt.env {
				m[k] = v
			}
			_, err := loadSFU(nil, env(m), fixedHost("h"))
			if err == nil {
				t.Fatalf("got nil error, want %s", tt.want)
			}
			if err.Error() != tt.want {
				t.Errorf("got  %s\nwant %s", err, tt.want)
			}
			checkOneLine(t, err, nil)
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("got %v, want it to wrap ErrInvalid", err)
			}
		})
	}
}

func TestLoadSFUCommandLine(t *testing.T) {
	_, err := loadSFU([]string{"-h"}, env(nats), fixedHost("h"))
	if !errors.Is(err, flag.ErrHelp) || !strings.Contains(err.Error(), "-sfu-addr, HUB_SFU_ADDR") || !strings.Contains(err.Error(), "Usage: sfu") {
		t.Errorf("got %v, want help listing -sfu-addr", err)
	}
	// A hub-only flag is not an SFU node's.
	_, err = loadSFU([]string{"-turn-urls", "turn:x"}, env(nats), fixedHost("h"))
	if err == nil || err.Error() != "config: flag provided but not defined: -turn-urls" {
		t.Errorf("got %v, want the unknown flag named", err)
	}
	// The flag form of a bad value names the flag.
	_, err = loadSFU([]string{"-sfu-max-tracks=0"}, env(nats), fixedHost("h"))
	if want := "config: HUB_SFU_MAX_TRACKS (flag -sfu-max-tracks): must be in 1..64 (got 0)"; err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
}

func TestSFUConfigNoSecretsPrinted(t *testing.T) {
	const pw = "natspw-sss"
	c := mustLoadSFU(t, nil, map[string]string{"HUB_NATS_URL": "nats://u:" + pw + "@n:4222"})
	for name, out := range map[string]string{"String": c.String(), "%v": fmt.Sprintf("%v", c), "%#v": fmt.Sprintf("%#v", c)} {
		if strings.Contains(out, pw) {
			t.Errorf("%s leaks the NATS password: %s", name, out)
		}
	}
	if want := `nats_url="nats://u:xxxxx@n:4222"`; !strings.Contains(c.String(), want) {
		t.Errorf("String lacks %s: %s", want, c.String())
	}
}
