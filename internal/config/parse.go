package config

import (
	"log/slog"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

const (
	minSecretLen = 32
	maxNodeIDLen = 64
)

func parseAddr(v string) (string, error) {
	host, port, err := net.SplitHostPort(v)
	if err != nil {
		return "", invalid("%q is not host:port", v)
	}
	if strings.ContainsAny(host, " /") {
		return "", invalid("%q has a bad host", v)
	}
	if err := checkPort(port); err != nil {
		return "", err
	}
	return v, nil
}

func checkPort(port string) error {
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 {
		return invalid("port %q is not a number in 0..65535", port)
	}
	return nil
}

// defaultPublicURL is "http://" + addr, with an unspecified host (":8080",
// "0.0.0.0:8080", "[::]:8080") replaced by localhost, which a browser can
// reach.
func defaultPublicURL(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "http://" + addr // parseAddr already failed
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// parseHTTPURL checks that v is an absolute http or https URL with a host and
// no user info, and normalizes scheme and host to lower case.
func parseHTTPURL(v string) (string, error) {
	u, err := url.Parse(v)
	if err != nil || !u.IsAbs() || u.Opaque != "" {
		return "", invalid("%q is not an absolute URL", v)
	}
	u.Scheme = strings.ToLower(u.Scheme)
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", invalid("scheme must be http or https (got %q)", u.Scheme)
	}
	if u.Hostname() == "" {
		return "", invalid("%q has no host", v)
	}
	if u.User != nil {
		return "", invalid("must not contain user info")
	}
	if p := u.Port(); p != "" {
		if err := checkPort(p); err != nil {
			return "", err
		}
	}
	u.Host = strings.ToLower(u.Host)
	return u.String(), nil
}

func parsePublicURL(v string) (string, error) {
	s, err := parseHTTPURL(v)
	if err != nil {
		return "", err
	}
	u, _ := url.Parse(s)
	if u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return "", invalid("must not have a query or fragment")
	}
	return strings.TrimRight(s, "/"), nil
}

// parseOrigin normalizes one browser origin to scheme://host[:port], with the
// default port dropped as browsers do in the Origin header.
func parseOrigin(v string) (string, error) {
	bad := invalid("%q is not an origin (want scheme://host[:port])", v)
	u, err := url.Parse(v)
	if err != nil || !u.IsAbs() || u.Opaque != "" || u.Hostname() == "" || u.User != nil ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return "", bad
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" {
		return "", invalid("origin %q: scheme must be http or https", v)
	}
	port := u.Port()
	if port != "" {
		if err := checkPort(port); err != nil {
			return "", invalid("origin %q: port must be a number in 0..65535", v)
		}
	}
	return origin(scheme, u.Hostname(), port), nil
}

// origin builds a normalized origin.
func origin(scheme, hostname, port string) string {
	hostname = strings.ToLower(hostname)
	if (scheme == "http" && port == "80") || (scheme == "https" && port == "443") {
		port = ""
	}
	host := hostname
	if strings.Contains(hostname, ":") {
		host = "[" + hostname + "]"
	}
	if port != "" {
		host = net.JoinHostPort(hostname, port)
	}
	return scheme + "://" + host
}

func parseOrigins(v string) ([]string, error) {
	var out []string
	for part := range strings.SplitSeq(v, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		o, err := parseOrigin(part)
		if err != nil {
			return nil, err
		}
		out = appendUnique(out, o)
	}
	return out, nil
}

// parseServiceURL checks that v is empty or a URL with one of the schemes.
// The value is never echoed: it may hold a password.
func parseServiceURL(v string, schemes ...string) (string, error) {
	if v == "" {
		return "", nil
	}
	u, err := url.Parse(v)
	if err != nil || u.Scheme == "" {
		return "", invalid("not a URL (want %s://…)", schemes[0])
	}
	for _, s := range schemes {
		if strings.EqualFold(u.Scheme, s) {
			return v, nil
		}
	}
	return "", invalid("scheme must be %s (got %q)", strings.Join(schemes, ", "), u.Scheme)
}

