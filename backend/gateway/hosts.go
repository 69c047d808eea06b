package gateway

import (
	"net"
	"net/netip"
	"net/url"
	"os"
	"slices"
	"strings"
)

// hostPolicy is the Host-header allow-list that defeats DNS rebinding: a page
// on evil.example whose name re-resolves to 127.0.0.1 still sends
// "Host: evil.example", and is refused.
type hostPolicy struct {
	configured string // host of the listen address, lower case, "" if loopback or none
	anyIP      bool   // listening on 0.0.0.0/[::]: any IP literal is our own address
	// machine holds this machine's own names ("mac", "mac.local"), allowed
	// when listening on all interfaces so LAN clients may use them.
	machine []string
}

func newHostPolicy(addr string) hostPolicy {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	host = strings.ToLower(strings.Trim(host, "[]"))
	if ip, err := netip.ParseAddr(host); err == nil && ip.IsUnspecified() {
		p := hostPolicy{anyIP: true}
		if name, err := os.Hostname(); err == nil && name != "" {
			name = strings.ToLower(strings.TrimSuffix(name, ".local"))
			p.machine = []string{name, name + ".local"}
		}
		return p
	}
	return hostPolicy{configured: host}
}

// allowed reports whether a Host header names this server.
func (p hostPolicy) allowed(hostport string) bool {
	host := hostOnly(hostport)
	if host == "" {
		return false
	}
	if isLoopbackName(host) || (p.configured != "" && host == p.configured) || slices.Contains(p.machine, host) {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && (ip.IsLoopback() || p.anyIP)
}

// hostOnly strips the port and brackets and lower-cases a Host value.
func hostOnly(hostport string) string {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		host = hostport
	}
	host = strings.TrimSuffix(strings.ToLower(strings.Trim(host, "[]")), ".")
	if i := strings.IndexByte(host, '%'); i >= 0 { // IPv6 zone
		host = host[:i]
	}
	return host
}

func isLoopbackName(host string) bool {
	return host == "localhost" || strings.HasSuffix(host, ".localhost")
}

// isLoopbackHost reports whether a host[:port] names this machine.
func isLoopbackHost(hostport string) bool {
	host := hostOnly(hostport)
	if isLoopbackName(host) {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

type originKind int

const (
	originInvalid originKind = iota // "null", garbage
	originWeb                       // http(s): a web page
	originOther                     // another scheme: an app, an extension, an editor webview
)

func classifyOrigin(origin string) (originKind, string) {
	u, err := url.Parse(origin)
	if err != nil || u.Scheme == "" || origin == "null" {
		return originInvalid, ""
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "https":
		if u.Host == "" {
			return originInvalid, ""
		}
		return originWeb, u.Host
	case "file", "data", "blob", "javascript", "about":
		return originInvalid, ""
	}
	return originOther, ""
}

// ClientBaseURL is the URL a client on this machine uses for a server
// listening on addr: an unspecified host (all interfaces) becomes
// 127.0.0.1, which every client can reach.
func ClientBaseURL(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "http://" + addr
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port)
}
