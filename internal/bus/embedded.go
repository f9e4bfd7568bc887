package bus

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/pawfect/hub/internal/chat"
)

// startEmbedded starts an in-process nats-server with no listener and waits
// until it accepts connections.
func startEmbedded(o Options, timeout time.Duration, log *slog.Logger) (*server.Server, error) {
	ns, err := server.NewServer(&server.Options{
		ServerName: o.Name,
		DontListen: true,
		NoSigs:     true,
	})
	if err != nil {
		return nil, fmt.Errorf("bus: start embedded nats: %w", err)
	}
	ns.SetLogger(serverLogger{log.With("component", "nats-server")}, false, false)
	ns.Start()
	if !ns.ReadyForConnections(timeout) {
		ns.Shutdown()
		ns.WaitForShutdown()
		return nil, fmt.Errorf("bus: start embedded nats: not ready after %s: %w", timeout, chat.ErrUnavailable)
	}
	return ns, nil
}

// serverLogger adapts slog to nats-server's Logger. The server's notices
// (start-up banners) are logged at debug so the hub's own logs stay short.
type serverLogger struct{ log *slog.Logger }

func (l serverLogger) Noticef(format string, v ...any) { l.log.Debug(fmt.Sprintf(format, v...)) }
func (l serverLogger) Warnf(format string, v ...any)   { l.log.Warn(fmt.Sprintf(format, v...)) }
func (l serverLogger) Fatalf(format string, v ...any)  { l.log.Error(fmt.Sprintf(format, v...)) }
func (l serverLogger) Errorf(format string, v ...any)  { l.log.Error(fmt.Sprintf(format, v...)) }
func (l serverLogger) Debugf(format string, v ...any)  { l.log.Debug(fmt.Sprintf(format, v...)) }
func (l serverLogger) Tracef(format string, v ...any)  { l.log.Debug(fmt.Sprintf(format, v...)) }
