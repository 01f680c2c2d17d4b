package wsman

import (
	"io"
	"sync"
)

// stdinPipe is a command's standard input: Send appends, the handler reads. Read blocks until
// data arrives, the client sends its last chunk (End="true"), or the command is stopped.
type stdinPipe struct {
	mu     sync.Mutex
	cond   *sync.Cond
	buf    []byte
	closed bool
}

func newStdinPipe() *stdinPipe {
	p := &stdinPipe{}
	p.cond = sync.NewCond(&p.mu)
	return p
}

// write appends data; end marks the client's last chunk. Data after the end is dropped, as
// a process whose stdin is closed never sees it.
func (p *stdinPipe) write(data []byte, end bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.closed {
		p.buf = append(p.buf, data...)
	}
	if end {
		p.closed = true
	}
	p.cond.Broadcast()
}

// close ends the input: pending data is still read, then io.EOF.
func (p *stdinPipe) close() { p.write(nil, true) }

func (p *stdinPipe) Read(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for len(p.buf) == 0 && !p.closed {
		p.cond.Wait()
	}
	if len(p.buf) == 0 {
		return 0, io.EOF
	}
	n := copy(b, p.buf)
	p.buf = p.buf[n:]
	return n, nil
}
