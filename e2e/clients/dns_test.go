package clients

import (
	"bufio"
	"net"
	"os"
	"strings"
	"sync"
	"time"
)

// Inside the suite's network namespace the machine's resolvers are
// addresses on loopback, answered by dnsStub: every lookup fails at once
// (NXDOMAIN), and the stub notes the name, so that a case the guard fails
// for a DNS lookup can say which names were looked up meanwhile.

// resolvers are the name servers of /etc/resolv.conf.
func resolvers() []string {
	f, err := os.Open("/etc/resolv.conf")
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "nameserver" && net.ParseIP(fields[1]) != nil {
			out = append(out, fields[1])
		}
	}
	return out
}

// lookup is one name a client asked for.
type lookup struct {
	time time.Time
	name string
}

// dnsStub answers every query on its addresses with NXDOMAIN and keeps the
// names; safe for concurrent use.
type dnsStub struct {
	conns []net.PacketConn

	mu      sync.Mutex
	lookups []lookup // guarded by mu
}

func startDNSStub(addrs []string) (*dnsStub, error) {
	d := &dnsStub{}
	for _, a := range addrs {
		pc, err := net.ListenPacket("udp", net.JoinHostPort(a, "53"))
		if err != nil {
			d.close()
			return nil, err
		}
		d.conns = append(d.conns, pc)
		go d.serve(pc)
	}
	return d, nil
}

func (d *dnsStub) serve(pc net.PacketConn) {
	buf := make([]byte, 1500)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			return
		}
		name, end := questionName(buf[:n])
		if end == 0 {
			continue
		}
		d.mu.Lock()
		d.lookups = append(d.lookups, lookup{time.Now(), name})
		d.mu.Unlock()
		// The header with QR, RD, RA and NXDOMAIN set, then the question.
		resp := append([]byte{buf[0], buf[1], 0x81, 0x83, 0, 1, 0, 0, 0, 0, 0, 0}, buf[12:end]...)
		pc.WriteTo(resp, from)
	}
}

// questionName reads the first question's name, and where the question
// (with its type and class) ends; 0 when the packet is not a query.
func questionName(p []byte) (string, int) {
	if len(p) < 12 || p[2]&0x80 != 0 {
		return "", 0
	}
	var labels []string
	i := 12
	for i < len(p) && p[i] != 0 {
		l := int(p[i])
		if l > 63 || i+1+l > len(p) {
			return "", 0
		}
		labels = append(labels, string(p[i+1:i+1+l]))
		i += 1 + l
	}
	if i+5 > len(p) {
		return "", 0
	}
	return strings.Join(labels, "."), i + 5
}

// between returns the names looked up in [from, to], once each.
func (d *dnsStub) between(from, to time.Time) []string {
	if d == nil {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	seen := map[string]bool{}
	var out []string
	for _, l := range d.lookups {
		if !l.time.Before(from) && !l.time.After(to) && !seen[l.name] {
			seen[l.name] = true
			out = append(out, l.name)
		}
	}
	return out
}

func (d *dnsStub) close() {
	for _, c := range d.conns {
		c.Close()
	}
}
