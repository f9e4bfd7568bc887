package signaling

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"net"
	"net/http"
)

// The hub writes event frames itself, straight to the socket, rather than
// through the WebSocket library: the library takes locks, resets a message
// writer and makes a system call for every frame, which at fan-out rates
// is most of the hub's CPU. A server's data frame is just a header and the
// unmasked payload (RFC 6455 §5.2), so a connection's writer builds every
// queued frame into one buffer and writes it with one call. The library
// still does everything else (reading, ping/pong, the close handshake);
// its writes are whole control frames, and net.Conn writes never
// interleave, so the two share the socket safely.

// maxBatchBytes bounds one write of queued frames.
const maxBatchBytes = 64 << 10

// appendTextFrame appends one final, unmasked text frame holding payload.
func appendTextFrame(buf, payload []byte) []byte {
	const finText = 0x80 | 0x1
	n := len(payload)
	switch {
	case n < 126:
		buf = append(buf, finText, byte(n))
	case n <= 0xFFFF:
		buf = append(buf, finText, 126)
		buf = binary.BigEndian.AppendUint16(buf, uint16(n))
	default:
		buf = append(buf, finText, 127)
		buf = binary.BigEndian.AppendUint64(buf, uint64(n))
	}
	return append(buf, payload...)
}

// controlBufferSize is the library's write buffer: it only writes control
// frames (at most 131 bytes each), so a small buffer always holds a whole
// one, which keeps each of its writes to the socket a complete frame.
const controlBufferSize = 256

// hijackWriter keeps the raw connection when the WebSocket library
// hijacks the request.
type hijackWriter struct {
	http.ResponseWriter
	raw net.Conn
}

// Hijack implements http.Hijacker.
func (w *hijackWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	nc, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	// The 101 response is already out; brw.Writer is a fresh 4 KiB
	// buffer over the raw connection, replaced by a small one.
	if err := brw.Writer.Flush(); err != nil {
		_ = nc.Close()
		return nil, nil, err
	}
	w.raw = nc
	// Likewise the 4 KiB read buffer: client frames are small commands, so
	// a 1 KiB one does, and bigger frames are read around it. Bytes the
	// client sent right behind its handshake are handed over first.
	var rd net.Conn = nc
	if n := brw.Reader.Buffered(); n > 0 {
		early, _ := brw.Reader.Peek(n)
		rd = &prefixConn{Conn: nc, prefix: bytes.Clone(early)}
	}
	return rd, bufio.NewReadWriter(bufio.NewReaderSize(rd, readBufferSize), bufio.NewWriterSize(nc, controlBufferSize)), nil
}

// readBufferSize is the library's read buffer on the hub's connections.
const readBufferSize = 1024

// prefixConn is a net.Conn that reads prefix before the connection.
type prefixConn struct {
	net.Conn
	prefix []byte
}

func (c *prefixConn) Read(p []byte) (int, error) {
	if len(c.prefix) > 0 {
		n := copy(p, c.prefix)
		c.prefix = c.prefix[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}