// parseNATSURLs checks a comma-separated list of NATS URLs.
func parseNATSURLs(v string) (string, error) {
	if v == "" {
		return "", nil
	}
	var parts []string
	for part := range strings.SplitSeq(v, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		u, err := url.Parse(part)
		if err != nil || u.Scheme == "" || u.Hostname() == "" {
			return "", invalid("%q is not a URL (want nats://host:port)", redactURL(part))
		}
		switch strings.ToLower(u.Scheme) {
		case "nats", "tls", "ws", "wss":
		default:
			return "", invalid("scheme must be nats, tls, ws or wss (got %q)", u.Scheme)
		}
		if p := u.Port(); p != "" {
			if err := checkPort(p); err != nil {
				return "", err
			}
		}
		parts = append(parts, part)
	}
	return strings.Join(parts, ","), nil
}

func parseAdmin(v string) (Admin, error) {
	if v == "" {
		return Admin{}, nil
	}
	name, pw, ok := strings.Cut(v, ":")
	switch {
	case !ok:
		return Admin{}, invalid("must be name:password")
	case name == "":
		return Admin{}, invalid("name before ':' is empty")
	case pw == "":
		return Admin{}, invalid("password after ':' is empty")
	}
	return Admin{Name: name, Password: Secret(pw)}, nil
}

func oneOf(v string, allowed ...string) (string, error) {
	for _, a := range allowed {
		if strings.EqualFold(v, a) {
			return a, nil
		}
	}
	return "", invalid("must be %s (got %q)", strings.Join(allowed, " or "), v)
}

func nodeIDChar(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_'
}

// token checks one subject-safe token: letters, digits, '-' and '_'.
func token(v string) error {
	if v == "" {
		return invalid("must not be empty")
	}
	for _, r := range v {
		if !nodeIDChar(r) {
			return invalid("%q may only hold letters, digits, '-' and '_'", v)
		}
	}
	return nil
}

func parseNodeID(v string) (string, error) {
	if len(v) > maxNodeIDLen {
		return "", invalid("must be at most %d characters (got %d)", maxNodeIDLen, len(v))
	}
	return v, token(v)
}

func parsePrefix(v string) (string, error) {
	for tok := range strings.SplitSeq(v, ".") {
		if err := token(tok); err != nil {
			return "", invalid("%q must be dot-separated tokens of letters, digits, '-' and '_'", v)
		}
	}
	return v, nil
}

func parseLevel(v string) (slog.Level, error) {
	switch strings.ToLower(v) {
	case "debug":
		return slog.LevelDebug, nil
	case "info":
		return slog.LevelInfo, nil
	case "warn":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, invalid("must be debug, info, warn or error (got %q)", v)
}

func parseInt(v string, lo, hi int) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, invalid("%q is not a whole number", v)
	}
	if n < lo || n > hi {
		return 0, invalid("must be in %d..%d (got %d)", lo, hi, n)
	}
	return n, nil
}

func parseDuration(v string) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, invalid("%q is not a duration (like 10s, 5m, 24h)", v)
	}
	if d <= 0 {
		return 0, invalid("must be positive (got %s)", v)
	}
	return d, nil
}

// parseRate reads "count/duration": "20/10s", or "5/s" for one unit.
func parseRate(v string) (Rate, error) {
	bad := invalid("%q is not count/duration (like 20/10s)", v)
	cs, ds, ok := strings.Cut(v, "/")
	if !ok {
		return Rate{}, bad
	}
	n, err := strconv.Atoi(strings.TrimSpace(cs))
	if err != nil {
		return Rate{}, bad
	}
	ds = strings.TrimSpace(ds)
	if ds != "" && (ds[0] >= 'a' && ds[0] <= 'z' || strings.HasPrefix(ds, "µ")) {
		ds = "1" + ds // "20/s" = 20 per 1s
	}
	d, err := time.ParseDuration(ds)
	if err != nil {
		return Rate{}, bad
	}
	if n < 1 {
		return Rate{}, invalid("count must be at least 1 (got %d)", n)
	}
	if d <= 0 {
		return Rate{}, invalid("duration must be positive (got %s)", ds)
	}
	return Rate{Count: n, Per: d}, nil
}

