// smtp-sink: a fast local SMTP server for the benchmarks, run as its own process.
//
// It accepts every message (github.com/emersion/go-smtp, which offers PIPELINING)
// and records one JSON line per message in -record: when it arrived, the envelope
// (sender, recipients), the Message-ID, the story the message links to
// (/stories/<uuid>, after undoing quoted-printable soft line breaks) and its size.
// The message itself is not kept: the fan-out benchmark checks exactly-once per
// recipient from these lines. It listens on loopback only and prints
// "listening on HOST:PORT" once it accepts connections; it stops on SIGTERM/SIGINT
// or when its standard input closes (its parent died).
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/mail"
	"os"
	"os/signal"
	"regexp"
	"sync"
	"syscall"
	"time"

	"github.com/emersion/go-smtp"
)

var storyLink = regexp.MustCompile(`/stories/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})`)

type record struct {
	ReceivedAt float64  `json:"received_at"`
	From       string   `json:"from"`
	To         []string `json:"to"`
	MessageID  string   `json:"message_id"`
	StoryID    string   `json:"story_id,omitempty"`
	Size       int      `json:"size"`
}

type recorder struct {
	mu  sync.Mutex
	out *bufio.Writer
}

// write appends one line and flushes it, so a reader sees each message as it lands.
func (r *recorder) write(rec *record) error {
	line, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, err := r.out.Write(append(line, '\n')); err != nil {
		return err
	}
	return r.out.Flush()
}

type session struct {
	rec  *recorder
	from string
	to   []string
}

func (s *session) Reset()        { s.from, s.to = "", nil }
func (s *session) Logout() error { return nil }

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	s.from, s.to = from, nil
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = append(s.to, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	rec := &record{
		ReceivedAt: float64(time.Now().UnixNano()) / 1e9,
		From:       s.from,
		To:         s.to,
		Size:       len(data),
	}
	if msg, err := mail.ReadMessage(bytes.NewReader(data)); err == nil {
		rec.MessageID = msg.Header.Get("Message-ID")
	}
	if m := storyLink.FindSubmatch(data); m != nil {
		rec.StoryID = string(m[1])
	} else if m := storyLink.FindSubmatch(bytes.ReplaceAll(data, []byte("=\r\n"), nil)); m != nil {
		rec.StoryID = string(m[1])
	}
	s.from, s.to = "", nil
	return s.rec.write(rec)
}

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "loopback address to listen on (port 0: any free port)")
	recordPath := flag.String("record", "", "file to append one JSON line per message to (required)")
	flag.Parse()
	if *recordPath == "" {
		log.Fatal("-record is required")
	}
	host, _, err := net.SplitHostPort(*listen)
	if err != nil {
		log.Fatal(err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		log.Fatalf("refusing to listen on %s: loopback only", host)
	}
	file, err := os.OpenFile(*recordPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		log.Fatal(err)
	}
	rec := &recorder{out: bufio.NewWriterSize(file, 64*1024)}

	server := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) {
		return &session{rec: rec}, nil
	}))
	server.Domain = "smtp-sink.localhost"
	server.ReadTimeout = 60 * time.Second
	server.WriteTimeout = 60 * time.Second
	server.MaxMessageBytes = 10 << 20
	server.MaxRecipients = 1000

	listener, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("listening on %s\n", listener.Addr())
	os.Stdout.Sync()

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin) // returns when the parent closes it or dies
		stop <- syscall.SIGTERM
	}()
	go func() {
		<-stop
		_ = server.Close()
	}()
	if err := server.Serve(listener); err != nil && err != smtp.ErrServerClosed {
		log.Fatal(err)
	}
	_ = file.Close()
}