func appendUnique(list []string, v string) []string {
	for _, x := range list {
		if x == v {
			return list
		}
	}
	return append(list, v)
}

// redactURL hides the password (or a bare user token) in one URL.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "[unparsable URL]"
	}
	if u.User == nil {
		return s
	}
	if _, ok := u.User.Password(); !ok {
		u.User = url.User("xxxxx")
	}
	return u.Redacted()
}

// redactURLList applies redactURL to each of a comma-separated list.
func redactURLList(s string) string {
	if s == "" {
		return ""
	}
	parts := strings.Split(s, ",")
	for i, p := range parts {
		parts[i] = redactURL(p)
	}
	return strings.Join(parts, ",")
}

// parseDurationOrZero is parseDuration that also takes 0 (off), and at
// most one second, beyond which it would be a bug rather than a setting.
func parseDurationOrZero(v string) (time.Duration, error) {
	if v == "0" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, invalid("%q is not a duration (like 10ms, or 0 for off)", v)
	}
	if d < 0 || d > time.Second {
		return 0, invalid("must be between 0 and 1s (got %s)", v)
	}
	return d, nil
}

// minWebhookGiveUp is PROTOCOL §7's promise: a failing delivery is retried
// for at least an hour.
const minWebhookGiveUp = time.Hour

func parseGiveUp(v string) (time.Duration, error) {
	d, err := parseDuration(v)
	if err != nil {
		return 0, err
	}
	if d < minWebhookGiveUp {
		return 0, invalid("must be at least %s, since deliveries are retried for at least an hour (got %s)", minWebhookGiveUp, v)
	}
	return d, nil
}

// parsePortOrUnset reads a port 1..65535, or empty or 0 for "not set".
func parsePortOrUnset(v string) (uint16, error) {
	if v == "" {
		return 0, nil
	}
	n, err := parseInt(v, 0, 65535)
	return uint16(n), err
}

func parseBool(v string) (bool, error) {
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, invalid("must be true or false (got %q)", v)
	}
	return b, nil
}

// parseIPs reads a comma-separated list of IP addresses, normalized.
func parseIPs(v string) ([]string, error) {
	var out []string
	for part := range strings.SplitSeq(v, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		ip := net.ParseIP(part)
		if ip == nil {
			return nil, invalid("%q is not an IP address", part)
		}
		out = appendUnique(out, ip.String())
	}
	return out, nil
}

// parseICEURLs reads a comma-separated list of STUN or TURN URIs (RFC 7064,
// RFC 7065: scheme:host[:port][?transport=udp|tcp]) with one of schemes.
// The scheme is lower-cased; the rest is passed to browsers as it is.
func parseICEURLs(v string, schemes ...string) ([]string, error) {
	var out []string
	for part := range strings.SplitSeq(v, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		scheme, rest, ok := strings.Cut(part, ":")
		scheme = strings.ToLower(scheme)
		if !ok || !slices.Contains(schemes, scheme) {
			return nil, invalid("%q must start with %s:", part, strings.Join(schemes, ": or "))
		}
		if rest == "" || strings.HasPrefix(rest, "//") || strings.ContainsAny(rest, " @") {
			return nil, invalid("%q is not a %s URI (want %s:host[:port])", part, scheme, scheme)
		}
		out = appendUnique(out, scheme+":"+rest)
	}
	return out, nil
}

// parseAtLeast is parseDuration with a floor.
func parseAtLeast(v string, least time.Duration) (time.Duration, error) {
	d, err := parseDuration(v)
	if err != nil {
		return 0, err
	}
	if d < least {
		return 0, invalid("must be at least %s (got %s)", least, v)
	}
	return d, nil
}
